// The tracking schema: one row per applied migration and an append-only history
// of runs. Only this file writes SQL against it.

import { brand } from "../brand.ts";
import { hostname, userInfo } from "node:os";
import type { AppliedRow, AppliedVia, DatabaseState } from "../core/plan.ts";
import { env, pid } from "../runtime.ts";
import type { Sql } from "./connect.ts";
import { detectForeign, qualified, type SourceTable } from "./adopt.ts";
import type { AdoptTool } from "../core/adopt-map.ts";

import { quoteIdent, quoteLiteral } from "../core/format.ts";

export function trackingDdl(schema: string): string {
  const s = quoteIdent(schema);
  return `
create schema if not exists ${s};
create table if not exists ${s}.migrations (
  version      text primary key check (version ~ '^[0-9]{14}$'),
  name         text not null,
  checksum     text not null,
  state        text not null check (state in ('running', 'applied')),
  applied_via  text not null check (applied_via in ('migration', 'snapshot', 'baseline')),
  started_at   timestamptz not null default clock_timestamp(),
  applied_at   timestamptz,
  duration_ms  integer,
  tool_version text not null,
  run_id       bigint
);
create table if not exists ${s}.history (
  id           bigserial primary key,
  command      text not null,
  args         text not null default '',
  result       text not null default 'running' check (result in ('running', 'ok', 'error')),
  error        text,
  from_version text,
  to_version   text,
  tool_version text not null,
  os_user      text,
  host         text,
  pid          integer,
  backend_pid  integer not null default pg_backend_pid(),
  started_at   timestamptz not null default clock_timestamp(),
  finished_at  timestamptz
);
comment on schema ${s} is '${brand.display}: applied migrations and run history. Managed by ${brand.display}; do not edit.';
`;
}

/**
 * Creates the tracking schema and tables when they are missing. When they exist, nothing runs:
 * `create schema if not exists` needs CREATE on the database even then, and a role that only
 * reads and writes the tracking tables must be able to run.
 */
export async function ensureTracking(sql: Sql, schema: string): Promise<void> {
  const [row] = await sql.unsafe<{ n: number }[]>(
    `select count(*)::int as n from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = $1 and c.relname in ('migrations', 'history') and c.relkind in ('r', 'p')`,
    [schema],
  );
  if (row!.n === 2) return;
  await sql.unsafe(trackingDdl(schema));
}

export async function trackingExists(sql: Sql, schema: string): Promise<boolean> {
  // A literal, not a parameter: one round trip instead of two (status runs this on every call).
  const [row] = await sql.unsafe<{ ok: boolean }[]>(`select to_regclass(${quoteLiteral(`${quoteIdent(schema)}.migrations`)}) is not null as ok`);
  return row!.ok;
}

/** The newest applied migration, or null (no tracking schema, nothing applied). */
export async function appliedVersion(sql: Sql, schema: string): Promise<string | null> {
  if (!(await trackingExists(sql, schema))) return null;
  const [row] = await sql.unsafe<{ v: string | null }[]>(`select max(version) as v from ${quoteIdent(schema)}.migrations where state = 'applied'`);
  return row?.v ?? null;
}

const SYSTEM_SCHEMAS = `n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_toast%' and n.nspname not like 'pg\\_temp%'`;
const NOT_EXTENSION = (cls: string, oid: string) =>
  `not exists (select 1 from pg_depend d where d.classid = '${cls}'::regclass and d.objid = ${oid} and d.deptype = 'e')`;

