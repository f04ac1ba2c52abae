// Shared by up, install and update: plan against the live state, then either
// print the plan (--dry-run) or execute it under the lock.

import type { ArgsDef } from "citty";
import { describeTarget } from "../core/config.ts";
import { formatDuration } from "../core/duration.ts";
import { ExitCode, isPgshipError } from "../core/errors.ts";
import type { StepLabel } from "../core/events.ts";
import { planUp, type Plan, type Step } from "../core/plan.ts";
import { executePlan, labelOf } from "../db/apply.ts";
import { readState } from "../db/tracking.ts";
import { intFlag, type Args } from "../cli/flags.ts";
import { brand, withRun, type Context } from "../cli/context.ts";
import type { LoadedSet } from "../source.ts";
import type { BackupOutcome } from "../backup/create.ts";
import { backupBeforeMigrating, preBackupFlags, restoreCommand, withRestoreHint } from "./_pre-backup.ts";
import type { Db } from "../db/connect.ts";

export const migrateArgs = {
  to: { type: "string", description: "Stop at this version instead of the newest", valueHint: "version" },
  "dry-run": { type: "boolean", description: "Print the plan and its SQL; change nothing" },
  "lock-retries": { type: "string", description: "Retries of a migration that hits its lock_timeout", default: "5", valueHint: "n" },
  verify: { type: "boolean", description: "Compare the schema with the expected one after migrating (warns on drift)", default: true, negativeDescription: "Skip the check after migrating" },
  "fail-on-drift": { type: "boolean", description: "Exit 4 when the check after migrating finds drift" },
} as const satisfies ArgsDef;

export async function runMigrate(ctx: Context, args: Args, mode: "up" | "install" | "update"): Promise<number> {
  const to = args.to ? String(args.to) : undefined;
  const lockRetries = intFlag(args["lock-retries"], "lock-retries") ?? 5;
  if (args["dry-run"]) return dryRun(ctx, mode, to);
  const backupFlags = preBackupFlags(ctx, args);
  let backup: BackupOutcome | null = null;
  const beforeSteps = backupFlags
    ? async (db: Db, managed: boolean) => {
        if (managed) backup = await backupBeforeMigrating(ctx, db, backupFlags);
      }
    : undefined;
  const r = await migrate(ctx, { mode, to, lockRetries, verify: args.verify !== false, beforeSteps }).catch((e: unknown) => {
    if (!backup) throw e;
    // A migration failed after --backup: say exactly how to go back.
    if (!(e instanceof Error && "exitCode" in e)) ctx.log.warn(`to return to the backup taken before this run: ${restoreCommand(backup, args)}`);
    throw withRestoreHint(e, backup, args);
  });
  const taken = backup as BackupOutcome | null;
  ctx.result(
    {
      ok: true,
      action: r.plan.action,
      from: r.plan.from,
      to: r.plan.action === "none" ? r.plan.from : r.plan.to,
      steps: r.done.map((d) => ({ kind: d.kind, version: d.version, name: d.name, durationMs: Math.round(d.durationMs) })),
      durationMs: Math.round(r.durationMs),
      drift: r.drift,
      ...(taken ? { backup: { file: taken.archivePath, manifest: taken.manifestPath, sha256: taken.manifest.archive.sha256, restore: restoreCommand(taken, args) } } : {}),
    },
    () => summary(r.plan, r.done.length, r.durationMs),
  );
  return r.drift && args["fail-on-drift"] ? ExitCode.drift : ExitCode.ok;
}

export interface MigrateOptions {
  mode: "up" | "install" | "update";
  to?: string;
  lockRetries?: number;
  /** Compare with the shipped model afterwards (default true). */
  verify?: boolean;
  /** Runs under the lock once there is something to apply, before the first step (--backup). */
  beforeSteps?: (db: Db, managed: boolean) => Promise<void>;
}

export interface MigrateResult {
  plan: Plan;
  done: (StepLabel & { durationMs: number })[];
  /** Findings of the check after migrating (0 when skipped or clean). */
  drift: number;
  durationMs: number;
}

/** The work of up / install / update, shared by the commands and the wizard. */
export async function migrate(ctx: Context, opts: MigrateOptions): Promise<MigrateResult> {
  const t0 = performance.now();
  const done: MigrateResult["done"] = [];
  const { plan, drift } = await withRun(ctx, opts.mode, async (s) => {
    const plan = planUp(s.set, s.state, { mode: opts.mode, to: opts.to });
    // Every run against an installed database is recorded, no-ops included.
    if (plan.action === "none") {
      if (s.state.managed) await s.begin(plan.from);
      const drift = opts.verify === false || !s.state.managed ? 0 : await driftAfter(ctx, s.db, s.set, plan.from);
      return { value: { plan, drift }, toVersion: plan.from };
    }
    await opts.beforeSteps?.(s.db, s.state.managed);
    const runId = await s.begin(plan.from);
    await executePlan(
      {
        sql: s.db.sql,
        schema: ctx.schema,
        toolVersion: brand.version,
        runId,
        interrupt: ctx.interrupt,
        pathOf: s.set.pathOf,
        lockRetries: opts.lockRetries ?? 5,
        emit: (e) => {
          if (e.type === "step-done") done.push({ ...e.step, durationMs: e.durationMs });
          ctx.emit(e);
        },
      },
      plan,
    );
    // A fresh install from the snapshot alone is the model by construction (dump writes both from
    // one scratch database and `check` gates them in CI): comparing again would only cost time.
    const snapshotOnly = plan.action === "install" && plan.steps.every((st) => st.kind === "snapshot");
    const drift = opts.verify === false || snapshotOnly ? 0 : await driftAfter(ctx, s.db, s.set, plan.to);
    return { value: { plan, drift }, toVersion: plan.to };
  });
  return { plan, done, drift, durationMs: performance.now() - t0 };
}

