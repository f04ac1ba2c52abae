// baseline V: adopt a database whose schema is already at V (made by hand, by
// dbmate, by Alembic...): record V and everything older as applied, run nothing.

import type { ArgsDef } from "citty";
import { ExitCode, PgshipError } from "../core/errors.ts";
import { findMigration } from "../core/plan.ts";
import { stampRows } from "../db/tracking.ts";
import { brand, withRun, type Context } from "../cli/context.ts";
import type { Args } from "../cli/flags.ts";

export const args = {
  version: { type: "positional", description: "The migration version the database's schema already matches", required: true },
} as const satisfies ArgsDef;

export const usage = `Examples:
  pgship baseline 20250301120000   # schema matches everything up to and including this migration
A database managed by dbmate keeps its versions in public.schema_migrations; pgship names the version it finds there.`;

export async function run(ctx: Context, a: Args): Promise<number> {
  const version = String(a.version);
  const count = await withRun(ctx, "baseline", async (s) => {
    const target = findMigration(s.set, version);
    if (s.state.managed && s.state.applied.length > 0) {
      throw new PgshipError("already_managed", "this database is already managed by pgship", {
        hint: "use 'pgship status' to see its version; baseline is only for adopting a database",
      });
    }
    if (s.state.empty) {
      throw new PgshipError("baseline_empty", "the database is empty: there is nothing to adopt", { hint: "use 'pgship install' for a fresh install" });
    }
    if (s.state.foreign && s.state.foreign.tool === "dbmate" && s.state.foreign.version !== version) {
      ctx.log.warn(`dbmate's schema_migrations says ${s.state.foreign.version}, but you asked for ${version}`);
    }
    s.require(["record", "apply"]);
    const runId = await s.begin(null);
    const stamps = s.set.migrations.filter((m) => m.version <= target.version);
    await stampRows(s.db.sql, ctx.schema, stamps.map((m) => ({ version: m.version, name: m.name, checksum: m.checksum, via: "baseline", durationMs: null, toolVersion: brand.version, runId })));
    return { value: stamps.length, toVersion: version };
  });
  ctx.result({ ok: true, version, recorded: count }, () => `Baselined at ${version}: ${count} migrations recorded as applied. Run 'pgship up' for newer ones.`);
  return ExitCode.ok;
}
