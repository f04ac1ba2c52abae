// Pure decisions: what state each migration is in, and which steps bring a
// database from where it is to where it should be. No I/O here; the runner
// executes what these functions return.

import { brand } from "../brand.ts";
import type { AdoptTool } from "./adopt-map.ts";
import { ExitCode, PgshipError } from "./errors.ts";
import type { Migration } from "./migration-file.ts";
import type { MigrationIndex, MigrationSet, Snapshot } from "./migration-set.ts";

export type AppliedVia = "migration" | "snapshot" | "baseline";

export interface AppliedRow {
  version: string;
  name: string;
  checksum: string;
  state: "running" | "applied";
  via: AppliedVia;
  startedAt: string | null;
  appliedAt: string | null;
  durationMs: number | null;
}

export interface DatabaseState {
  /** The tracking schema exists. */
  managed: boolean;
  applied: AppliedRow[];
  /** No objects outside system schemas and the tracking schema. */
  empty: boolean;
  /** Another tool's record of the version, when the database is not managed. */
  foreign: { tool: AdoptTool; version: string } | null;
}

export type MigrationStatus = "applied" | "pending" | "changed" | "running" | "unknown";

export interface StatusEntry {
  version: string;
  name: string;
  status: MigrationStatus;
  via?: AppliedVia;
  appliedAt?: string | null;
  durationMs?: number | null;
  file?: string;
  expectedChecksum?: string;
  actualChecksum?: string;
}

export interface StatusReport {
  managed: boolean;
  empty: boolean;
  /** Newest applied version, or null. */
  version: string | null;
  head: string | null;
  entries: StatusEntry[];
  counts: Record<MigrationStatus, number>;
}

export function computeStatus(set: MigrationIndex, db: DatabaseState): StatusReport {
  const rows = new Map(db.applied.map((r) => [r.version, r]));
  const entries: StatusEntry[] = [];
  for (const m of set.migrations) {
    const row = rows.get(m.version);
    if (!row) {
      entries.push({ version: m.version, name: m.name, status: "pending", file: m.file });
      continue;
    }
    rows.delete(m.version);
    const status: MigrationStatus =
      row.state === "running" ? "running" : row.checksum !== m.checksum ? "changed" : "applied";
    entries.push({
      version: m.version,
      name: m.name,
      status,
      via: row.via,
      appliedAt: row.appliedAt,
      durationMs: row.durationMs,
      file: m.file,
      // A running (interrupted) migration whose file changed since it started shows both checksums too.
      ...(row.checksum !== m.checksum ? { expectedChecksum: row.checksum, actualChecksum: m.checksum } : {}),
    });
  }
  for (const row of rows.values()) {
    entries.push({ version: row.version, name: row.name, status: "unknown", via: row.via, appliedAt: row.appliedAt });
  }
  entries.sort((a, b) => (a.version < b.version ? -1 : a.version > b.version ? 1 : 0));
  const counts = { applied: 0, pending: 0, changed: 0, running: 0, unknown: 0 };
  for (const e of entries) counts[e.status]++;
  const done = db.applied.filter((r) => r.state === "applied").map((r) => r.version).sort();
  return {
    managed: db.managed,
    empty: db.empty,
    version: done.at(-1) ?? null,
    head: set.migrations.at(-1)?.version ?? null,
    entries,
    counts,
  };
}

export type Step =
  | { kind: "snapshot"; snapshot: Snapshot; stamps: Migration[] }
  | {
      kind: "up";
      migration: Migration;
      resume: boolean;
      /** Resuming with a file changed since the interrupted run: the checksum that run started with (--accept-changed). */
      acceptedChange?: string;
    }
  | { kind: "down"; migration: Migration };

export interface Plan {
  action: "install" | "update" | "down" | "none";
  steps: Step[];
  /** For install: how many leading steps commit together in one transaction. */
  atomicPrefix: number;
  from: string | null;
  to: string | null;
}

