// The tracking tables of other migration tools (dbmate, golang-migrate, Prisma,
// Alembic): find them, read what they say was applied, refuse a state that is not
// a clean version. Read-only; recording the adoption is in tracking.ts.

import { brand } from "../brand.ts";
import { ExitCode, PgshipError } from "../core/errors.ts";
import { prismaVersion, type AdoptTool, type AlembicMap } from "../core/adopt-map.ts";
import type { Sql } from "./connect.ts";

export interface SourceTable {
  schema: string;
  name: string;
}

export interface SourceState {
  tool: AdoptTool;
  table: SourceTable;
  /** What the tool recorded, in its own terms (Alembic: revision ids). */
  recorded: string[];
  /** The same as this binary's versions (Alembic: through the map). */
  versions: string[];
}

const TABLE: Record<AdoptTool, string> = {
  dbmate: "schema_migrations",
  "golang-migrate": "schema_migrations",
  prisma: "_prisma_migrations",
  alembic: "alembic_version",
};

export const qualified = (t: SourceTable) => `${quote(t.schema)}.${quote(t.name)}`;
const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** The table as the tool would find it: by name through the search path. */
async function findTable(sql: Sql, name: string): Promise<(SourceTable & { dirty: boolean }) | null> {
  const [row] = await sql.unsafe<{ schema: string; name: string; dirty: boolean }[]>(
    `select n.nspname as schema, c.relname as name,
            exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'dirty' and not a.attisdropped) as dirty
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.oid = to_regclass(quote_ident($1))`,
    [name],
  );
  return row ?? null;
}

/**
 * Which tool migrated this database, by its tracking table (`schema_migrations` with a
 * `dirty` column is golang-migrate's, without it dbmate's), and the newest version it
 * recorded; null when there is none or it holds no version.
 */
export async function detectForeign(sql: Sql): Promise<{ tool: AdoptTool; version: string } | null> {
  for (const tool of ["prisma", "alembic", "dbmate"] as const) {
    const t = await findTable(sql, TABLE[tool]);
    if (!t) continue;
    const actual: AdoptTool = tool === "dbmate" && t.dirty ? "golang-migrate" : tool;
    const recorded = await readRecorded(sql, actual, t).catch(() => []);
    const newest = recorded.map((r) => r.value).sort().at(-1);
    if (newest) return { tool: actual, version: newest };
  }
  return null;
}

interface RecordedRow {
  value: string;
  /** golang-migrate: dirty; Prisma: failed or rolled back and never applied again. */
  bad?: "dirty" | "failed";
}

async function readRecorded(sql: Sql, tool: AdoptTool, t: SourceTable): Promise<RecordedRow[]> {
  const q = qualified(t);
  switch (tool) {
    case "dbmate":
      return (await sql.unsafe<{ v: string }[]>(`select version::text as v from ${q} order by 1`)).map((r) => ({ value: r.v }));
    case "golang-migrate":
      return (await sql.unsafe<{ v: string; dirty: boolean }[]>(`select version::text as v, dirty from ${q} order by version`)).map((r) => ({ value: r.v, ...(r.dirty ? { bad: "dirty" as const } : {}) }));
    case "prisma": {
      // Prisma keeps every attempt: a migration counts when one of its rows finished and was not rolled back.
      const rows = await sql.unsafe<{ name: string; ok: boolean }[]>(
        `select migration_name as name, bool_or(finished_at is not null and rolled_back_at is null) as ok from ${q} group by 1 order by 1`,
      );
      return rows.map((r) => ({ value: r.name, ...(r.ok ? {} : { bad: "failed" as const }) }));
    }
    case "alembic":
      return (await sql.unsafe<{ v: string }[]>(`select version_num::text as v from ${q} order by 1`)).map((r) => ({ value: r.v }));
  }
}

/**
 * What `tool` recorded, as this binary's versions. Refuses (each with its own code) a missing
 * table, a dirty golang-migrate state, a failed Prisma migration, an unmapped Alembic revision
 * and a version this binary has no migration for.
 */
export async function readSource(sql: Sql, tool: AdoptTool, known: Set<string>, alembicMap: AlembicMap): Promise<SourceState> {
  const name = TABLE[tool];
  const t = await findTable(sql, name);
  if (!t) {
    throw new PgshipError("adopt_source_missing", `there is no ${name} table: this database was not migrated by ${tool}`, {
      hint: `check --from (dbmate, golang-migrate, prisma or alembic) and that the table's schema is on the role's search_path; nothing was recorded`,
    });
  }
  const table = { schema: t.schema, name: t.name };
  if (tool === "dbmate" && t.dirty) {
    throw new PgshipError("adopt_source_missing", `${table.schema}.${name} has a "dirty" column: it is golang-migrate's, not dbmate's`, { hint: "use --from golang-migrate; nothing was recorded" });
  }
  if (tool === "golang-migrate" && !t.dirty) {
    throw new PgshipError("adopt_source_missing", `${table.schema}.${name} has no "dirty" column: it is dbmate's, not golang-migrate's`, { hint: "use --from dbmate; nothing was recorded" });
  }
  const rows = await readRecorded(sql, tool, table);
  if (rows.length === 0) {
    throw new PgshipError("adopt_source_missing", `${table.schema}.${name} records no version: ${tool} applied nothing here`, { hint: "nothing was recorded; if the schema is at a known version V, use 'baseline V'" });
  }
  const dirty = rows.find((r) => r.bad === "dirty");
  if (dirty) {
    throw new PgshipError("adopt_dirty", `golang-migrate left version ${dirty.value} dirty: that migration failed part-way, so the schema is not at any version`, {
      hint: `finish or undo it by hand, mark the real version with 'migrate force V', then adopt again; nothing was recorded`,
    });
  }
  const failed = rows.filter((r) => r.bad === "failed");
  if (failed.length) {
    throw new PgshipError("adopt_failed_migration", `Prisma migration ${failed.map((r) => r.value).join(", ")} failed or was rolled back and never applied again, so the schema is not at any version`, {
      hint: "resolve it with Prisma ('prisma migrate resolve', then 'prisma migrate deploy') and adopt again; nothing was recorded",
    });
  }
  let versions: string[];
  if (tool === "alembic") {
    const unmapped = rows.filter((r) => !alembicMap[r.value]);
    if (unmapped.length) {
      throw new PgshipError("adopt_unmapped", `Alembic revision ${unmapped.map((r) => r.value).join(", ")} has no ${brand.display} version in this binary's map`, {
        hint: `add it to "pgship": { "adopt": { "alembic": { "<revision>": "<version>" } } } in package.json and rebuild; nothing was recorded`,
      });
    }
    versions = rows.map((r) => alembicMap[r.value]!);
  } else {
    versions = rows.map((r) => (tool === "prisma" ? prismaVersion(r.value) : r.value));
  }
  const unknown = versions.filter((v) => !known.has(v));
  if (unknown.length) {
    throw new PgshipError("adopt_unknown_version", `${tool} recorded ${unknown.join(", ")}, which this binary has no migration for`, {
      exitCode: ExitCode.error,
      hint: "use the release of the app whose migrations made this database (or a newer one); nothing was recorded",
    });
  }
  return { tool, table, recorded: rows.map((r) => r.value), versions: [...new Set(versions)].sort() };
}
