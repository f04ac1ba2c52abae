// verify: the live schema against the one its version should have; --fix
// repairs additive drift in one transaction and verifies again.

import type { ArgsDef } from "citty";
import { describeTarget } from "../core/config.ts";
import { ExitCode, UsageError } from "../core/errors.ts";
import { renderFindings } from "../catalog/diff.ts";
import { planRepairs, type Manual } from "../catalog/repair.ts";
import { applyRepairs, verifyDatabase } from "../catalog/verify-db.ts";
import { withRun, type Context } from "../cli/context.ts";
import type { Db } from "../db/connect.ts";
import type { Args } from "../cli/flags.ts";
import { ask, stdinIsTTY } from "../runtime.ts";
import { checked } from "../db/privileges.ts";

export const args = {
  fix: { type: "boolean", description: "Repair additive drift (missing columns, indexes, constraints, ...) in one transaction" },
  "dry-run": { type: "boolean", description: "With --fix: print the repair SQL, change nothing" },
} as const satisfies ArgsDef;

export const usage = `Works without pg_dump and without CREATEDB (the expected schema ships with the binary).
Examples:
  pgship verify                 # exit 4 on drift
  pgship verify --json
  pgship verify --fix --dry-run # show the repair SQL
  pgship verify --fix --yes     # repair without asking`;

const manualText = (m: Manual[]) =>
  m.map((x) => `  ${x.finding.kind} ${x.finding.type} ${x.finding.name}: ${x.reason}${x.sql ? `\n    ${x.sql.replace(/\n/g, "\n    ")}` : ""}`).join("\n");

export async function run(ctx: Context, a: Args): Promise<number> {
  if (a["dry-run"] && !a.fix) throw new UsageError("--dry-run goes with --fix");
  if (a.fix && !a["dry-run"]) {
    // Repairs change the database: hold the migration lock and record the run in the history.
    return withRun(ctx, "verify --fix", async (s) => {
      await s.begin(s.state.applied.map((r) => r.version).sort().at(-1) ?? null);
      const code = await verifyAndFix(ctx, s.db, a);
      return { value: code, toVersion: null };
    });
  }
  const db = await ctx.connect("verify");
  try {
    // The privilege query is pipelined with verify's first reads of the tracking tables.
    return (await checked(db.sql, ctx.schema, ["read"], () => verifyAndFix(ctx, db, a))).value;
  } finally {
    await db.close();
  }
}

async function verifyAndFix(ctx: Context, db: Db, a: Args): Promise<number> {
  const set = await ctx.migrations();
  const before = await verifyDatabase(db, set, ctx.schema, ctx.emit);
  const where = describeTarget(db.target);
  const base = { database: where, version: before.version, comparedWith: { version: before.expected.version, source: before.expected.source, note: before.expected.note }, queries: before.queries };
  if (!a.fix || before.findings.length === 0) {
    ctx.result({ ...base, ok: before.findings.length === 0, findings: before.findings }, () =>
      [`${where} at ${before.version}: ${before.expected.note}.`, "", renderFindings(before.findings), before.findings.length ? "\nRun 'pgship verify --fix' to repair what can be repaired without losing data." : ""].join("\n"),
    );
    return before.findings.length ? ExitCode.drift : ExitCode.ok;
  }

  const plan = planRepairs(before.findings, before.expected.model);
  const sql = plan.repairs.map((r) => r.sql).join("\n");
  if (!ctx.json) {
    ctx.log.info(`${where} at ${before.version}: ${before.expected.note}.\n\n${renderFindings(before.findings)}\n`);
    if (plan.repairs.length) ctx.log.info(`Repair SQL (one transaction):\n${sql}\n`);
    if (plan.manual.length) ctx.log.info(`Left for a person (pgship never drops or rewrites data):\n${manualText(plan.manual)}\n`);
  }
  if (a["dry-run"] || plan.repairs.length === 0) {
    ctx.result({ ...base, ok: false, dryRun: Boolean(a["dry-run"]), findings: before.findings, repairs: plan.repairs.map((r) => r.sql), manual: plan.manual }, () =>
      plan.repairs.length ? "Dry run: nothing changed." : "Nothing can be repaired automatically; see above.",
    );
    return ExitCode.drift;
  }
  if (!ctx.yes) {
    if (!stdinIsTTY()) throw new UsageError("--fix changes the database: pass --yes to apply the repairs without a terminal to confirm them");
    const answer = (await ask(`Apply ${plan.repairs.length} repair statement(s) to ${where}? [y/N] `)).trim().toLowerCase();
    if (answer !== "y" && answer !== "yes") {
      ctx.result({ ...base, ok: false, cancelled: true }, () => "Cancelled: nothing was changed.");
      return ExitCode.drift;
    }
  }
  const outcome = await applyRepairs(db, plan);
  const after = await verifyDatabase(db, set, ctx.schema, ctx.emit);
  ctx.result(
    { ...base, ok: after.findings.length === 0, findings: before.findings, repaired: outcome.applied.map((r) => r.sql), manual: [...outcome.demoted, ...plan.manual], remaining: after.findings },
    () =>
      [
        `Applied ${outcome.applied.length} repair statement(s) in one transaction.`,
        outcome.demoted.length ? `Not applied (their safety check failed):\n${manualText(outcome.demoted)}` : "",
        after.findings.length ? `Still differs:\n${renderFindings(after.findings)}` : "Verified again: no drift.",
      ].filter(Boolean).join("\n"),
  );
  return after.findings.length ? ExitCode.drift : ExitCode.ok;
}