export async function readState(sql: Sql, schema: string): Promise<DatabaseState> {
  const managed = await trackingExists(sql, schema);
  const applied = managed ? await readApplied(sql, schema) : [];
  // An installed database is never "empty"; skip the object count for it.
  if (applied.length > 0) return { managed, applied, empty: false, foreign: null };
  const [row] = await sql.unsafe<{ objects: number }[]>(
    `select
      (select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where ${SYSTEM_SCHEMAS} and n.nspname <> $1 and ${NOT_EXTENSION("pg_class", "c.oid")})
    + (select count(*) from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where ${SYSTEM_SCHEMAS} and n.nspname <> $1 and ${NOT_EXTENSION("pg_proc", "p.oid")})
    + (select count(*) from pg_type t join pg_namespace n on n.oid = t.typnamespace
        where ${SYSTEM_SCHEMAS} and n.nspname <> $1 and t.typtype in ('e', 'd', 'r') and ${NOT_EXTENSION("pg_type", "t.oid")})
    + (select count(*) from pg_namespace n where ${SYSTEM_SCHEMAS} and n.nspname not in ($1, 'public')
        and ${NOT_EXTENSION("pg_namespace", "n.oid")})
      as objects`,
    [schema],
  );
  // Another tool's tracking table: what 'up' names when it refuses, and what 'up --adopt' adopts.
  const foreign = Number(row!.objects) === 0 ? null : await detectForeign(sql);
  return { managed, applied, empty: Number(row!.objects) === 0, foreign };
}

/** A timestamptz as the text Date#toISOString would give (UTC, milliseconds): parsing 500 Dates costs a cold start more. */
const isoText = (col: string) => `to_char(${col} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

async function readApplied(sql: Sql, schema: string): Promise<AppliedRow[]> {
  // One JSON value, not a row per migration: a cold process decodes one string far faster than thousands of columns.
  type Row = [string, string, string, string, string, string | null, string | null, number | null];
  const [r] = await sql.unsafe<{ rows: Row[] | string }[]>(
    `select coalesce(json_agg(json_build_array(version, name, checksum, state, applied_via, ${isoText("started_at")}, ${isoText("applied_at")}, duration_ms) order by version), '[]') as rows
       from ${quoteIdent(schema)}.migrations`,
  );
  const rows = typeof r!.rows === "string" ? (JSON.parse(r!.rows) as Row[]) : r!.rows;
  return rows.map(([version, name, checksum, state, via, startedAt, appliedAt, durationMs]) => ({
    version,
    name,
    checksum,
    state: state as AppliedRow["state"],
    via: via as AppliedVia,
    startedAt,
    appliedAt,
    durationMs,
  }));
}

/**
 * readState and lastRun in one round trip when the database is managed and has rows (the
 * usual case: both queries go out together, with no tracking-table check before them);
 * otherwise, or when either fails, readState's own path.
 */
export async function readStateAndLastRun(sql: Sql, schema: string): Promise<{ state: DatabaseState; last: LastRun | null }> {
  const [applied, last] = await Promise.allSettled([readApplied(sql, schema), lastRun(sql, schema)]);
  if (applied.status === "fulfilled" && applied.value.length > 0 && last.status === "fulfilled") {
    return { state: { managed: true, applied: applied.value, empty: false, foreign: null }, last: last.value };
  }
  const state = await readState(sql, schema);
  return { state, last: state.managed ? await lastRun(sql, schema) : null };
}

export interface RowInput {
  version: string;
  name: string;
  checksum: string;
  via: AppliedVia;
  durationMs: number | null;
  toolVersion: string;
  runId: number | null;
}

/** A value as an SQL literal (standard_conforming_strings or not). */
const literal = (v: string | number | null): string =>
  v === null ? "null" : typeof v === "number" ? String(Math.trunc(v)) : v.includes("\\") ? `E'${v.replace(/\\/g, "\\\\").replace(/'/g, "''")}'` : quoteLiteral(v);

/**
 * upsertRow's statement as text, values as literals: it can share one message with COMMIT.
 * serverDuration: duration_ms is the time since the transaction began, taken by the server.
 */
export function upsertRowSql(schema: string, r: RowInput, state: "running" | "applied", serverDuration = false): string {
  const duration = serverDuration ? "(extract(epoch from clock_timestamp() - now()) * 1000)::int" : literal(r.durationMs);
  return `insert into ${quoteIdent(schema)}.migrations
       (version, name, checksum, state, applied_via, applied_at, duration_ms, tool_version, run_id)
     values (${literal(r.version)}, ${literal(r.name)}, ${literal(r.checksum)}, ${literal(state)}, ${literal(r.via)}, ${state === "applied" ? "clock_timestamp()" : "null"}, ${duration}, ${literal(r.toolVersion)}, ${literal(r.runId)})
     on conflict (version) do update set
       name = excluded.name, checksum = excluded.checksum, state = excluded.state,
       applied_via = excluded.applied_via, applied_at = excluded.applied_at,
       duration_ms = excluded.duration_ms, tool_version = excluded.tool_version, run_id = excluded.run_id`;
}

