// verify: the live schema against the exact schema of its version; --fix
// repairs additive drift in one transaction and verifies again. The work is
// the verify operation (src/ops/verify.ts); this turns flags into its options
// and its outcome into text, --json and the exit code.

import { brand } from "../brand.ts";
import { plural } from "../core/format.ts";
import type { ArgsDef } from "citty";
import { ExitCode } from "../core/errors.ts";
import { renderFindings } from "../catalog/diff.ts";
import { alertArgs } from "../cli/alert-args.ts";
import type { Context } from "../cli/context.ts";
import type { Args } from "../cli/flags.ts";
import { manualText, verify, type VerifyOptions, type VerifyOutcome } from "../ops/verify.ts";

export const args = {
  fix: { type: "boolean", description: "Repair additive drift (missing columns, indexes, constraints, ...) in one transaction" },
  "dry-run": { type: "boolean", description: "With --fix: print the repair SQL, change nothing" },
  ...alertArgs,
} as const satisfies ArgsDef;

export const usage = `Compares with the exact schema of the database's version (pending migrations are not drift).
Works without pg_dump and without CREATEDB (the model of every version ships with the binary);
when no exact model exists it compares nothing and repairs nothing (exit 1).
Examples:
  ${brand.binary} verify                 # exit 4 on drift
  ${brand.binary} verify --json
  ${brand.binary} verify --fix --dry-run # show the repair SQL
  ${brand.binary} verify --fix --yes     # repair without asking`;

export const options = (a: Args): VerifyOptions => ({ fix: Boolean(a.fix), dryRun: Boolean(a["dry-run"]) });

export const exitCode = (o: VerifyOutcome): number => (o.ok ? ExitCode.ok : ExitCode.drift);

export async function run(ctx: Context, a: Args): Promise<number> {
  const outcome = await verify(ctx, options(a));
  ctx.result(outcome, () => text(outcome));
  return exitCode(outcome);
}

export function text(o: VerifyOutcome): string {
  const pending = o.pending.length
    ? `\n${plural(o.pending.length, "migration")} pending (not drift): run '${brand.binary} up' to apply ${o.pending.length === 1 ? "it" : "them"}.`
    : "";
  switch (o.fix) {
    case undefined:
      return [
        `${o.database} at ${o.version}: ${o.comparedWith.note}.\n`,
        renderFindings(o.findings),
        o.findings.length ? `\nRun '${brand.binary} verify --fix' to repair what can be repaired without losing data.${o.pending.length ? " Or update first: the pending migrations may change these objects." : ""}` : "",
        pending,
      ].filter(Boolean).join("\n");
    case "dry-run":
      return "Dry run: nothing changed.";
    case "nothing repairable":
      return "Nothing can be repaired automatically; see above.";
    case "cancelled":
      return "Cancelled: nothing was changed.";
    case "applied":
      return [
        `Applied ${o.repaired?.length ?? 0} repair statement(s) in one transaction.`,
        o.manual?.length ? `Not repaired:\n${manualText(o.manual)}` : "",
        o.remaining?.length ? `Still differs:\n${renderFindings(o.remaining)}` : "Verified again: no drift.",
        pending,
      ].filter(Boolean).join("\n");
  }
}
