// Reads the live catalog into a Model with a fixed number of queries (one per
// kind of object, each over the whole database), whatever the schema's size.
// Excludes system schemas, the tracking schema and objects owned by extensions.

import type { Sql } from "../db/connect.ts";
import { emptyModel, portable, type Model } from "./model.ts";

const inScope = (ns: string) => `${ns}.nspname not in ('pg_catalog', 'information_schema') and ${ns}.nspname !~ '^pg_(toast|temp_|toast_temp_)' and ${ns}.nspname <> $1`;
const notExt = (catalog: string, oid: string) => `not exists (select 1 from pg_depend e where e.classid = '${catalog}'::regclass and e.objid = ${oid} and e.deptype = 'e')`;

export const QUERIES = {
  schemas: `select n.nspname as name from pg_namespace n where ${inScope("n")} and ${notExt("pg_namespace", "n.oid")} order by 1`,
  extensions: `select e.extname as name, n.nspname as schema from pg_extension e join pg_namespace n on n.oid = e.extnamespace where e.extname <> 'plpgsql' order by 1`,
  relations: `
    select n.nspname as schema, c.relname as name, c.relkind as kind, c.relrowsecurity as rls, c.relforcerowsecurity as force_rls,
           case when c.relkind = 'p' then pg_get_partkeydef(c.oid) end as partkey,
           case when c.relispartition then (select format('%I.%I', pn.nspname, p.relname) from pg_inherits i join pg_class p on p.oid = i.inhparent join pg_namespace pn on pn.oid = p.relnamespace where i.inhrelid = c.oid limit 1) || ' ' || pg_get_expr(c.relpartbound, c.oid) end as partof,
           case when c.relkind in ('v', 'm') then pg_get_viewdef(c.oid) end as viewdef,
           coalesce((select json_agg(json_build_object(
                'name', a.attname, 'type', format_type(a.atttypid, a.atttypmod), 'notNull', a.attnotnull,
                'default', pg_get_expr(d.adbin, d.adrelid), 'identity', a.attidentity, 'generated', a.attgenerated,
                'collation', case when a.attcollation <> t.typcollation then co.collname end) order by a.attnum)
              from pg_attribute a join pg_type t on t.oid = a.atttypid
              left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
              left join pg_collation co on co.oid = a.attcollation
             where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped), '[]') as columns
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where c.relkind in ('r', 'p', 'f', 'v', 'm') and ${inScope("n")} and ${notExt("pg_class", "c.oid")}`,
  constraints: `
    select n.nspname as schema, c.relname as table, con.conname as name, con.contype as type, pg_get_constraintdef(con.oid, true) as def
      from pg_constraint con join pg_class c on c.oid = con.conrelid join pg_namespace n on n.oid = c.relnamespace
     where con.contype in ('p', 'u', 'f', 'c', 'x') and con.conislocal and ${inScope("n")} and ${notExt("pg_class", "c.oid")}`,
  indexes: `
    select n.nspname as schema, t.relname as table, i.relname as name, pg_get_indexdef(x.indexrelid) as def,
           x.indisvalid and x.indisready as valid, exists (select 1 from pg_constraint k where k.conindid = x.indexrelid and k.contype in ('p', 'u', 'x')) as constraint
      from pg_index x join pg_class i on i.oid = x.indexrelid join pg_class t on t.oid = x.indrelid join pg_namespace n on n.oid = i.relnamespace
     where ${inScope("n")} and ${notExt("pg_class", "t.oid")}`,
  functions: `
    select n.nspname as schema, p.proname as name, pg_get_function_identity_arguments(p.oid) as args, p.prokind as kind,
           case when p.prokind <> 'a' then pg_get_functiondef(p.oid) end as def
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace
     where ${inScope("n")} and ${notExt("pg_proc", "p.oid")}`,
  sequences: `
    select n.nspname as schema, c.relname as name, format_type(s.seqtypid, null) as type, s.seqstart::text as start, s.seqincrement::text as increment,
           s.seqmin::text as min, s.seqmax::text as max, s.seqcache::text as cache, s.seqcycle as cycle,
           (select format('%I.%I.%I', tn.nspname, t.relname, a.attname) from pg_depend d join pg_class t on t.oid = d.refobjid
              join pg_namespace tn on tn.oid = t.relnamespace join pg_attribute a on a.attrelid = d.refobjid and a.attnum = d.refobjsubid
             where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'a' limit 1) as owned_by
      from pg_sequence s join pg_class c on c.oid = s.seqrelid join pg_namespace n on n.oid = c.relnamespace
     where ${inScope("n")} and ${notExt("pg_class", "c.oid")}
       and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'i')`,
  types: `
    select n.nspname as schema, t.typname as name, t.typtype as kind,
           case when t.typtype = 'e' then (select json_agg(e.enumlabel order by e.enumsortorder) from pg_enum e where e.enumtypid = t.oid) end as labels,
           case when t.typtype = 'd' then format_type(t.typbasetype, t.typtypmod) end as base, t.typnotnull as not_null, t.typdefault as default,
           case when t.typtype = 'd' then (select json_agg(pg_get_constraintdef(k.oid, true) order by k.conname) from pg_constraint k where k.contypid = t.oid) end as checks,
           case when t.typtype = 'c' then (select json_agg(json_build_array(a.attname, format_type(a.atttypid, a.atttypmod)) order by a.attnum)
              from pg_attribute a where a.attrelid = t.typrelid and a.attnum > 0 and not a.attisdropped) end as attributes
      from pg_type t join pg_namespace n on n.oid = t.typnamespace
     where (t.typtype in ('e', 'd') or (t.typtype = 'c' and (select relkind from pg_class where oid = t.typrelid) = 'c'))
       and ${inScope("n")} and ${notExt("pg_type", "t.oid")}`,
  triggers: `
    select n.nspname as schema, c.relname as table, t.tgname as name, pg_get_triggerdef(t.oid) as def
      from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace
     where not t.tgisinternal and ${inScope("n")} and ${notExt("pg_class", "c.oid")}`,
  policies: `
    select n.nspname as schema, c.relname as table, p.polname as name, p.polpermissive as permissive,
           coalesce((select json_agg(case when r = 0 then 'public' else pg_get_userbyid(r) end order by 1) from unnest(p.polroles) r), '[]') as roles,
           p.polcmd as cmd, pg_get_expr(p.polqual, p.polrelid) as using, pg_get_expr(p.polwithcheck, p.polrelid) as check
      from pg_policy p join pg_class c on c.oid = p.polrelid join pg_namespace n on n.oid = c.relnamespace
     where ${inScope("n")}`,
} as const;

