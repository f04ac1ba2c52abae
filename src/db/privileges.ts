// Least privilege: what the connected role may do with the tracking schema and
// the database, read in one catalog query (pipelined with the state read), and
// one clear error naming the missing privilege and the GRANT that gives it.
// The README's "Privileges" section lists what each command needs.

import { PgshipError } from "../core/errors.ts";
import { quoteLiteral } from "../core/format.ts";
import type { Sql } from "./connect.ts";

/** SQLSTATE insufficient_privilege. */
export const INSUFFICIENT_PRIVILEGE = "42501";

interface RelPrivileges {
  kind: "table" | "sequence";
  select: boolean;
  insert: boolean;
  update: boolean;
  delete: boolean;
  /** Sequences: USAGE (nextval). */
  usage: boolean;
}

export interface TrackingPrivileges {
  role: string;
  database: string;
  /** Owner of the database. */
  owner: string;
  createOnDatabase: boolean;
  /** Where unqualified CREATEs land (normally public), and whether the role may create there. */
  currentSchema: string | null;
  createOnCurrentSchema: boolean;
  /** null when there is no schema public. */
  createOnPublic: boolean | null;
  schema: string;
  schemaExists: boolean;
  schemaUsage: boolean;
  schemaCreate: boolean;
  /** The tracking schema's tables and sequences that exist, by name. */
  rels: Record<string, RelPrivileges>;
}

/**
 * What a command is about to do:
 * - read: status, verify, doctor, every plan (USAGE on the schema, SELECT on its tables);
 * - record: a history row for this run (INSERT, UPDATE on history, USAGE on its sequence);
 * - apply: rows in the migrations table (INSERT, UPDATE);
 * - rollback: deleting rows from the migrations table (down);
 * - create: a fresh install's objects (CREATE in the current schema, and in public for a snapshot that names it).
 * Where the tracking tables do not exist yet, record and apply mean creating them (CREATE on the database).
 */
export type Need = "read" | "record" | "apply" | "rollback" | "create" | "create-public";

export async function readTrackingPrivileges(sql: Sql, schema: string): Promise<TrackingPrivileges> {
  // By oid, not by name: resolving "schema.table" itself fails without USAGE on the schema.
  // The name is a literal, not a parameter: one round trip instead of two.
  const [r] = await sql.unsafe<Record<string, any>[]>(
    `select current_user::text as role, current_database()::text as database,
       (select pg_get_userbyid(datdba)::text from pg_database where datname = current_database()) as owner,
       has_database_privilege(current_database(), 'CREATE') as db_create,
       current_schema()::text as cur_schema,
       coalesce(has_schema_privilege(current_schema(), 'CREATE'), false) as cur_create,
       (select has_schema_privilege(p.oid, 'CREATE') from pg_namespace p where p.nspname = 'public') as public_create,
       n.oid is not null as schema_exists,
       coalesce(has_schema_privilege(n.oid, 'USAGE'), false) as schema_usage,
       coalesce(has_schema_privilege(n.oid, 'CREATE'), false) as schema_create,
       (select coalesce(json_agg(json_build_array(c.relname,
                case when c.relkind = 'S' then 'sequence' else 'table' end,
                case when c.relkind = 'S' then has_sequence_privilege(c.oid, 'SELECT') else has_table_privilege(c.oid, 'SELECT') end,
                c.relkind <> 'S' and has_table_privilege(c.oid, 'INSERT'),
                case when c.relkind = 'S' then has_sequence_privilege(c.oid, 'UPDATE') else has_table_privilege(c.oid, 'UPDATE') end,
                c.relkind <> 'S' and has_table_privilege(c.oid, 'DELETE'),
                c.relkind = 'S' and has_sequence_privilege(c.oid, 'USAGE'))), '[]'::json)
          from pg_class c where c.relnamespace = n.oid and c.relkind in ('r', 'p', 'S')) as rels
     from (select 1) one left join pg_namespace n on n.nspname = ${quoteLiteral(schema)}`,
  );
  const rels: Record<string, RelPrivileges> = {};
  const list = (typeof r!.rels === "string" ? JSON.parse(r!.rels) : r!.rels) as [string, "table" | "sequence", boolean, boolean, boolean, boolean, boolean][];
  for (const [name, kind, select, insert, update, del, usage] of list) rels[name] = { kind, select, insert, update, delete: del, usage };
  return {
    role: String(r!.role),
    database: String(r!.database),
    owner: String(r!.owner),
    createOnDatabase: Boolean(r!.db_create),
    currentSchema: (r!.cur_schema as string | null) ?? null,
    createOnCurrentSchema: Boolean(r!.cur_create),
    createOnPublic: r!.public_create === null ? null : Boolean(r!.public_create),
    schema,
    schemaExists: Boolean(r!.schema_exists),
    schemaUsage: Boolean(r!.schema_usage),
    schemaCreate: Boolean(r!.schema_create),
    rels,
  };
}

