// Database side of verify: read the live schema, pick the expected one, diff;
// and apply a repair plan in one transaction after its prechecks.

import { brand } from "../brand.ts";
import { interrupted, type Interrupt } from "../core/cancel.ts";
import { ExitCode, isPgshipError, PgshipError } from "../core/errors.ts";
import type { Emit } from "../core/events.ts";
import { withTransaction, type Db, safeMessage } from "../db/connect.ts";
import { isSqlState, SQLSTATE } from "../db/sqlstate.ts";
import type { SourceTable } from "../db/adopt.ts";
import { readAdopted, readState } from "../db/tracking.ts";
import type { Model } from "./model.ts";
import type { LoadedSet } from "../source.ts";
import { diffModels, type Finding } from "./diff.ts";
import { expectedModel, type Expected, type ExpectedOptions } from "./expected.ts";
import { introspect } from "./introspect.ts";
import type { Manual, RepairPlan, Repair } from "./repair.ts";

export interface Verification {
  version: string;
  /** The binary's newest version. */
  head: string | null;
  /** Migrations newer than the database's version: not drift, they are what 'up' applies. */
  pending: string[];
  expected: Expected;
  findings: Finding[];
  /** Catalog queries used to read the live schema: the same whatever its size. */
  queries: number;
}

export async function verifyDatabase(db: Db, set: LoadedSet, schema: string, emit: Emit, opts: ExpectedOptions = {}): Promise<Verification> {
  const state = await readState(db.sql, schema);
  const applied = state.applied.filter((r) => r.state === "applied").map((r) => r.version).sort();
  const version = applied.at(-1);
  if (!state.managed || !version) {
    throw new PgshipError("not_installed", `the database is not installed by ${brand.display}, so there is no expected schema to compare with`, {
      hint: state.empty ? `run '${brand.binary} up' to install it` : `adopt it first with '${brand.binary} baseline V'`,
    });
  }
  const known = new Set(set.migrations.map((m) => m.version));
  const unknown = state.applied.filter((r) => !known.has(r.version));
  if (unknown.length) {
    throw new PgshipError("database_newer", `database is newer than this binary: it has ${unknown.map((r) => `${r.version}_${r.name}`).join(", ")}, which this binary does not know, so it has no model of its schema`, {
      exitCode: ExitCode.newerDatabase,
      hint: "use the release of the app that migrated this database (or a newer one); nothing was compared or changed",
    });
  }
  const done = new Set(state.applied.map((r) => r.version));
  const skipped = set.migrations.filter((m) => m.version < version && !done.has(m.version));
  if (skipped.length) {
    throw new PgshipError("model_unavailable", `cannot compare: the database is at ${version} but never applied ${skipped.map((m) => `${m.version}_${m.name}`).join(", ")}, so its schema is not the schema of any version`, {
      hint: `run '${brand.binary} up' to apply it, then verify`,
    });
  }
  if (state.applied.some((r) => r.state === "running")) {
    emit({ type: "warn", message: `a transaction:false migration is marked running: finish it with '${brand.binary} up' before trusting this comparison` });
  }
  const adopted = await readAdopted(db.sql, schema);
  const { expected, findings, queries } = await compareAt(db, set, schema, version, emit, { ...opts, ignore: adopted });
  const pending = set.migrations.filter((m) => m.version > version && !done.has(m.version)).map((m) => m.version);
  return { version, head: set.migrations.at(-1)?.version ?? null, pending, expected, findings, queries };
}

/**
 * The live schema against the exact model of `version`, whatever the tracking tables say
 * (baseline --from checks a database before recording anything). `ignore`: other tools'
 * tracking tables, part of the adopted history and not drift.
 */
export async function compareAt(db: Db, set: LoadedSet, schema: string, version: string, emit: Emit, opts: ExpectedOptions & { ignore?: SourceTable[] } = {}) {
  const expected = await expectedModel(set, db, schema, version, emit, opts);
  let queries = 0;
  const actual = withoutTables(await introspect(db.sql, schema, () => queries++), opts.ignore ?? []);
  if (expected.model.serverMajor && actual.serverMajor !== expected.model.serverMajor) {
    emit({ type: "info", message: `the expected model was read from PostgreSQL ${expected.model.serverMajor}, this server is ${actual.serverMajor}: definitions are compared with whitespace ignored` });
  }
  return { expected, findings: diffModels(expected.model, actual), queries };
}

/** The model without these tables and the sequences they own. */
function withoutTables(model: Model, tables: SourceTable[]): Model {
  if (tables.length === 0) return model;
  const names = new Set(tables.map((t) => `${t.schema}.${t.name}`));
  const owned = (seq: { ownedBy: string | null }) => seq.ownedBy !== null && [...names].some((n) => seq.ownedBy!.startsWith(`${n}.`));
  return {
    ...model,
    tables: Object.fromEntries(Object.entries(model.tables).filter(([k]) => !names.has(k))),
    sequences: Object.fromEntries(Object.entries(model.sequences).filter(([, v]) => !owned(v))),
  };
}

export interface RepairOutcome {
  applied: Repair[];
  /** Repairs whose precheck failed: left for a person, with the reason. */
  demoted: Manual[];
}

/** Runs the prechecks, then every remaining repair in one transaction: all or nothing. */
const ROLLED_BACK = "during the repair: it was rolled back, nothing was changed";

/** Applies the repairs in one transaction; an interrupt before its COMMIT rolls it all back (exit 130). */
export async function applyRepairs(db: Db, plan: RepairPlan, interrupt?: Interrupt): Promise<RepairOutcome> {
  const demoted: Manual[] = [];
  const todo: Repair[] = [];
  for (const r of plan.repairs) {
    if (r.precheck) {
      const [row] = await db.sql.unsafe<{ ok: boolean }[]>(r.precheck).catch(() => [{ ok: false }]);
      if (!row?.ok) {
        demoted.push({ finding: r.finding, sql: r.sql, reason: r.precheckReason ?? "its safety check failed" });
        continue;
      }
    }
    todo.push(r);
  }
  if (todo.length === 0) return { applied: [], demoted };
  let current: Repair | undefined;
  try {
    await withTransaction(db.sql, async (tx) => {
      for (const r of todo) {
        current = r;
        interrupt?.check(ROLLED_BACK);
        await (interrupt ? interrupt.track(tx.unsafe(r.sql)) : tx.unsafe(r.sql));
      }
      interrupt?.check(ROLLED_BACK);
    });
  } catch (e) {
    if (interrupt?.interrupted && (isPgshipError(e) || isSqlState(e, SQLSTATE.queryCanceled))) throw interrupted(ROLLED_BACK);
    throw new PgshipError("repair_failed", `repair failed at: ${current?.sql.split("\n")[0]}\n${safeMessage(e, db.target)}`, {
      hint: "nothing was changed (the repairs run in one transaction); fix the cause, or apply the SQL above by hand",
      cause: e,
    });
  }
  return { applied: todo, demoted };
}