/** Records a migration as applied (or running, for transaction:false ones). */
export async function upsertRow(sql: Sql, schema: string, r: RowInput, state: "running" | "applied"): Promise<void> {
  await sql.unsafe(upsertRowSql(schema, r, state));
}

/** Records many migrations as applied in one statement (snapshot stamps, baseline). */
export async function stampRows(sql: Sql, schema: string, rows: RowInput[]): Promise<void> {
  if (rows.length === 0) return;
  // One JSON parameter: arrays as parameters need type information the client does not fetch.
  const data = JSON.stringify(rows.map((r) => ({ v: r.version, n: r.name, c: r.checksum, via: r.via })));
  await sql.unsafe(
    `insert into ${quoteIdent(schema)}.migrations
       (version, name, checksum, state, applied_via, applied_at, tool_version, run_id)
     select v, n, c, 'applied', via, clock_timestamp(), $2, $3
       from json_to_recordset($1::text::json) as t(v text, n text, c text, via text)
     on conflict (version) do update set
       name = excluded.name, checksum = excluded.checksum, state = excluded.state, applied_via = excluded.applied_via,
       applied_at = excluded.applied_at, duration_ms = null, tool_version = excluded.tool_version, run_id = excluded.run_id`,
    [data, rows[0]!.toolVersion, rows[0]!.runId],
  );
}

export const deleteRowSql = (schema: string, version: string): string => `delete from ${quoteIdent(schema)}.migrations where version = ${literal(version)}`;

export async function deleteRow(sql: Sql, schema: string, version: string): Promise<void> {
  await sql.unsafe(deleteRowSql(schema, version));
}

export interface LastRun {
  id: number;
  command: string;
  result: string;
  error: string | null;
  startedAt: string;
  finishedAt: string | null;
  user: string | null;
  host: string | null;
  fromVersion: string | null;
  toVersion: string | null;
}

/** Who ran it: $USER, else the account name, else the uid (some runtimes answer "unknown"). */
function osUser(): string {
  const e = env();
  let name = e.USER || e.LOGNAME || "";
  if (!name) {
    try {
      name = userInfo().username;
    } catch {
      name = "";
    }
  }
  return name && name !== "unknown" ? name : `uid ${process.getuid?.() ?? "?"}`;
}

export async function startHistory(sql: Sql, schema: string, command: string, args: string, toolVersion: string, fromVersion: string | null): Promise<number> {
  const user = osUser();
  const [row] = await sql.unsafe<{ id: string }[]>(
    `insert into ${quoteIdent(schema)}.history (command, args, tool_version, os_user, host, pid, from_version)
     values ($1, $2, $3, $4, $5, $6, $7) returning id`,
    [command, args, toolVersion, user, hostname(), pid(), fromVersion],
  );
  return Number(row!.id);
}

/** Appends a note to a run's recorded arguments, e.g. a change accepted with --accept-changed. */
export async function noteHistory(sql: Sql, schema: string, id: number, note: string): Promise<void> {
  await sql.unsafe(`update ${quoteIdent(schema)}.history set args = concat_ws(' ', nullif(args, ''), $2::text) where id = $1`, [id, `[${note}]`]);
}

export async function finishHistory(sql: Sql, schema: string, id: number, result: "ok" | "error", error: string | null, toVersion: string | null): Promise<void> {
  await sql.unsafe(
    `update ${quoteIdent(schema)}.history set result = $2, error = $3, to_version = $4, finished_at = clock_timestamp() where id = $1`,
    [id, result, error, toVersion],
  );
}

