// status: what is applied, pending, changed, unknown or still marked running.

import { plural } from "../core/format.ts";
import type { ArgsDef } from "citty";
import { brand } from "../brand.ts";
import { describeTarget, NoDatabaseError } from "../core/config.ts";
import { isPgshipError } from "../core/errors.ts";
import { shownPath } from "../core/files.ts";
import { parseSnapshotHeader } from "../core/snapshot.ts";
import { modelPathFor, readSnapshotFile } from "../source.ts";
import { ExitCode } from "../core/errors.ts";
import { computeStatus, type StatusReport } from "../core/plan.ts";
import { concurrentIndexNames } from "../db/apply.ts";
import { describeHolder, lockHolder, type LockHolder } from "../db/lock.ts";
import { lastRun, readState, type LastRun } from "../db/tracking.ts";
import { checked } from "../db/privileges.ts";
import type { Context } from "../cli/context.ts";
import type { Args } from "../cli/flags.ts";
import { table } from "../cli/output.ts";
import type { LoadedIndex } from "../source.ts";

export const args = {
  "exit-code": { type: "boolean", description: `Exit 3 when migrations are pending (or an empty database awaits its install), 4 when one changed or the database is not managed by ${brand.display}, 6 when the database is newer` },
} as const satisfies ArgsDef;

export const usage = `Examples:
  ${brand.binary} status
  ${brand.binary} status --json
  ${brand.binary} status --exit-code || echo "migrations pending"`;

export async function run(ctx: Context, a: Args): Promise<number> {
  // --exit-code gates on the database: without one it stays a usage error, never a silent 0.
  if (!a["exit-code"] && !databaseConfigured(ctx)) return offline(ctx);
  const set = await ctx.migrationIndex();
  const db = await ctx.connect("status");
  let report: StatusReport, last: LastRun | null, holder: LockHolder | null;
  try {
    // Pipelined on the one connection: a cold status is mostly round trips. The privilege
    // query rides along, so a role that cannot read the tracking tables is told which GRANT it lacks.
    const { value: [state, h] } = await checked(db.sql, ctx.schema, ["read"], () => Promise.all([readState(db.sql, ctx.schema), lockHolder(db.sql, ctx.schema)]));
    holder = h;
    report = computeStatus(set, state);
    last = state.managed ? await lastRun(db.sql, ctx.schema) : null;
    if (!state.managed && !state.empty && state.foreign) {
      ctx.log.warn(`this database is managed by ${state.foreign.tool} (version ${state.foreign.version}); adopt it with '${ctx.binary} up --adopt' (or '${ctx.binary} baseline --from ${state.foreign.tool}' to only record it)`);
    }
  } finally {
    await db.close();
  }
  const where = describeTarget(db.target);
  // Only a migration marked running needs its SQL (the indexes it builds concurrently).
  const runningEntries = report.entries.filter((e) => e.status === "running");
  const full = runningEntries.length ? await ctx.migrations() : null;
  const running = runningEntries.map((e) => {
    const m = full?.migrations.find((x) => x.version === e.version);
    const indexes = m ? concurrentIndexNames(m.up.sql) : [];
    const recovery = holder
      ? `in progress: ${describeHolder(holder)}`
      : e.expectedChecksum
        ? `interrupted, and its file changed since that run started (checksum ${e.expectedChecksum.slice(0, 12)}…, file now ${e.actualChecksum!.slice(0, 12)}…): restore the file and run '${brand.binary} up', or accept the new text with '${brand.binary} up --accept-changed ${e.version}'`
        : `interrupted: run '${brand.binary} up' to resume it${indexes.length ? ` (INVALID indexes ${indexes.join(", ")} are dropped and rebuilt)` : ""}`;
    return { ...e, recovery };
  });
  ctx.result(
    {
      database: where,
      managed: report.managed,
      empty: report.empty,
      version: report.version,
      head: report.head,
      source: set.origin,
      counts: report.counts,
      migrations: report.entries,
      running,
      ignored: set.ignored,
      lockHolder: holder,
      lastRun: last,
    },
    () => render(report, where, set, running, last),
  );
  if (!a["exit-code"]) return ExitCode.ok;
  // Not managed and not empty: nothing is pending, 'up' would refuse it; it must be adopted (baseline).
  if (!hasRows(report) && !report.empty) return ExitCode.drift;
  if (report.counts.unknown) return ExitCode.newerDatabase;
  if (report.counts.changed) return ExitCode.drift;
  if (report.counts.pending || report.counts.running) return ExitCode.pending;
  return ExitCode.ok;
}

/** Whether the tracking table has any row (a database without one is installed or adopted by nothing). */
const hasRows = (r: StatusReport) => r.counts.applied + r.counts.changed + r.counts.running + r.counts.unknown > 0;

