// down: roll back with the migrations' down sections.

import type { ArgsDef } from "citty";
import { describeTarget } from "../core/config.ts";
import { formatDuration } from "../core/duration.ts";
import { ExitCode, UsageError } from "../core/errors.ts";
import { planDown } from "../core/plan.ts";
import { executePlan, labelOf } from "../db/apply.ts";
import { readState } from "../db/tracking.ts";
import { checked } from "../db/privileges.ts";
import { brand, withRun, type Context } from "../cli/context.ts";
import { intFlag, type Args } from "../cli/flags.ts";
import { renderPlan } from "./_migrate.ts";
import { argv } from "../runtime.ts";

export const args = {
  steps: { type: "string", description: "How many applied migrations to roll back", default: "1", valueHint: "n" },
  to: { type: "string", description: "Roll back every migration newer than this version (0 = all)", valueHint: "version" },
  "dry-run": { type: "boolean", description: "Print the plan and its SQL; change nothing" },
} as const satisfies ArgsDef;

export const usage = `Examples:
  pgship down                      # roll back the newest migration
  pgship down --steps 3
  pgship down --to 20250301120000  # keep 20250301120000 and older`;

export async function run(ctx: Context, a: Args): Promise<number> {
  const stepsGiven = argv().some((x) => x === "--steps" || x.startsWith("--steps="));
  if (a.to !== undefined && stepsGiven) throw new UsageError("give --steps or --to, not both");
  const opts = a.to !== undefined ? { to: String(a.to) } : { steps: intFlag(a.steps, "steps", 1) ?? 1 };
  if (a["dry-run"]) {
    const set = await ctx.migrations();
    const db = await ctx.connect("down --dry-run");
    try {
      const { value: state } = await checked(db.sql, ctx.schema, ["read"], () => readState(db.sql, ctx.schema));
      const plan = planDown(set, state, opts);
      ctx.result(
        { ok: true, dryRun: true, action: plan.action, from: plan.from, to: plan.to, steps: plan.steps.map((s) => ({ ...labelOf(s), sql: s.kind === "down" ? s.migration.down!.sql : "" })) },
        () => renderPlan(plan, set, describeTarget(db.target)),
      );
    } finally {
      await db.close();
    }
    return ExitCode.ok;
  }
  const t0 = performance.now();
  const plan = await withRun(ctx, "down", async (s) => {
    const plan = planDown(s.set, s.state, opts);
    if (plan.action === "none") return { value: plan, toVersion: plan.from };
    s.require(["record", "apply", "rollback"]);
    const runId = await s.begin(plan.from);
    await executePlan(
      { sql: s.db.sql, schema: ctx.schema, toolVersion: brand.version, runId, emit: ctx.emit, interrupt: ctx.interrupt, pathOf: s.set.pathOf, lockRetries: 5 },
      plan,
    );
    return { value: plan, toVersion: plan.to };
  });
  const ms = performance.now() - t0;
  ctx.result(
    { ok: true, action: plan.action, from: plan.from, to: plan.to, steps: plan.steps.map(labelOf), durationMs: Math.round(ms) },
    () => plan.action === "none"
      ? "Nothing to roll back."
      : `Rolled back ${plan.steps.length} migration${plan.steps.length === 1 ? "" : "s"} in ${formatDuration(ms)}: database at ${plan.to ?? "(no migrations applied)"}.`,
  );
  return ExitCode.ok;
}