const qn = (schema: string, name: string) => `${schema}.${name}`;
/** Collapse whitespace so formatting differences between servers do not count as drift. */
export const squash = (s: string | null) => (s === null ? null : s.replace(/\s+/g, " ").trim());

type Row = Record<string, unknown>;

export async function introspect(sql: Sql, trackingSchema: string, onQuery?: () => void): Promise<Model> {
  const run = async (q: string) => {
    onQuery?.();
    return (await sql.unsafe(q, q.includes("$1") ? [trackingSchema] : [])) as unknown as Row[];
  };
  // With an empty search_path every name the catalog functions print is schema-qualified,
  // so the model does not depend on the session's settings.
  const [saved] = (await sql.unsafe("select current_setting('search_path') as p, set_config('search_path', '', false)")) as unknown as Row[];
  const results = await Promise.all([
    sql.unsafe("select current_setting('server_version_num')::int as v") as unknown as Promise<Row[]>,
    run(QUERIES.schemas),
    run(QUERIES.extensions),
    run(QUERIES.relations),
    run(QUERIES.constraints),
    run(QUERIES.indexes),
    run(QUERIES.functions),
    run(QUERIES.sequences),
    run(QUERIES.types),
    run(QUERIES.triggers),
    run(QUERIES.policies),
  ]).finally(() => sql.unsafe("select set_config('search_path', $1, false)", [String(saved!.p)]));
  const [[version], schemas, extensions, relations, constraints, indexes, functions, sequences, types, triggers, policies] = results;
  const m = emptyModel(Math.floor(Number(version!.v) / 10000));
  m.schemas = schemas.map((r) => String(r.name)).sort();
  for (const r of extensions) m.extensions[String(r.name)] = { schema: String(r.schema) };
  for (const r of relations) {
    const key = qn(String(r.schema), String(r.name));
    const cols = (typeof r.columns === "string" ? JSON.parse(r.columns) : r.columns) as (Row & { name: string })[];
    if (r.kind === "v" || r.kind === "m") {
      m.views[key] = { kind: String(r.kind), definition: squash(String(r.viewdef))!, columns: cols.map((c) => c.name), indexes: {} };
      continue;
    }
    m.tables[key] = {
      kind: String(r.kind),
      partitionKey: (r.partkey as string | null) ?? null,
      partitionOf: (r.partof as string | null) ?? null,
      rowSecurity: Boolean(r.rls),
      forceRowSecurity: Boolean(r.force_rls),
      columns: Object.fromEntries(
        cols.map((c) => [
          c.name,
          { type: String(c.type), notNull: Boolean(c.notNull), default: (c.default as string | null) ?? null, identity: String(c.identity ?? ""), generated: String(c.generated ?? ""), collation: (c.collation as string | null) ?? null },
        ]),
      ),
      constraints: {},
      indexes: {},
      triggers: {},
      policies: {},
    };
  }
  for (const r of constraints) {
    const t = m.tables[qn(String(r.schema), String(r.table))];
    if (t) t.constraints[String(r.name)] = { type: String(r.type), definition: String(r.def) };
  }
  for (const r of indexes) {
    const key = qn(String(r.schema), String(r.table));
    const owner = m.tables[key] ?? m.views[key];
    if (owner) owner.indexes[String(r.name)] = { definition: String(r.def), valid: Boolean(r.valid), constraint: Boolean(r.constraint) };
  }
  for (const r of functions) {
    m.functions[`${qn(String(r.schema), String(r.name))}(${r.args})`] = { kind: String(r.kind), definition: (r.def as string | null) ?? null };
  }
  for (const r of sequences) {
    m.sequences[qn(String(r.schema), String(r.name))] = {
      type: String(r.type), start: String(r.start), increment: String(r.increment), min: String(r.min), max: String(r.max),
      cache: String(r.cache), cycle: Boolean(r.cycle), ownedBy: (r.owned_by as string | null) ?? null,
    };
  }
  const json = (v: unknown) => (typeof v === "string" ? JSON.parse(v) : v);
  for (const r of types) {
    const key = qn(String(r.schema), String(r.name));
    if (r.kind === "e") m.enums[key] = (json(r.labels) as string[] | null) ?? [];
    else if (r.kind === "d") m.domains[key] = { type: String(r.base), notNull: Boolean(r.not_null), default: (r.default as string | null) ?? null, checks: (json(r.checks) as string[] | null) ?? [] };
    else m.composites[key] = (json(r.attributes) as [string, string][] | null) ?? [];
  }
  for (const r of triggers) {
    const t = m.tables[qn(String(r.schema), String(r.table))];
    if (t) t.triggers[String(r.name)] = String(r.def);
  }
  for (const r of policies) {
    const t = m.tables[qn(String(r.schema), String(r.table))];
    if (t) t.policies[String(r.name)] = { permissive: Boolean(r.permissive), roles: json(r.roles) as string[], command: String(r.cmd), using: (r.using as string | null) ?? null, check: (r.check as string | null) ?? null };
  }
  return portable(m);
}

export const QUERY_COUNT = Object.keys(QUERIES).length + 1;
