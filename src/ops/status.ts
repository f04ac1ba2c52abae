// status: what is applied, pending, changed, unknown or still marked running; or,
// with no database, what the binary holds and whether its snapshot and model are
// current. The outcome is the --json document; the command renders it.

import { brand } from "../brand.ts";
import { describeTarget } from "../core/config.ts";
import { isPgshipError } from "../core/errors.ts";
import { shownPath } from "../core/files.ts";
import { concurrentIndexNames } from "../core/migration-file.ts";
import { computeStatus, type DatabaseState, type StatusEntry, type StatusReport } from "../core/plan.ts";
import { parseSnapshotHeader } from "../core/snapshot.ts";
import { describeHolder, lockHolder, type LockHolder } from "../db/lock.ts";
import { checkedOnFailure } from "../db/privileges.ts";
import { readStateAndLastRun, type LastRun } from "../db/tracking.ts";
import { modelPathFor, readSnapshotFile, type LoadedIndex } from "../source.ts";
import type { OpContext } from "./context.ts";

export interface StatusOutcome {
  database: string;
  managed: boolean;
  empty: boolean;
  version: string | null;
  head: string | null;
  source: string;
  counts: StatusReport["counts"];
  migrations: StatusEntry[];
  running: (StatusEntry & { recovery: string })[];
  ignored: LoadedIndex["ignored"];
  lockHolder: LockHolder | null;
  lastRun: LastRun | null;
}

export async function status(ctx: OpContext): Promise<StatusOutcome> {
  const set = await ctx.migrationIndex();
  const db = await ctx.connect("status");
  let state: DatabaseState, last: LastRun | null, holder: LockHolder | null;
  let closing: Promise<void>;
  try {
    // Pipelined on the one connection: a cold status is mostly round trips. When reading fails,
    // the privilege query tells a role that cannot read the tracking tables which GRANT it lacks.
    [{ state, last }, holder] = await checkedOnFailure(db.sql, ctx.schema, ["read"], () => Promise.all([readStateAndLastRun(db.sql, ctx.schema), lockHolder(db.sql, ctx.schema)]));
  } finally {
    // Not awaited yet: the session ends while the report is built.
    closing = db.close().catch(() => undefined);
  }
  const report = computeStatus(set, state);
  if (!state.managed && !state.empty && state.foreign) {
    ctx.emit({ type: "warn", message: `this database is managed by ${state.foreign.tool} (version ${state.foreign.version}); adopt it with '${ctx.binary} up --adopt' (or '${ctx.binary} baseline --from ${state.foreign.tool}' to only record it)` });
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
  await closing;
  return {
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
  };
}

/** schema.sql or schema.model.json: the version it is at, and whether that is the newest migration. */
export interface FileState {
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

export interface OfflineStatusOutcome {
  offline: true;
  database: null;
  head: string | null;
  source: string;
  migrations: { version: string; name: string; file: string; checksum: string }[];
  snapshot: FileState;
  model: FileState;
  ignored: LoadedIndex["ignored"];
}

/** No database configured: what this binary (or --migrations-dir) holds, and whether its snapshot and model are current. */
export async function offlineStatus(ctx: OpContext): Promise<OfflineStatusOutcome> {
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
  return { offline: true, database: null, head, source: set.origin, migrations, snapshot, model, ignored: set.ignored };
}
