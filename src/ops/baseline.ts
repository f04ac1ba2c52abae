// baseline: adopt a database whose schema is already at a version (made by hand,
// by dbmate, golang-migrate, Prisma, Alembic...): record that version and everything
// older as applied, run nothing. With `from`, the version is the one the other tool
// recorded, and the live schema must match the exact model of it first.

import { brand } from "../brand.ts";
import type { AdoptTool } from "../core/adopt-map.ts";
import { ExitCode, PgshipError, UsageError } from "../core/errors.ts";
import { findMigration } from "../core/plan.ts";
import { readSource, type SourceTable } from "../db/adopt.ts";
import { withTransaction, type Sql } from "../db/connect.ts";
import { dropAdopted, readAdopted, readState, recordAdoption, stampRows } from "../db/tracking.ts";
import type { OpContext } from "./context.ts";
import { withRun, type RunSession } from "./run.ts";

export interface BaselineOptions {
  /** The version the schema is at (baseline V). */
  version?: string;
  /** Read the version from this tool's tracking table instead. */
  from?: AdoptTool;
  /** With `from`: record even when the schema differs from the model of that version. */
  force?: boolean;
  /** Drop the adopted tool's tracking table (after adopting, or on its own later). */
  dropSource?: boolean;
}

export interface BaselineOutcome {
  ok: true;
  /** The version the database is at (null: --drop-source alone on a database with no version). */
  version: string | null;
  /** Migrations recorded as applied (0 for --drop-source alone). */
  recorded: number;
  /** With --from: what was adopted. */
  adopted?: Adoption;
  /** Tracking tables of the other tool that were dropped (--drop-source). */
  dropped?: string[];
}

export interface Adoption {
  tool: AdoptTool;
  /** The other tool's tracking table, kept until --drop-source. */
  table: string;
  /** What the tool recorded last (an Alembic revision id, or a version). */
  sourceVersion: string;
  version: string;
  /** Differences from the model of that version (0 unless forced). */
  drift: number;
  forced: boolean;
}

export async function baseline(ctx: OpContext, opts: BaselineOptions): Promise<BaselineOutcome> {
  if (opts.version && opts.from) throw new UsageError("give either a version or --from, not both", "with --from the version is the one the other tool recorded");
  if (opts.force && !opts.from) throw new UsageError("--force goes with --from");
  if (!opts.version && !opts.from && !opts.dropSource) throw new UsageError("say which version the schema is at, or where to read it", `${brand.binary} baseline V, ${brand.binary} baseline --from dbmate|golang-migrate|prisma|alembic, or ${brand.binary} baseline --drop-source`);
  return withRun<BaselineOutcome>(ctx, "baseline", async (s) => {
    if (!opts.version && !opts.from) return dropOnly(ctx, s);
    const asked = opts.version ? findMigration(s.set, opts.version).version : null;
    if (s.state.managed && s.state.applied.length > 0) {
      throw new PgshipError("already_managed", `this database is already managed by ${ctx.binary}`, {
        hint: `use '${ctx.binary} status' to see its version; baseline is only for adopting a database`,
      });
    }
    if (s.state.empty) {
      throw new PgshipError("baseline_empty", "the database is empty: there is nothing to adopt", { hint: `use '${ctx.binary} install' for a fresh install` });
    }
    let adopted: Adoption | undefined;
    let version: string;
    let recorded: number;
    if (opts.from) {
      adopted = await adopt(ctx, s, opts.from, opts.force === true);
      ({ version } = adopted);
      recorded = s.set.migrations.filter((m) => m.version <= version).length;
    } else {
      version = asked!;
      if (s.state.foreign && s.state.foreign.version !== version && s.state.foreign.tool !== "alembic") {
        ctx.emit({ type: "warn", message: `${s.state.foreign.tool}'s tracking table says ${s.state.foreign.version}, but you asked for ${version}` });
      }
      s.require(["record", "apply"]);
      const runId = await s.begin(null);
      recorded = await stamp(ctx, s.db.sql, s, version, runId);
    }
    let dropped: string[] | undefined;
    if (opts.dropSource) dropped = await drop(ctx, s);
    return { value: { ok: true as const, version, recorded, ...(adopted ? { adopted } : {}), ...(dropped ? { dropped } : {}) }, toVersion: version };
  });
}

