// After a restore: record it in the restored database's history, compare its
// schema version with this binary, and run `update` when --update asks.

import { computeStatus } from "../core/plan.ts";
import { finishHistory, readState, startHistory } from "../db/tracking.ts";
import { brand, type Context } from "../cli/context.ts";
import { connect } from "../db/connect.ts";
import { migrate } from "../ops/migrate.ts";

export interface AfterRestore {
  managed: boolean;
  schemaVersion: string | null;
  head: string | null;
  pending: number;
  /** Migrations in the database this binary does not know (the backup is newer). */
  unknown: number;
  update: unknown | null;
}

/** `database`: a restore --into that database (beside the live one): recorded there, nothing else said or done. */
/** `args`: the history row's args (what was restored, and the way back: see historyArgs). */
export async function afterRestore(ctx: Context, o: { args: string; fromVersion: string | null; update: boolean; database?: string }): Promise<AfterRestore> {
  const set = await ctx.migrations();
  const db = o.database === undefined ? await ctx.connect("restore") : await connect({ ...ctx.target(), database: o.database }, { applicationName: `${brand.binary} restore` });
  let report;
  try {
    const state = await readState(db.sql, ctx.schema);
    report = computeStatus(set, state);
    if (state.managed) {
      const id = await startHistory(db.sql, ctx.schema, "restore", o.args, brand.version, o.fromVersion);
      await finishHistory(db.sql, ctx.schema, id, "ok", null, report.version);
    }
  } finally {
    await db.close().catch(() => undefined);
  }
  const out: AfterRestore = {
    managed: report.managed,
    schemaVersion: report.version,
    head: report.head,
    pending: report.counts.pending,
    unknown: report.counts.unknown,
    update: null,
  };
  if (o.database !== undefined) return out;
  if (out.unknown) {
    ctx.log.warn(`the restored database has ${out.unknown} migration${out.unknown === 1 ? "" : "s"} this binary does not know: it is newer than this binary; use the release that made the backup`);
  } else if (out.managed && out.pending) {
    if (o.update) {
      ctx.log.info(`the backup is at ${out.schemaVersion ?? "(none)"}, this binary at ${out.head}: applying ${out.pending} pending migration${out.pending === 1 ? "" : "s"}`);
      // The same code as `pgship update`, its result folded into restore's.
      const r = await migrate(ctx, { mode: "update" });
      out.update = { action: r.action, from: r.from, to: r.to, steps: r.steps.map((d) => ({ version: d.version, name: d.name, durationMs: d.durationMs })), drift: r.drift };
      out.schemaVersion = r.to;
      out.pending = 0;
    } else {
      ctx.log.warn(`the backup is at schema ${out.schemaVersion ?? "(none)"}, ${out.pending} migration${out.pending === 1 ? "" : "s"} behind this binary (${out.head}): run 'pgship update' (or restore with --update)`);
    }
  }
  return out;
}