function render(r: StatusReport, where: string, set: LoadedIndex, running: { version: string; name: string; recovery: string }[], last: LastRun | null): string {
  const out: string[] = [];
  const state = !r.managed ? (r.empty ? "empty, not installed" : `not managed by ${brand.display}`) : r.version ? `at ${r.version}` : "installed, no migrations applied";
  out.push(`Database: ${where} (${state})`);
  out.push(`Binary:   head ${r.head ?? "(no migrations)"}, migrations from ${set.origin === "embedded" ? "the binary" : set.origin}`);
  const c = r.counts;
  out.push(`Summary:  ${c.applied} applied, ${c.pending} pending${c.changed ? `, ${c.changed} CHANGED` : ""}${c.unknown ? `, ${c.unknown} UNKNOWN` : ""}${c.running ? `, ${c.running} RUNNING` : ""}`);
  if (last) {
    out.push(`Last run: ${last.command} ${last.result} at ${last.startedAt}${last.user ? ` by ${last.user}@${last.host}` : ""}${last.error ? ` (${last.error.split("\n")[0]})` : ""}`);
  }
  out.push("");
  const rows = [["VERSION", "NAME", "STATUS", "APPLIED"]];
  for (const e of r.entries) {
    const when = e.appliedAt ? `${e.appliedAt.slice(0, 19).replace("T", " ")}${e.via && e.via !== "migration" ? ` (${e.via})` : ""}` : "";
    rows.push([e.version, e.name, e.status, when]);
  }
  out.push(table(rows));
  if (set.ignored.length) out.push("", ...set.ignored.map((f) => `ignored: ${f.file} (${f.reason})`));
  for (const e of running) out.push("", `${e.version}_${e.name} is marked running: ${e.recovery}`);
  if (c.changed) out.push("", "A changed migration stops 'up' (exit 4): restore the original file and put the change in a new migration.");
  if (c.unknown) out.push("", "The database has migrations this binary does not know: it is newer than this binary (exit 6 from 'up').");
  if (c.pending && r.managed) out.push("", `Run '${brand.binary} up' to apply ${plural(c.pending, "pending migration")}.`);
  if (!r.managed && r.empty) out.push("", `Run '${brand.binary} up' to install.`);
  if (!hasRows(r) && !r.empty) out.push("", `This database has objects but is not managed by ${brand.display}: adopt it with '${brand.binary} baseline VERSION' (status --exit-code: 4).`);
  return out.join("\n");
}

function databaseConfigured(ctx: Context): boolean {
  try {
    ctx.target();
    return true;
  } catch (e) {
    if (e instanceof NoDatabaseError) return false;
    throw e;
  }
}

/** schema.sql or schema.model.json: the version it is at, and whether that is the newest migration. */
interface FileState {
  file: string;
  version: string | null;
  current: boolean;
  /** Why it is not current, when it is missing or unreadable. */
  problem: string | null;
}

const fileState = (file: string, version: string | null, head: string | null, problem: string | null = null): FileState => ({
  file,
  version,
  current: version !== null && version === head,
  problem: problem ?? (version === null ? "missing" : version === head ? null : `at ${version}, not the newest migration ${head ?? "(none)"}`),
});

/** No database configured: what this binary (or --migrations-dir) holds, and whether its snapshot and model are current. */
async function offline(ctx: Context): Promise<number> {
  // The snapshot is read here, not validated against the migrations: a stale one is what this reports.
  const set = await ctx.migrationIndex({ withoutSnapshot: true });
  const head = set.migrations.at(-1)?.version ?? null;
  let snapshot: FileState;
  if (set.schemaPath === null) snapshot = fileState("schema.sql (embedded)", set.snapshot?.version ?? null, head);
  else {
    const shown = shownPath(set.schemaPath);
    const text = readSnapshotFile(set.schemaPath, shown);
    const header = text ? parseSnapshotHeader(text.text) : null;
    snapshot = header && "error" in header ? fileState(shown, null, head, header.error) : fileState(shown, header?.version ?? null, head);
  }
  const modelFile = set.schemaPath === null ? "schema.model.json (embedded)" : shownPath(modelPathFor(set.schemaPath));
  let model: FileState;
  try {
    const models = await set.models();
    model = fileState(modelFile, models?.head ?? null, head);
  } catch (e) {
    model = fileState(modelFile, null, head, isPgshipError(e) ? e.message : String(e));
  }
  const migrations = set.migrations.map((m) => ({ version: m.version, name: m.name, file: set.schemaPath === null ? m.file : shownPath(set.pathOf(m.file)), checksum: m.checksum }));
  const where = set.origin === "embedded" ? "the binary" : shownPath(set.origin);
  ctx.result({ offline: true, database: null, head, source: set.origin, migrations, snapshot, model, ignored: set.ignored }, () => {
    const rows = [["VERSION", "NAME", "CHECKSUM"], ...migrations.map((m) => [m.version, m.name, m.checksum.slice(0, 12)])];
    const line = (f: FileState) => `${f.file}${f.version ? ` at ${f.version}` : ""}: ${f.current ? "current" : `NOT CURRENT (${f.problem})`}`;
    const stale = !snapshot.current || !model.current;
    return [
      `Database: none configured (pass --database-url, or set DATABASE_URL, to see what is applied)`,
      `Binary:   head ${head ?? "(no migrations)"}, ${plural(migrations.length, "migration")} from ${where}`,
      `Snapshot: ${line(snapshot)}`,
      `Model:    ${line(model)}`,
      "",
      table(rows),
      ...(set.ignored.length ? ["", ...set.ignored.map((f) => `ignored: ${f.file} (${f.reason})`)] : []),
      ...(stale && set.schemaPath !== null ? ["", `Run '${brand.binary} dump' (with a database server) to regenerate them, and commit the result.`] : []),
    ].join("\n");
  });
  return ExitCode.ok;
}