/** An identifier as it must be written in a GRANT statement. */
export function sqlName(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

export interface Lack {
  /** What the role cannot do, e.g. `read pgship.migrations`. */
  what: string;
  grants: string[];
  /** Creating objects in the database: making the role its owner also works. */
  ownerAlternative?: boolean;
}

const TRACKING_TABLES = ["migrations", "history"] as const;

/** What is missing for `needs`, in the order a command would hit it; empty when nothing is. */
export function lacking(p: TrackingPrivileges, needs: Need[]): Lack[] {
  const out: Lack[] = [];
  const role = sqlName(p.role);
  const s = sqlName(p.schema);
  const complete = p.schemaExists && TRACKING_TABLES.every((t) => p.rels[t]?.kind === "table");
  const want = new Set(needs);
  if (want.has("read") && p.schemaExists) {
    const unreadable = TRACKING_TABLES.filter((t) => p.rels[t] && (!p.schemaUsage || !p.rels[t]!.select));
    if (!p.schemaUsage || unreadable.length) {
      const first = unreadable[0] ?? "migrations";
      out.push({
        what: `read ${p.schema}.${first}`,
        grants: [
          ...(p.schemaUsage ? [] : [`GRANT USAGE ON SCHEMA ${s} TO ${role};`]),
          ...(unreadable.length ? [`GRANT SELECT ON ${unreadable.map((t) => `${s}.${t}`).join(", ")} TO ${role};`] : []),
        ],
      });
    }
  }
  if (!complete && (want.has("record") || want.has("apply"))) {
    // The tracking tables are created by this run.
    if (!p.schemaExists && !p.createOnDatabase) {
      out.push({ what: `create objects in database "${p.database}"`, grants: [`GRANT CREATE ON DATABASE ${sqlName(p.database)} TO ${role}`], ownerAlternative: true });
    } else if (p.schemaExists && !p.schemaCreate) {
      out.push({ what: `create the tracking tables in schema ${p.schema}`, grants: [`GRANT CREATE ON SCHEMA ${s} TO ${role};`] });
    }
  } else if (complete) {
    const writes: string[] = [];
    if (want.has("apply") || want.has("rollback")) {
      const m = p.rels.migrations!;
      const privs = [...(want.has("apply") && !m.insert ? ["INSERT"] : []), ...(want.has("apply") && !m.update ? ["UPDATE"] : []), ...(want.has("rollback") && !m.delete ? ["DELETE"] : [])];
      if (privs.length) writes.push(`GRANT ${privs.join(", ")} ON ${s}.migrations TO ${role};`);
    }
    if (want.has("record")) {
      const h = p.rels.history!;
      const privs = [...(!h.insert ? ["INSERT"] : []), ...(!h.update ? ["UPDATE"] : [])];
      if (privs.length) writes.push(`GRANT ${privs.join(", ")} ON ${s}.history TO ${role};`);
      const seqs = Object.entries(p.rels).filter(([, r]) => r.kind === "sequence" && !r.usage).map(([n]) => `${s}.${sqlName(n)}`);
      if (seqs.length) writes.push(`GRANT USAGE ON SEQUENCE ${seqs.join(", ")} TO ${role};`);
    }
    if (writes.length) {
      const tables = [writes.some((w) => w.includes(".migrations ")) ? `${p.schema}.migrations` : "", writes.some((w) => w.includes(".history ") || w.includes(" SEQUENCE ")) ? `${p.schema}.history` : ""].filter(Boolean);
      out.push({ what: `write ${tables.join(" and ")}`, grants: writes });
    }
  }
  if (want.has("create") || want.has("create-public")) {
    const schemas: string[] = [];
    if (p.currentSchema && p.currentSchema !== p.schema && !p.createOnCurrentSchema) schemas.push(p.currentSchema);
    if (want.has("create-public") && p.createOnPublic === false && !schemas.includes("public")) schemas.push("public");
    if (schemas.length) {
      const grants = schemas.map((x) => `GRANT CREATE ON SCHEMA ${sqlName(x)} TO ${role}`);
      const db = out.find((l) => l.ownerAlternative);
      if (db) db.grants.push(...grants);
      else out.push({ what: `create objects in schema ${schemas.join(", ")}`, grants, ownerAlternative: true });
    }
  }
  return out;
}

/** What the role cannot do: `role "app" cannot read pgship.migrations`. */
export function lackSentence(p: TrackingPrivileges, lacks: Lack[]): string {
  return `role "${p.role}" cannot ${lacks.map((l) => l.what).join(" or ")}`;
}

/** The GRANTs that fix it (and, for creating objects, the owner alternative). */
export function lackGrants(p: TrackingPrivileges, lacks: Lack[]): string {
  const grants = lacks.flatMap((l) => l.grants);
  const owner = lacks.some((l) => l.ownerAlternative)
    ? ` (or make ${sqlName(p.role)} the owner: ALTER DATABASE ${sqlName(p.database)} OWNER TO ${sqlName(p.role)})`
    : "";
  return `${owner ? grants.map((g) => g.replace(/;$/, "")).join("; ") : grants.join(" ")}${owner}`;
}

/** The one sentence: `role "app" cannot read pgship.migrations: GRANT ...`. */
export function describeLacks(p: TrackingPrivileges, lacks: Lack[]): string {
  return `${lackSentence(p, lacks)}: ${lackGrants(p, lacks)}`;
}

const HINT = "run the GRANT as the owner of those objects (or a superuser), or connect as a role that has these privileges; the README's Privileges section lists what each command needs";

export class PrivilegeError extends PgshipError {
  constructor(message: string, hint = HINT, cause?: unknown) {
    super("insufficient_privilege", message, { hint, cause });
  }
}

export function requirePrivileges(p: TrackingPrivileges, needs: Need[]): void {
  const lacks = lacking(p, needs);
  if (lacks.length) throw new PrivilegeError(describeLacks(p, lacks));
}

/**
 * Runs `work` (which reads the tracking tables) pipelined with the privilege
 * query on the same connection: no extra round trip. A missing privilege wins
 * over the permission error it causes in `work`.
 */
export async function checked<T>(sql: Sql, schema: string, needs: Need[], work: () => Promise<T>): Promise<{ value: T; privileges: TrackingPrivileges }> {
  const privileges = readTrackingPrivileges(sql, schema);
  const [p, w] = await Promise.allSettled([privileges, work()]);
  if (p.status === "rejected") throw p.reason;
  requirePrivileges(p.value, needs);
  if (w.status === "rejected") throw w.reason;
  return { value: w.value, privileges: p.value };
}

/**
 * Like checked, for work that only reads the tracking tables (status): the privilege query
 * runs only when the work fails, so the usual run pays for no catalog query. Work that
 * succeeded had what "read" needs; when it fails, a missing privilege wins as in checked.
 */
export async function checkedOnFailure<T>(sql: Sql, schema: string, needs: Need[], work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    const p = await readTrackingPrivileges(sql, schema).catch(() => null);
    if (p) requirePrivileges(p, needs);
    throw e;
  }
}