/** Stops the run when the database and the files disagree about history. */
export function assertConsistent(set: MigrationSet, report: StatusReport): void {
  const unknown = report.entries.filter((e) => e.status === "unknown");
  if (unknown.length > 0) {
    throw new PgshipError(
      "database_newer",
      `database is newer than this binary: it has ${unknown.length === 1 ? "migration" : "migrations"} ${unknown.map((e) => `${e.version}_${e.name}`).join(", ")} that this binary does not know`,
      { exitCode: ExitCode.newerDatabase, hint: "use the release of the app that migrated this database (or a newer one); nothing was changed" },
    );
  }
  const changed = report.entries.filter((e) => e.status === "changed");
  if (changed.length > 0) {
    const list = changed.map((e) => `  ${e.file}: applied checksum ${e.expectedChecksum!.slice(0, 12)}…, file now ${e.actualChecksum!.slice(0, 12)}…`);
    throw new PgshipError(
      "checksum_changed",
      `applied ${changed.length === 1 ? "migration was" : "migrations were"} changed after being applied (has the file been edited?):\n${list.join("\n")}`,
      { exitCode: ExitCode.drift, hint: `restore the original file and put the change in a new migration ('${brand.binary} new NAME'); nothing was changed` },
    );
  }
  void set;
}

export function findMigration(set: MigrationSet, version: string): Migration {
  const m = set.migrations.find((x) => x.version === version);
  if (!m) {
    throw new PgshipError("unknown_version", `no migration has version ${version}`, {
      exitCode: ExitCode.usage,
      hint: `run '${brand.binary} status' to list the versions this binary knows`,
    });
  }
  return m;
}

export interface UpOptions {
  to?: string;
  /** Install only: refuse a non-empty database. Update only: refuse an unmanaged one. */
  mode: "up" | "install" | "update";
  /** Versions of interrupted transaction:false migrations that may resume with their edited text. */
  acceptChanged?: string[];
  /** The command that accepts a change, for the message: `<binary> up --accept-changed V`. */
  acceptCommand?: (version: string) => string;
}

export function planUp(set: MigrationSet, db: DatabaseState, opts: UpOptions): Plan {
  const target = opts.to ? findMigration(set, opts.to).version : set.migrations.at(-1)?.version ?? null;
  const wanted = set.migrations.filter((m) => target !== null && m.version <= target);
  const fresh = !db.managed || db.applied.length === 0;
  if (fresh && opts.mode === "update") throw notManaged(db, "update");
  if (fresh && !db.empty) throw notEmpty(db, opts.mode);
  if (!fresh && opts.mode === "install") {
    throw new PgshipError("already_installed", "the database is already installed (it has applied migrations)", {
      hint: `use '${brand.binary} update' or '${brand.binary} up' to apply pending migrations`,
    });
  }

  if (fresh) return planInstall(set, wanted, target);

  const report = computeStatus(set, db);
  assertConsistent(set, report);
  const applied = new Map(db.applied.map((r) => [r.version, r]));
  const accepted = new Set((opts.acceptChanged ?? []).map((v) => findMigration(set, v).version));
  const steps: Step[] = [];
  for (const m of wanted) {
    const row = applied.get(m.version);
    if (!row) steps.push({ kind: "up", migration: m, resume: false });
    else if (row.state === "running" && row.checksum === m.checksum) steps.push({ kind: "up", migration: m, resume: true });
    else if (row.state === "running") {
      if (!accepted.has(m.version)) throw changedSinceInterrupted(m, row.checksum, opts.acceptCommand?.(m.version) ?? `${brand.binary} up --accept-changed ${m.version}`);
      steps.push({ kind: "up", migration: m, resume: true, acceptedChange: row.checksum });
    }
  }
  return { action: steps.length ? "update" : "none", steps, atomicPrefix: 0, from: report.version, to: target };
}

/** An interrupted transaction:false migration whose file was edited before resuming it. */
function changedSinceInterrupted(m: Migration, started: string, command: string): PgshipError {
  return new PgshipError(
    "changed_since_interrupted",
    `migration ${m.version}_${m.name} was interrupted, and its file has changed since that run started: ` +
      `it started with checksum ${started}, the file now has ${m.checksum}. ` +
      `What the old text already did stays in the database; resuming runs the new text from its first statement.`,
    {
      exitCode: ExitCode.drift,
      hint: `restore the file as it was, or, if the new text is safe to run over what the old one left, accept it (recorded in the history):\n  ${command}`,
    },
  );
}

