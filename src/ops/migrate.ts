// up / install / update / down: plan against the live state, then either return
// the plan (dry run) or execute it under the lock. Used by the commands and the wizard.

import { brand } from "../brand.ts";
import { describeTarget } from "../core/config.ts";
import type { StepLabel } from "../core/events.ts";
import { isPgshipError, PgshipError } from "../core/errors.ts";
import { planDown, planUp, type Plan, type Step } from "../core/plan.ts";
import { executePlan, labelOf } from "../db/apply.ts";
import type { Db } from "../db/connect.ts";
import { readState } from "../db/tracking.ts";
import { checked } from "../db/privileges.ts";
import type { LoadedSet } from "../source.ts";
import type { OpContext } from "./context.ts";
import { withRun } from "./run.ts";
import { adopt, type Adoption } from "./baseline.ts";

export type MigrateMode = "up" | "install" | "update";

export interface MigrateOptions {
  mode: MigrateMode;
  /** Stop at this version instead of the newest. */
  to?: string;
  /** Retries of a migration that hits its lock_timeout (default 5). */
  lockRetries?: number;
  /** Compare with the shipped model afterwards (default true). */
  verify?: boolean;
  /** up --adopt: a database another tool migrated is adopted first (see baseline --from). */
  adopt?: boolean;
  /**
   * Versions of interrupted transaction:false migrations whose edited file may be resumed
   * (--accept-changed); without it such a migration stops the run (changed_since_interrupted).
   */
  acceptChanged?: string[];
  /** Runs under the lock once there is something to apply, before the first step (up --backup). */
  beforeSteps?: (db: Db, managed: boolean) => Promise<void>;
}

export interface StepOutcome extends StepLabel {
  durationMs: number;
}

export interface MigrateOutcome {
  ok: true;
  action: Plan["action"];
  from: string | null;
  /** The version the database is at afterwards. */
  to: string | null;
  steps: StepOutcome[];
  durationMs: number;
  /** Findings of the check after migrating (0 when skipped or clean). */
  drift: number;
  /** up --adopt: the other tool's history that was recorded first. */
  adopted?: Adoption;
}

export interface PlannedStep extends StepLabel {
  /** The migration file (absent for the snapshot). */
  file?: string;
  transaction: boolean;
  sql: string;
}

export interface PlanOutcome {
  ok: true;
  dryRun: true;
  database: string;
  action: Plan["action"];
  from: string | null;
  to: string | null;
  /** Install: how many leading steps commit together in one transaction. */
  atomicPrefix: number;
  steps: PlannedStep[];
}

export type DownOptions = { steps: number } | { to: string };

/** The work of up / install / update. */
export async function migrate(ctx: OpContext, opts: MigrateOptions): Promise<MigrateOutcome> {
  const t0 = performance.now();
  const steps: StepOutcome[] = [];
  let adopted: Adoption | undefined;
  const { plan, drift } = await withRun(ctx, opts.mode, async (s) => {
    let state = s.state;
    if (opts.adopt && state.foreign && (!state.managed || state.applied.length === 0)) {
      adopted = await adopt(ctx, s, state.foreign.tool, false);
      state = await readState(s.db.sql, ctx.schema);
    }
    const plan = planUp(s.set, state, upOptions(ctx, opts));
    // Every run against an installed database is recorded, no-ops included, when the role may
    // write the history. Nothing to do needs only read access (a least-privilege runtime role).
    if (plan.action === "none") {
      if (state.managed && s.can(["record"])) await s.begin(plan.from);
      else if (state.managed) ctx.emit({ type: "debug", message: `nothing to do; not recorded in ${ctx.schema}.history (role "${s.privileges.role}" cannot write it)` });
      const drift = opts.verify === false || !state.managed ? 0 : await driftAfter(ctx, s.db, s.set, plan.from);
      return { value: { plan, drift }, toVersion: plan.from };
    }
    // Before anything (a backup included): the tracking writes, and for an install the objects it creates.
    const snapshotNamesPublic = plan.steps.some((st) => st.kind === "snapshot" && /\bpublic\./.test(st.snapshot.sql));
    s.require(plan.action === "install" ? ["read", "record", "apply", "create", ...(snapshotNamesPublic ? (["create-public"] as const) : [])] : ["record", "apply"]);
    await opts.beforeSteps?.(s.db, state.managed);
    await execute(ctx, s.db, s.set, await s.begin(plan.from), plan, opts.lockRetries, steps);
    // A fresh install from the snapshot alone is the model by construction (dump writes both from
    // one scratch database and `check` gates them in CI): comparing again would only cost time.
    const snapshotOnly = plan.action === "install" && plan.steps.every((st) => st.kind === "snapshot");
    const drift = opts.verify === false || snapshotOnly ? 0 : await driftAfter(ctx, s.db, s.set, plan.to);
    return { value: { plan, drift }, toVersion: plan.to };
  });
  return { ...outcome(plan, steps, drift, t0), ...(adopted ? { adopted } : {}) };
}

