// down: roll back with the migrations' down sections.

import { brand } from "../brand.ts";
import type { ArgsDef } from "citty";
import { ExitCode, UsageError } from "../core/errors.ts";
import { down, planMigration, type DownOptions } from "../ops/migrate.ts";
import type { Context } from "../cli/context.ts";
import { intFlag, type Args } from "../cli/flags.ts";
import { renderPlan, summary } from "./up.ts";

export const args = {
  steps: { type: "string", description: "How many applied migrations to roll back (default 1)", valueHint: "n" },
  to: { type: "string", description: "Roll back every migration newer than this version (0 = all)", valueHint: "version" },
  "dry-run": { type: "boolean", description: "Print the plan and its SQL; change nothing" },
} as const satisfies ArgsDef;

export const usage = `Examples:
  ${brand.binary} down                      # roll back the newest migration
  ${brand.binary} down --steps 3
  ${brand.binary} down --to 20250301120000  # keep 20250301120000 and older`;

export async function run(ctx: Context, a: Args): Promise<number> {
  if (a.to !== undefined && a.steps !== undefined) throw new UsageError("give --steps or --to, not both");
  const opts: DownOptions = a.to !== undefined ? { to: String(a.to) } : { steps: intFlag(a.steps, "steps", 1) ?? 1 };
  if (a["dry-run"]) {
    const plan = await planMigration(ctx, { mode: "down", down: opts });
    ctx.result(plan, () => renderPlan(plan));
    return ExitCode.ok;
  }
  const r = await down(ctx, opts);
  ctx.result(r, () => (r.action === "none" ? "Nothing to roll back." : summary(r)));
  return ExitCode.ok;
}