/**
 * Adopts what `tool` recorded: refuses a state that is not a clean known version, compares the
 * live schema with the exact model of that version (nothing is recorded when it differs, unless
 * forced), then records every migration up to it as applied via baseline and lists the tool's
 * table as adopted. Used by baseline --from and up --adopt, inside their run.
 */
export async function adopt(ctx: OpContext, s: RunSession, tool: AdoptTool, force: boolean): Promise<Adoption> {
  const known = new Set(s.set.migrations.map((m) => m.version));
  const source = await readSource(s.db.sql, tool, known, brand.alembicMap);
  const version = source.versions.at(-1)!;
  const sourceVersion = source.recorded.at(-1)!;
  const { compareAt } = await import("../catalog/verify-db.ts");
  const { renderFindings } = await import("../catalog/diff.ts");
  const { findings, expected } = await compareAt(s.db, s.set, ctx.schema, version, ctx.emit, { ignore: [source.table] });
  const table = `${source.table.schema}.${source.table.name}`;
  if (findings.length && !force) {
    throw new PgshipError(
      "adopt_drift",
      `the schema differs from the one ${tool}'s ${tool === "alembic" ? `revision ${sourceVersion} (version ${version})` : `version ${version}`} should have, in ${findings.length} place(s); nothing was recorded (${expected.note}):\n\n${renderFindings(findings)}`,
      {
        exitCode: ExitCode.drift,
        hint: `bring the schema to ${version} by hand and adopt again, or record it anyway with '${ctx.binary} baseline --from ${tool} --force' (then '${ctx.binary} verify' reports the differences and 'verify --fix' repairs the additive ones)`,
      },
    );
  }
  if (findings.length) ctx.emit({ type: "warn", message: `recording ${version} although the schema differs in ${findings.length} place(s) (--force); run '${ctx.binary} verify' for the report` });
  s.require(["record", "apply"]);
  const runId = await s.begin(null);
  await withTransaction(s.db.sql, async (tx) => {
    await stamp(ctx, tx, s, version, runId);
    await recordAdoption(tx, ctx.schema, { table: source.table, tool, version, sourceVersion, forced: findings.length > 0, drift: findings.length, runId });
  });
  return { tool, table, sourceVersion, version, drift: findings.length, forced: findings.length > 0 };
}

async function stamp(ctx: OpContext, sql: Sql, s: RunSession, version: string, runId: number): Promise<number> {
  const stamps = s.set.migrations.filter((m) => m.version <= version);
  await stampRows(sql, ctx.schema, stamps.map((m) => ({ version: m.version, name: m.name, checksum: m.checksum, via: "baseline", durationMs: null, toolVersion: brand.version, runId })));
  return stamps.length;
}

async function drop(ctx: OpContext, s: RunSession): Promise<string[]> {
  const tables: SourceTable[] = await readAdopted(s.db.sql, ctx.schema);
  if (tables.length === 0) {
    throw new PgshipError("adopt_source_missing", "no other tool's tracking table was adopted here, so there is nothing to drop", {
      hint: `adopt first with '${ctx.binary} baseline --from TOOL' (add --drop-source to drop its table at once)`,
    });
  }
  await s.begin(null);
  await withTransaction(s.db.sql, (tx) => dropAdopted(tx, ctx.schema, tables));
  return tables.map((t) => `${t.schema}.${t.name}`);
}

async function dropOnly(ctx: OpContext, s: RunSession): Promise<{ value: BaselineOutcome; toVersion: string | null }> {
  if (!s.state.managed || s.state.applied.length === 0) {
    throw new PgshipError("not_installed", `the database is not managed by ${ctx.binary}: adopt it before dropping the other tool's table`, {
      hint: `'${ctx.binary} baseline --from TOOL --drop-source' does both`,
    });
  }
  const dropped = await drop(ctx, s);
  const state = await readState(s.db.sql, ctx.schema);
  const version = state.applied.filter((r) => r.state === "applied").map((r) => r.version).sort().at(-1) ?? null;
  return { value: { ok: true as const, version, recorded: 0, dropped }, toVersion: version };
}