/** Rolls back with the migrations' down sections. */
export async function down(ctx: OpContext, opts: DownOptions): Promise<MigrateOutcome> {
  const t0 = performance.now();
  const steps: StepOutcome[] = [];
  const plan = await withRun(ctx, "down", async (s) => {
    const plan = planDown(s.set, s.state, opts);
    if (plan.action === "none") return { value: plan, toVersion: plan.from };
    s.require(["record", "apply", "rollback"]);
    await execute(ctx, s.db, s.set, await s.begin(plan.from), plan, 5, steps);
    return { value: plan, toVersion: plan.to };
  });
  return outcome(plan, steps, 0, t0);
}

/** The command that accepts an edited interrupted migration: the one that was run, plus the flag. */
function upOptions(ctx: OpContext, opts: { mode: MigrateMode; to?: string; acceptChanged?: string[] }) {
  const ran = ctx.invocation.split(" ")[0] === opts.mode ? ctx.invocation.replace(/\s--accept-changed(=|\s+)\S+/g, "") : opts.mode;
  return { mode: opts.mode, to: opts.to, acceptChanged: opts.acceptChanged, acceptCommand: (v: string) => `${brand.binary} ${ran} --accept-changed ${v}` };
}

/** What up / install / update / down would do, with every step's SQL; changes nothing. */
export async function planMigration(ctx: OpContext, opts: { mode: MigrateMode; to?: string; acceptChanged?: string[] } | { mode: "down"; down: DownOptions }): Promise<PlanOutcome> {
  const set = await ctx.migrations();
  const db = await ctx.connect(`${opts.mode} --dry-run`);
  try {
    const { value: state } = await checked(db.sql, ctx.schema, ["read"], () => readState(db.sql, ctx.schema));
    const plan = opts.mode === "down" ? planDown(set, state, opts.down) : planUp(set, state, upOptions(ctx, opts));
    return {
      ok: true,
      dryRun: true,
      database: describeTarget(db.target),
      action: plan.action,
      from: plan.from,
      to: plan.to,
      atomicPrefix: plan.atomicPrefix,
      steps: plan.steps.map((s) => ({ ...labelOf(s), ...(s.kind === "snapshot" ? {} : { file: set.pathOf(s.migration.file) }), transaction: stepTransactional(s), sql: stepSql(s) })),
    };
  } finally {
    await db.close();
  }
}

async function execute(ctx: OpContext, db: Db, set: LoadedSet, runId: number, plan: Plan, lockRetries = 5, steps: StepOutcome[]): Promise<void> {
  await executePlan(
    {
      sql: db.sql,
      schema: ctx.schema,
      toolVersion: brand.version,
      runId,
      interrupt: ctx.interrupt,
      pathOf: set.pathOf,
      lockRetries,
      emit: (e) => {
        if (e.type === "step-done") steps.push({ ...e.step, durationMs: Math.round(e.durationMs) });
        ctx.emit(e);
      },
    },
    plan,
  );
}

function outcome(plan: Plan, steps: StepOutcome[], drift: number, t0: number): MigrateOutcome {
  return { ok: true, action: plan.action, from: plan.from, to: plan.action === "none" ? plan.from : plan.to, steps, durationMs: Math.round(performance.now() - t0), drift };
}

/**
 * After migrating, compare with the shipped model of the version the database
 * is now at. Drift is a warning (exit 4 with --fail-on-drift).
 */
async function driftAfter(ctx: OpContext, db: Db, set: LoadedSet, version: string | null): Promise<number> {
  // Only against the exact model of that version shipped with the binary (no scratch database here).
  const models = await set.models().catch((e: Error) => void ctx.emit({ type: "warn", message: `the schema was not compared after migrating: ${e.message}` }));
  if (!version || !models?.has(version)) return 0;
  const { verifyDatabase } = await import("../catalog/verify-db.ts");
  const v = await verifyDatabase(db, set, ctx.schema, () => undefined, { replay: false }).catch((e: unknown) => {
    if (isPgshipError(e) && e.code === "model_unavailable") return null;
    throw e;
  });
  if (!v) return 0;
  if (v.findings.length) {
    ctx.emit({ type: "warn", message: `the schema differs from the expected one for ${version} in ${v.findings.length} place(s); run '${ctx.binary} verify' for the report and '${ctx.binary} verify --fix' to repair` });
  }
  return v.findings.length;
}

const stepTransactional = (s: Step) => (s.kind === "snapshot" ? true : (s.kind === "up" ? s.migration.up : s.migration.down!).options.transaction);
const stepSql = (s: Step) => {
  if (s.kind === "snapshot") return s.snapshot.sql;
  const section = s.kind === "up" ? s.migration.up : s.migration.down;
  if (!section) throw new PgshipError("irreversible", `${s.migration.file} has no down section`);
  return section.sql;
};
