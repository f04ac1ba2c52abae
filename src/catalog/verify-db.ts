// Database side of verify: read the live schema, pick the expected one, diff;
// and apply a repair plan in one transaction after its prechecks.

import { PgshipError } from "../core/errors.ts";
import type { Emit } from "../core/events.ts";
import type { MigrationSet } from "../core/migration-set.ts";
import { withTransaction, type Db, safeMessage } from "../db/connect.ts";
import { readState } from "../db/tracking.ts";
import { diffModels, type Finding } from "./diff.ts";
import { expectedModel, type Expected } from "./expected.ts";
import { introspect } from "./introspect.ts";
import type { Manual, RepairPlan, Repair } from "./repair.ts";

export interface Verification {
  version: string;
  expected: Expected;
  findings: Finding[];
  /** Catalog queries used to read the live schema: the same whatever its size. */
  queries: number;
}

export async function verifyDatabase(db: Db, set: MigrationSet, schema: string, emit: Emit): Promise<Verification> {
  const state = await readState(db.sql, schema);
  const applied = state.applied.filter((r) => r.state === "applied").map((r) => r.version).sort();
  const version = applied.at(-1);
  if (!state.managed || !version) {
    throw new PgshipError("not_installed", "the database is not installed by pgship, so there is no expected schema to compare with", {
      hint: state.empty ? "run 'pgship up' to install it" : "adopt it first with 'pgship baseline V'",
    });
  }
  if (state.applied.some((r) => r.state === "running")) {
    emit({ type: "warn", message: "a transaction:false migration is marked running: finish it with 'pgship up' before trusting this comparison" });
  }
  const expected = await expectedModel(set, db, schema, version, emit);
  let queries = 0;
  const actual = await introspect(db.sql, schema, () => queries++);
  if (expected.model.serverMajor && actual.serverMajor !== expected.model.serverMajor) {
    emit({ type: "info", message: `the expected model was read from PostgreSQL ${expected.model.serverMajor}, this server is ${actual.serverMajor}: definitions are compared with whitespace ignored` });
  }
  return { version, expected, findings: diffModels(expected.model, actual), queries };
}

export interface RepairOutcome {
  applied: Repair[];
  /** Repairs whose precheck failed: left for a person, with the reason. */
  demoted: Manual[];
}

/** Runs the prechecks, then every remaining repair in one transaction: all or nothing. */
export async function applyRepairs(db: Db, plan: RepairPlan): Promise<RepairOutcome> {
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
        await tx.unsafe(r.sql);
      }
    });
  } catch (e) {
    throw new PgshipError("repair_failed", `repair failed at: ${current?.sql.split("\n")[0]}\n${safeMessage(e, db.target)}`, {
      hint: "nothing was changed (the repairs run in one transaction); fix the cause, or apply the SQL above by hand",
      cause: e,
    });
  }
  return { applied: todo, demoted };
}
