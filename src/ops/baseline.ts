// baseline V: adopt a database whose schema is already at V (made by hand, by
// dbmate, by Alembic...): record V and everything older as applied, run nothing.

import { brand } from "../brand.ts";
import { PgshipError } from "../core/errors.ts";
import { findMigration } from "../core/plan.ts";
import { stampRows } from "../db/tracking.ts";
import type { OpContext } from "./context.ts";
import { withRun } from "./run.ts";

export interface BaselineOptions {
  version: string;
}

export interface BaselineOutcome {
  ok: true;
  version: string;
  /** Migrations recorded as applied. */
  recorded: number;
}

export async function baseline(ctx: OpContext, opts: BaselineOptions): Promise<BaselineOutcome> {
  const recorded = await withRun(ctx, "baseline", async (s) => {
    const target = findMigration(s.set, opts.version);
    if (s.state.managed && s.state.applied.length > 0) {
      throw new PgshipError("already_managed", `this database is already managed by ${ctx.binary}`, {
        hint: `use '${ctx.binary} status' to see its version; baseline is only for adopting a database`,
      });
    }
    if (s.state.empty) {
      throw new PgshipError("baseline_empty", "the database is empty: there is nothing to adopt", { hint: `use '${ctx.binary} install' for a fresh install` });
    }
    if (s.state.foreign && s.state.foreign.tool === "dbmate" && s.state.foreign.version !== opts.version) {
      ctx.emit({ type: "warn", message: `dbmate's schema_migrations says ${s.state.foreign.version}, but you asked for ${opts.version}` });
    }
    s.require(["record", "apply"]);
    const runId = await s.begin(null);
    const stamps = s.set.migrations.filter((m) => m.version <= target.version);
    await stampRows(s.db.sql, ctx.schema, stamps.map((m) => ({ version: m.version, name: m.name, checksum: m.checksum, via: "baseline", durationMs: null, toolVersion: brand.version, runId })));
    return { value: stamps.length, toVersion: opts.version };
  });
  return { ok: true, version: opts.version, recorded };
}