export async function lastRun(sql: Sql, schema: string): Promise<LastRun | null> {
  const [r] = await sql.unsafe<Record<string, unknown>[]>(
    `select id, command, result, error, ${isoText("started_at")} as started_at, ${isoText("finished_at")} as finished_at, os_user, host, from_version, to_version
       from ${quoteIdent(schema)}.history order by id desc limit 1`,
  );
  if (!r) return null;
  return {
    id: Number(r.id),
    command: String(r.command),
    result: String(r.result),
    error: (r.error as string | null) ?? null,
    startedAt: String(r.started_at),
    finishedAt: (r.finished_at as string | null) ?? null,
    user: (r.os_user as string | null) ?? null,
    host: (r.host as string | null) ?? null,
    fromVersion: (r.from_version as string | null) ?? null,
    toVersion: (r.to_version as string | null) ?? null,
  };
}

/** Another tool's tracking table, kept after adoption: part of the history, not drift. */
export interface AdoptedTable extends SourceTable {
  tool: AdoptTool;
}

/** The adopted tables (none when the table that lists them was never created). */
export async function readAdopted(sql: Sql, schema: string): Promise<AdoptedTable[]> {
  const [t] = await sql.unsafe<{ ok: boolean }[]>(`select to_regclass($1) is not null as ok`, [`${quoteIdent(schema)}.adopted`]);
  if (!t!.ok) return [];
  const rows = await sql.unsafe<{ s: string; n: string; tool: string }[]>(`select table_schema as s, table_name as n, tool from ${quoteIdent(schema)}.adopted order by 1, 2`);
  return rows.map((r) => ({ schema: r.s, name: r.n, tool: r.tool as AdoptTool }));
}

export interface AdoptionInput {
  table: SourceTable;
  tool: AdoptTool;
  /** This binary's version the database was adopted at. */
  version: string;
  /** What the tool itself recorded last (an Alembic revision id, or the version). */
  sourceVersion: string;
  /** Recorded with --force although the schema differed (that many findings). */
  forced: boolean;
  drift: number;
  runId: number;
}

/** Lists an adopted table (creating the list, readable by everyone like the history, the first time). */
export async function recordAdoption(sql: Sql, schema: string, a: AdoptionInput): Promise<void> {
  const s = quoteIdent(schema);
  const [t] = await sql.unsafe<{ ok: boolean }[]>(`select to_regclass($1) is not null as ok`, [`${s}.adopted`]);
  if (!t!.ok) {
    await sql.unsafe(`
create table if not exists ${s}.adopted (
  table_schema   text not null,
  table_name     text not null,
  tool           text not null,
  version        text not null,
  source_version text not null,
  forced         boolean not null default false,
  drift          integer not null default 0,
  run_id         bigint,
  adopted_at     timestamptz not null default clock_timestamp(),
  primary key (table_schema, table_name)
);
comment on table ${s}.adopted is '${brand.display}: tracking tables of the migration tool this database was adopted from (kept until baseline --drop-source).';
grant select on ${s}.adopted to public;`);
  }
  await sql.unsafe(
    `insert into ${s}.adopted (table_schema, table_name, tool, version, source_version, forced, drift, run_id)
     values ($1, $2, $3, $4, $5, $6, $7, $8)
     on conflict (table_schema, table_name) do update set tool = excluded.tool, version = excluded.version,
       source_version = excluded.source_version, forced = excluded.forced, drift = excluded.drift,
       run_id = excluded.run_id, adopted_at = excluded.adopted_at`,
    [a.table.schema, a.table.name, a.tool, a.version, a.sourceVersion, a.forced, a.drift, a.runId],
  );
}

/** Drops the adopted tables (the other tool can no longer roll back) and forgets them. */
export async function dropAdopted(sql: Sql, schema: string, tables: SourceTable[]): Promise<void> {
  for (const t of tables) {
    await sql.unsafe(`drop table if exists ${qualified(t)}`);
    await sql.unsafe(`delete from ${quoteIdent(schema)}.adopted where table_schema = $1 and table_name = $2`, [t.schema, t.name]);
  }
}