function planInstall(set: MigrationSet, wanted: Migration[], target: string | null): Plan {
  const steps: Step[] = [];
  const snap = set.snapshot;
  let rest = wanted;
  if (snap && target !== null && snap.version <= target) {
    const stamps = wanted.filter((m) => m.version <= snap.version);
    steps.push({ kind: "snapshot", snapshot: snap, stamps });
    rest = wanted.filter((m) => m.version > snap.version);
  }
  for (const m of rest) steps.push({ kind: "up", migration: m, resume: false });
  // Everything up to the first transaction:false migration commits as one unit.
  let atomicPrefix = steps.findIndex((s) => s.kind === "up" && !s.migration.up.options.transaction);
  if (atomicPrefix < 0) atomicPrefix = steps.length;
  return { action: steps.length ? "install" : "none", steps, atomicPrefix, from: null, to: target };
}

export interface DownOptions {
  steps?: number;
  to?: string;
}

export function planDown(set: MigrationSet, db: DatabaseState, opts: DownOptions): Plan {
  if (!db.managed) throw notManaged(db, "down");
  const report = computeStatus(set, db);
  assertConsistent(set, report);
  const running = report.entries.find((e) => e.status === "running");
  if (running) {
    throw new PgshipError("migration_running", `migration ${running.version}_${running.name} did not finish`, {
      hint: `run '${brand.binary} up' to finish it before rolling back`,
    });
  }
  const applied = report.entries.filter((e) => e.status === "applied").map((e) => e.version).sort().reverse();
  let versions: string[];
  if (opts.to !== undefined) {
    const to = opts.to === "0" ? "0" : findMigration(set, opts.to).version;
    versions = applied.filter((v) => v > to);
  } else {
    const n = opts.steps ?? 1;
    versions = applied.slice(0, n);
  }
  const migrations = versions.map((v) => findMigration(set, v));
  const irreversible = migrations.filter((m) => m.down === null);
  if (irreversible.length > 0) {
    throw new PgshipError(
      "irreversible",
      `cannot roll back: ${irreversible.map((m) => m.file).join(", ")} ${irreversible.length === 1 ? "has" : "have"} no '-- migrate:down' section`,
      { hint: "restore a backup instead, or write the reverse as a new migration; nothing was changed" },
    );
  }
  const remaining = applied.filter((v) => !versions.includes(v));
  return {
    action: migrations.length ? "down" : "none",
    steps: migrations.map((migration) => ({ kind: "down", migration })),
    atomicPrefix: 0,
    from: report.version,
    to: remaining[0] ?? null,
  };
}

function notEmpty(db: DatabaseState, mode: string): PgshipError {
  if (db.foreign) {
    const { tool, version } = db.foreign;
    return new PgshipError(
      "not_empty",
      `the database is not empty and ${brand.display} does not manage it, so '${mode}' will not touch it. It was migrated by ${tool}, which recorded ${tool === "alembic" ? "revision" : "version"} ${version}.`,
      { hint: `adopt it: '${brand.binary} up --adopt' checks the schema against that version, records ${tool}'s history and applies what is pending; '${brand.binary} baseline --from ${tool}' only records it` },
    );
  }
  return new PgshipError(
    "not_empty",
    `the database is not empty and ${brand.display} does not manage it, so '${mode}' will not touch it.`,
    { hint: `if its schema is already at a known version V, adopt it with '${brand.binary} baseline V'; otherwise point --database-url at an empty database` },
  );
}

function notManaged(db: DatabaseState, mode: string): PgshipError {
  if (db.empty) {
    return new PgshipError("not_installed", `the database is empty, so there is nothing to ${mode}`, {
      hint: `run '${brand.binary} install' (or '${brand.binary} up') for a fresh install`,
    });
  }
  return notEmpty(db, mode);
}
