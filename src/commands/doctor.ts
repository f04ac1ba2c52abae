// doctor: everything that can be wrong, each finding with the command that fixes
// it. The checks are the doctor operation (src/ops/doctor.ts, runDoctor); this
// renders its outcome, and the exit code is the worst finding's.

import { brand } from "../brand.ts";
import type { ArgsDef } from "citty";
import type { Context } from "../cli/context.ts";
import type { Args } from "../cli/flags.ts";
import { doctor, type Check, type DoctorOutcome } from "../ops/doctor.ts";

export const args = {
  "pg-bin": { type: "string", description: "Directory holding pg_dump / pg_restore", valueHint: "dir" },
} as const satisfies ArgsDef;

export const usage = `Examples:
  ${brand.binary} doctor
  ${brand.binary} doctor --json`;

export async function run(ctx: Context, a: Args): Promise<number> {
  const outcome: DoctorOutcome = await doctor(ctx, { pgBin: a["pg-bin"] as string | undefined });
  ctx.result(outcome, () => render(outcome.checks, outcome.exitCode));
  return outcome.exitCode;
}

function render(checks: Check[], code: number): string {
  const mark = { ok: "ok  ", warn: "WARN", fail: "FAIL" };
  const width = Math.max(...checks.map((c) => c.name.length));
  const lines = checks.map((c) => `${mark[c.status]}  ${c.name.padEnd(width)}  ${c.detail}${c.fix ? `\n      ${" ".repeat(width)}  fix: ${c.fix}` : ""}`);
  lines.push("", code === 0 ? "All good." : `Worst finding: exit ${code}.`);
  return lines.join("\n");
}
