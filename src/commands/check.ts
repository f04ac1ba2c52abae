// check: the CI gate. The work is the check operation (src/ops/check.ts); this
// turns flags into its options and renders its outcome (exit 4 on any error).

import { brand } from "../brand.ts";
import type { ArgsDef } from "citty";
import { ExitCode } from "../core/errors.ts";
import { renderFindings } from "../catalog/diff.ts";
import type { Context } from "../cli/context.ts";
import type { Args } from "../cli/flags.ts";
import { check, type CheckOutcome, type Problem } from "../ops/check.ts";

/** Defaults from ./pgship.json. */
export const project = true;

export const args = {
  "pg-bin": { type: "string", description: "Directory holding pg_dump (to compare schema.sql byte for byte)", valueHint: "dir" },
  "skip-stairway": { type: "boolean", description: "Skip the up -> down -> up test of every migration" },
  strict: { type: "boolean", description: "Fail (exit 4) when schema.sql cannot be compared byte for byte (no pg_dump as new as the server)" },
} as const satisfies ArgsDef;

export const usage = `Needs a server where the role may create databases (CI's PostgreSQL service). Exit 4 on any problem.
Reads migrationsDir, schemaFile and trackingSchema from ./pgship.json when there is one.
Examples:
  ${brand.binary} check --database-url postgres://postgres:postgres@localhost:5432/postgres
  ${brand.binary} check --json`;

export async function run(ctx: Context, a: Args): Promise<number> {
  const outcome: CheckOutcome = await check(ctx, { pgBin: a["pg-bin"] as string | undefined, skipStairway: Boolean(a["skip-stairway"]), strict: Boolean(a.strict) });
  ctx.result(outcome, () => render(outcome.problems, outcome.migrations));
  return outcome.ok ? ExitCode.ok : ExitCode.drift;
}

function render(problems: Problem[], count: number): string {
  const errors = problems.filter((p) => p.severity === "error");
  const lines: string[] = [];
  for (const p of problems) {
    lines.push(`${p.severity === "error" ? "FAIL" : "note"} [${p.check}] ${p.message}`);
    if (p.findings?.length) lines.push(renderFindings(p.findings).replace(/^/gm, "    "));
  }
  lines.push(errors.length ? `\ncheck failed: ${errors.length} problem(s).` : `\ncheck passed: ${count} migrations; snapshot, model and every down section agree.`);
  return lines.join("\n");
}

