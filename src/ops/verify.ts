// verify: the live schema against the exact schema of ITS version (pending
// migrations are not drift); with `fix`, additive repairs against that same
// model, in one transaction, after `ctx.confirm`, then verified again.

import { brand } from "../brand.ts";
import { describeTarget } from "../core/config.ts";
import { UsageError } from "../core/errors.ts";
import { renderFindings, type Finding } from "../catalog/diff.ts";
import { planRepairs, type Manual } from "../catalog/repair.ts";
import { applyRepairs, verifyDatabase, type Verification } from "../catalog/verify-db.ts";
import type { Db } from "../db/connect.ts";
import type { OpContext } from "./context.ts";
import { withRun } from "./run.ts";
import { checked } from "../db/privileges.ts";

export interface VerifyOptions {
  /** Repair additive drift (asks through ctx.confirm). */
  fix: boolean;
  /** With fix: plan the repairs, change nothing. */
  dryRun: boolean;
}

export interface VerifyOutcome {
  /** No drift left. */
  ok: boolean;
  database: string;
  /** The database's version: the version it is compared at. */
  version: string;
  /** The binary's newest version. */
  head: string | null;
  /** Migrations 'up' would apply: not drift. */
  pending: string[];
  comparedWith: { version: string; source: "model file" | "scratch replay"; note: string };
  /** Catalog queries used to read the live schema (the same whatever its size). */
  queries: number;
  findings: Finding[];
  /** With fix: what happened. Absent without fix, or when nothing differs. */
  fix?: "dry-run" | "nothing repairable" | "cancelled" | "applied";
  /** The repair SQL planned (dry-run, nothing repairable, cancelled). */
  repairs?: string[];
  /** The repair SQL applied, in one transaction. */
  repaired?: string[];
  /** Left for a person, with the reason (pgship never drops or rewrites data). */
  manual?: Manual[];
  /** What still differs after the repairs. */
  remaining?: Finding[];
  dryRun?: boolean;
  cancelled?: boolean;
}

export async function verify(ctx: OpContext, opts: VerifyOptions): Promise<VerifyOutcome> {
  if (opts.dryRun && !opts.fix) throw new UsageError("--dry-run goes with --fix");
  if (opts.fix && !opts.dryRun) {
    // Repairs change the database: hold the migration lock and record the run in the history.
    return withRun(ctx, "verify --fix", async (s) => {
      await s.begin(s.state.applied.map((r) => r.version).sort().at(-1) ?? null);
      const outcome = await verifyAndFix(ctx, s.db, opts);
      return { value: outcome, toVersion: null };
    });
  }
  const db = await ctx.connect("verify");
  try {
    // The privilege query is pipelined with verify's first reads of the tracking tables.
    return (await checked(db.sql, ctx.schema, ["read"], () => verifyAndFix(ctx, db, opts))).value;
  } finally {
    await db.close();
  }
}

export const manualText = (m: Manual[]) =>
  m.map((x) => `  ${x.finding.kind} ${x.finding.type} ${x.finding.name}: ${x.reason}${x.sql ? `\n    ${x.sql.replace(/\n/g, "\n    ")}` : ""}`).join("\n");

async function verifyAndFix(ctx: OpContext, db: Db, opts: VerifyOptions): Promise<VerifyOutcome> {
  const set = await ctx.migrations();
  const before = await verifyDatabase(db, set, ctx.schema, ctx.emit);
  const base = baseOutcome(describeTarget(db.target), before);
  if (!opts.fix || before.findings.length === 0) return { ...base, ok: before.findings.length === 0, findings: before.findings };

  // Always against the model of the database's own version (verifyDatabase never returns another).
  const plan = planRepairs(before.findings, before.expected.model);
  const sql = plan.repairs.map((r) => r.sql);
  ctx.emit({
    type: "info",
    message: [
      `${base.database} at ${before.version}: ${before.expected.note}.\n\n${renderFindings(before.findings)}\n`,
      plan.repairs.length ? `Repair SQL (one transaction):\n${sql.join("\n")}\n` : "",
      plan.manual.length ? `Left for a person (${brand.display} never drops or rewrites data):\n${manualText(plan.manual)}\n` : "",
    ].filter(Boolean).join("\n"),
  });
  if (opts.dryRun) return { ...base, ok: false, fix: "dry-run", dryRun: true, findings: before.findings, repairs: sql, manual: plan.manual };
  if (plan.repairs.length === 0) return { ...base, ok: false, fix: "nothing repairable", dryRun: false, findings: before.findings, repairs: [], manual: plan.manual };
  if (!(await ctx.confirm(`Apply ${plan.repairs.length} repair statement(s) to ${base.database}?`))) {
    return { ...base, ok: false, fix: "cancelled", cancelled: true, findings: before.findings, repairs: sql, manual: plan.manual };
  }
  const applied = await applyRepairs(db, plan, ctx.interrupt);
  // Committed: the outcome is the repair's, whatever signal arrived since (a second one still exits at once).
  if (ctx.interrupt.interrupted) ctx.emit({ type: "warn", message: "interrupted after the repair committed: the repairs below are applied" });
  const after = await verifyDatabase(db, set, ctx.schema, ctx.emit);
  return {
    ...base,
    ok: after.findings.length === 0,
    fix: "applied",
    findings: before.findings,
    repaired: applied.applied.map((r) => r.sql),
    manual: [...applied.demoted, ...plan.manual],
    remaining: after.findings,
  };
}

function baseOutcome(database: string, v: Verification) {
  return {
    database,
    version: v.version,
    head: v.head,
    pending: v.pending,
    comparedWith: { version: v.expected.version, source: v.expected.source, note: v.expected.note },
    queries: v.queries,
  };
}