/**
 * After migrating, compare with the shipped model of the version the database
 * is now at. Drift is a warning (exit 4 with --fail-on-drift).
 */
async function driftAfter(ctx: Context, db: Db, set: LoadedSet, version: string | null): Promise<number> {
  // Only against the exact model of that version shipped with the binary (no scratch database here).
  const models = await set.models().catch((e: Error) => void ctx.log.warn(`the schema was not compared after migrating: ${e.message}`));
  if (!version || !models?.has(version)) return 0;
  const { verifyDatabase } = await import("../catalog/verify-db.ts");
  const v = await verifyDatabase(db, set, ctx.schema, () => undefined, { replay: false }).catch((e: unknown) => {
    if (isPgshipError(e) && e.code === "model_unavailable") return null;
    throw e;
  });
  if (!v) return 0;
  if (v.findings.length) {
    ctx.log.warn(`the schema differs from the expected one for ${version} in ${v.findings.length} place(s); run 'pgship verify' for the report and 'pgship verify --fix' to repair`);
  }
  return v.findings.length;
}

function summary(plan: Plan, count: number, ms: number): string {
  if (plan.action === "none") return `Already up to date at ${plan.from ?? "(no migrations)"}.`;
  const stamped = plan.steps.find((s) => s.kind === "snapshot");
  const applied = plan.steps.filter((s) => s.kind === "up").length;
  const parts = [
    stamped && stamped.kind === "snapshot" ? `snapshot with ${stamped.stamps.length} migrations` : "",
    applied ? `${applied} migration${applied === 1 ? "" : "s"} applied` : "",
  ].filter(Boolean);
  const verb = plan.action === "install" ? "Installed" : "Updated";
  return `${verb}: database at ${plan.to} (${parts.join(", ")}; ${count} step${count === 1 ? "" : "s"} in ${formatDuration(ms)}).`;
}

async function dryRun(ctx: Context, mode: "up" | "install" | "update", to: string | undefined): Promise<number> {
  const set = await ctx.migrations();
  const db = await ctx.connect(`${mode} --dry-run`);
  try {
    const state = await readState(db.sql, ctx.schema);
    const plan = planUp(set, state, { mode, to });
    ctx.result(
      {
        ok: true,
        dryRun: true,
        action: plan.action,
        from: plan.from,
        to: plan.to,
        atomicPrefix: plan.atomicPrefix,
        steps: plan.steps.map((s) => ({ ...labelOf(s), transaction: stepTransactional(s), sql: stepSql(s) })),
      },
      () => renderPlan(plan, set, describeTarget(db.target)),
    );
  } finally {
    await db.close();
  }
  return ExitCode.ok;
}

const stepTransactional = (s: Step) => (s.kind === "snapshot" ? true : (s.kind === "up" ? s.migration.up : s.migration.down!).options.transaction);
const stepSql = (s: Step) => (s.kind === "snapshot" ? s.snapshot.sql : (s.kind === "up" ? s.migration.up : s.migration.down!).sql);

export function renderPlan(plan: Plan, set: LoadedSet, where: string): string {
  if (plan.action === "none") return `Nothing to do: ${where} is at ${plan.from ?? "(no migrations)"}.\n`;
  const out = [`Plan (dry run, nothing changed): ${plan.action} on ${where}, ${plan.from ?? "empty"} -> ${plan.to ?? "empty"}`];
  plan.steps.forEach((s, i) => {
    const l = labelOf(s);
    const desc =
      s.kind === "snapshot"
        ? `load snapshot ${s.snapshot.version} and record ${s.stamps.length} migrations as applied`
        : `${s.kind === "down" ? "roll back" : l.resume ? "resume" : "apply"} ${set.pathOf(s.migration.file)}${stepTransactional(s) ? "" : " (no transaction)"}`;
    out.push(`  ${i + 1}. ${desc}`);
  });
  if (plan.action === "install" && plan.atomicPrefix > 1) out.push(`  Steps 1-${plan.atomicPrefix} commit together in one transaction.`);
  out.push("");
  plan.steps.forEach((s, i) => {
    const l = labelOf(s);
    out.push(`-- ${i + 1}. ${l.kind} ${l.version} ${l.name}`, stepSql(s), "");
  });
  return out.join("\n");
}