export const isInsufficientPrivilege = (e: unknown) => !(e instanceof PgshipError) && String((e as { code?: string })?.code) === INSUFFICIENT_PRIVILEGE;

/** A leftover permission error from the server, as one clear message naming the object the server named. */
export function fromServerPermissionError(e: unknown): PrivilegeError {
  const message = e instanceof Error ? e.message : String(e);
  return new PrivilegeError(
    `${message} (the connected role lacks a privilege)`,
    "grant it to this role (GRANT ... ON <the object above> TO <role>), or connect as a role that has it; the README's Privileges section lists what each command needs",
    e,
  );
}

/**
 * pg_dump reads every table and sequence: the first few this role cannot read, and the GRANTs
 * (per schema) that fix them. One catalog query.
 */
export async function requireDumpable(sql: Sql): Promise<void> {
  const [r] = await sql.unsafe<{ role: string; total: number; shown: string[] | string; schemas: [string, boolean, boolean, boolean][] | string }[]>(
    `with missing as (
       select n.nspname::text as nsp, c.relname::text as rel, has_schema_privilege(n.oid, 'USAGE') as usage, c.relkind = 'S' as seq
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.relkind in ('r', 'p', 'S')
          and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_toast%' and n.nspname not like 'pg\\_temp%'
          and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')
          and not (has_schema_privilege(n.oid, 'USAGE')
                   and case when c.relkind = 'S' then has_sequence_privilege(c.oid, 'SELECT') else has_table_privilege(c.oid, 'SELECT') end))
     select current_user::text as role, (select count(*)::int from missing) as total,
       (select coalesce(json_agg(f.name), '[]'::json) from (select nsp || '.' || rel as name from missing order by nsp, rel limit 5) f) as shown,
       (select coalesce(json_agg(json_build_array(g.nsp, g.usage, g.tables, g.seqs) order by g.nsp), '[]'::json)
          from (select nsp, bool_and(usage) as usage, bool_or(not seq) as tables, bool_or(seq) as seqs from missing group by nsp) g) as schemas`,
  );
  if (!r || r.total === 0) return;
  const parse = <T>(v: T | string): T => (typeof v === "string" ? (JSON.parse(v) as T) : v);
  const role = sqlName(r.role);
  const shown = parse(r.shown);
  const more = r.total > shown.length ? ` and ${r.total - shown.length} more` : "";
  const grants: string[] = [];
  for (const [nsp, usage, tables, seqs] of parse(r.schemas)) {
    if (!usage) grants.push(`GRANT USAGE ON SCHEMA ${sqlName(nsp)} TO ${role};`);
    if (tables) grants.push(`GRANT SELECT ON ALL TABLES IN SCHEMA ${sqlName(nsp)} TO ${role};`);
    if (seqs) grants.push(`GRANT SELECT ON ALL SEQUENCES IN SCHEMA ${sqlName(nsp)} TO ${role};`);
  }
  const plural = r.total === 1 ? "" : "s";
  throw new PrivilegeError(
    `role "${r.role}" cannot read ${r.total} table${plural} or sequence${plural} that pg_dump must read (${shown.join(", ")}${more}): ${grants.join(" ")}`,
    `or grant the predefined role: GRANT pg_read_all_data TO ${role}; (PostgreSQL 14+); nothing was written`,
  );
}
