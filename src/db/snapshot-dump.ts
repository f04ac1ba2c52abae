// The snapshot of a database built by replaying the migrations: pg_dump's schema,
// normalised, plus the rows the migrations inserted (so installing from the
// snapshot gives what replaying gives). Used by dump (to write schema.sql) and
// check (to compare with it).

import type { ConnectionTarget } from "../core/config.ts";
import { PgshipError } from "../core/errors.ts";
import { normaliseData, normaliseDump } from "../core/snapshot.ts";
import { libpqEnv } from "../tools/pg-tools.ts";
import { runProc } from "../tools/proc.ts";
import type { Sql } from "./connect.ts";

/** Tables outside the tracking schema (and not an extension's) that hold rows, as pg_dump --table patterns. */
export async function tablesWithRows(sql: Sql, trackingSchema: string): Promise<string[]> {
  const tables = await sql.unsafe<{ pattern: string; name: string }[]>(
    `select '"' || replace(n.nspname, '"', '""') || '"."' || replace(c.relname, '"', '""') || '"' as pattern,
            format('%I.%I', n.nspname, c.relname) as name
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind = 'r' and n.nspname not in ('pg_catalog', 'information_schema', $1)
        and n.nspname !~ '^pg_(toast|temp)'
        and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')
      order by 1`,
    [trackingSchema],
  );
  const out: string[] = [];
  for (const t of tables) {
    const [row] = await sql.unsafe<{ some: boolean }[]>(`select exists (select 1 from ${t.name}) as some`);
    if (row!.some) out.push(t.pattern);
  }
  return out;
}

export async function dumpSnapshot(sql: Sql, target: ConnectionTarget, pgDump: string, trackingSchema: string, version: string, signal?: AbortSignal): Promise<string> {
  const env = libpqEnv(target);
  const r = await runProc({ command: pgDump, args: ["--schema-only", "--no-owner", "--no-privileges", `--exclude-schema=${trackingSchema}`], env }, { signal });
  if (r.code !== 0) throw new PgshipError("pg_dump_failed", `pg_dump failed: ${r.stderr.trim()}`);
  const schema = normaliseDump(r.stdout, version);
  const seeded = await tablesWithRows(sql, trackingSchema);
  if (seeded.length === 0) return schema;
  const d = await runProc({ command: pgDump, args: ["--data-only", "--no-owner", "--no-privileges", ...seeded.map((t) => `--table=${t}`)], env }, { signal });
  if (d.code !== 0) throw new PgshipError("pg_dump_failed", `pg_dump failed: ${d.stderr.trim()}`);
  return schema + normaliseData(d.stdout);
}
