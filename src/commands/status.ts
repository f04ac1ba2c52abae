// status: what is applied, pending, changed, unknown or still marked running.

import type { ArgsDef } from "citty";
import { brand } from "../brand.ts";
import { NoDatabaseError } from "../core/config.ts";
import { ExitCode } from "../core/errors.ts";
import { shownPath } from "../core/files.ts";
import { plural } from "../core/format.ts";
import { offlineStatus, status, type FileState, type OfflineStatusOutcome, type StatusOutcome } from "../ops/status.ts";
import type { Context } from "../cli/context.ts";
import type { Args } from "../cli/flags.ts";
import { table } from "../cli/output.ts";

export const args = {
  "exit-code": { type: "boolean", description: `Exit 3 when migrations are pending (or an empty database awaits its install), 4 when one changed or the database is not managed by ${brand.display}, 6 when the database is newer` },
} as const satisfies ArgsDef;

export const usage = `Examples:
  ${brand.binary} status
  ${brand.binary} status --json
  ${brand.binary} status --exit-code || echo "migrations pending"`;

export async function run(ctx: Context, a: Args): Promise<number> {
  // --exit-code gates on the database: without one it stays a usage error, never a silent 0.
  if (!a["exit-code"] && !databaseConfigured(ctx)) {
    const o = await offlineStatus(ctx);
    ctx.result(o, () => renderOffline(o));
    return ExitCode.ok;
  }
  const o = await status(ctx);
  ctx.result(o, () => render(o));
  if (!a["exit-code"]) return ExitCode.ok;
  // Not managed and not empty: nothing is pending, 'up' would refuse it; it must be adopted (baseline).
  if (!hasRows(o) && !o.empty) return ExitCode.drift;
  if (o.counts.unknown) return ExitCode.newerDatabase;
  if (o.counts.changed) return ExitCode.drift;
  if (o.counts.pending || o.counts.running) return ExitCode.pending;
  return ExitCode.ok;
}

/** Whether the tracking table has any row (a database without one is installed or adopted by nothing). */
const hasRows = (r: StatusOutcome) => r.counts.applied + r.counts.changed + r.counts.running + r.counts.unknown > 0;

function render(r: StatusOutcome): string {
  const { database: where, running, lastRun: last } = r;
  const out: string[] = [];
  const state = !r.managed ? (r.empty ? "empty, not installed" : `not managed by ${brand.display}`) : r.version ? `at ${r.version}` : "installed, no migrations applied";
  out.push(`Database: ${where} (${state})`);
  out.push(`Binary:   head ${r.head ?? "(no migrations)"}, migrations from ${r.source === "embedded" ? "the binary" : r.source}`);
  const c = r.counts;
  out.push(`Summary:  ${c.applied} applied, ${c.pending} pending${c.changed ? `, ${c.changed} CHANGED` : ""}${c.unknown ? `, ${c.unknown} UNKNOWN` : ""}${c.running ? `, ${c.running} RUNNING` : ""}`);
  if (last) {
    out.push(`Last run: ${last.command} ${last.result} at ${last.startedAt}${last.user ? ` by ${last.user}@${last.host}` : ""}${last.error ? ` (${last.error.split("\n")[0]})` : ""}`);
  }
  out.push("");
  const rows = [["VERSION", "NAME", "STATUS", "APPLIED"]];
  for (const e of r.migrations) {
    const when = e.appliedAt ? `${e.appliedAt.slice(0, 19).replace("T", " ")}${e.via && e.via !== "migration" ? ` (${e.via})` : ""}` : "";
    rows.push([e.version, e.name, e.status, when]);
  }
  out.push(table(rows));
  if (r.ignored.length) out.push("", ...r.ignored.map((f) => `ignored: ${f.file} (${f.reason})`));
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

function renderOffline(o: OfflineStatusOutcome): string {
  const { head, migrations, snapshot, model } = o;
  const where = o.source === "embedded" ? "the binary" : shownPath(o.source);
  const embedded = o.source === "embedded";
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
    ...(o.ignored.length ? ["", ...o.ignored.map((f) => `ignored: ${f.file} (${f.reason})`)] : []),
    ...(stale && !embedded ? ["", `Run '${brand.binary} dump' (with a database server) to regenerate them, and commit the result.`] : []),
  ].join("\n");
}
