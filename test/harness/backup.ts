// Helpers for the backup and restore tests: realistic data, a table-by-table
// fingerprint of a database (rows and sequences), age keys, damaged files, a
// stand-in `docker`, and the child processes of a running pgship.

import { generateX25519Identity, identityToRecipient } from "age-encryption";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import postgres from "postgres";
import { clientTool, cluster, pgship, tempDir, type TestDb } from "./env.ts";

/** Installs the app's schema with pgship and fills it: users, instances, api keys, a sequence, bytea and jsonb. */
export async function seed(db: TestDb, users = 300): Promise<void> {
  const up = await pgship(["up"], { env: { DATABASE_URL: db.url } });
  if (up.code !== 0) throw new Error(`pgship up failed: ${up.stderr}`);
  await db.sql.unsafe(`
    insert into users (email, display_name, password_hash, is_admin, csrf_token)
      select 'user' || g || '@example.org', 'User ' || g, md5(g::text), g % 50 = 0, case when g % 3 = 0 then md5('csrf' || g) end
      from generate_series(1, ${users}) g;
    insert into instances (user_id, name, base_url, status, slug)
      select 1 + (g % ${users}), 'Instance ' || g, 'https://i' || g || '.example.org',
             (array['active', 'paused', 'disconnected'])[1 + g % 3]::instance_status, 'inst-' || g
      from generate_series(1, ${users * 2}) g;
    insert into api_keys (user_id, instance_id, label, key_prefix, key_hash, webhook_url, webhook_headers, last_used_at)
      select i.user_id, i.id, 'key ' || i.id, md5('prefix' || i.id), decode(md5(i.id::text), 'hex'),
             case when i.id % 2 = 0 then 'https://hooks.example.org/' || i.id end, jsonb_build_object('x-instance', i.id),
             case when i.id % 4 = 0 then timestamptz '2025-01-01' + i.id * interval '1 hour' end
      from instances i;
    create sequence invoice_numbers start 1000;
    select nextval('invoice_numbers') from generate_series(1, 17);
  `);
}

/** Adds a table of hard-to-compress text, so pg_dump runs long enough to be caught in the act. */
export async function addBulk(db: TestDb, rows: number): Promise<void> {
  await db.sql.unsafe(`
    create table bulk (id int primary key, body text);
    insert into bulk select g, (select string_agg(md5(random()::text || g || i), '') from generate_series(1, 16) i) from generate_series(1, ${rows}) g;
  `);
}

export interface Fingerprint {
  tables: Record<string, { rows: number; md5: string }>;
  sequences: Record<string, string | null>;
}

/** Every table's row count and a hash of its rows in a stable order, and every sequence's position. */
export async function fingerprint(url: string, opts: { skip?: string[] } = {}): Promise<Fingerprint> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const tables = await sql<{ s: string; t: string }[]>`
      select n.nspname as s, c.relname as t from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where c.relkind in ('r', 'p') and n.nspname !~ '^pg_' and n.nspname <> 'information_schema' order by 1, 2`;
    const out: Fingerprint = { tables: {}, sequences: {} };
    for (const { s, t } of tables) {
      const name = `${s}.${t}`;
      if (opts.skip?.includes(name)) continue;
      const [r] = await sql.unsafe<{ n: number; h: string }[]>(
        `select count(*)::int as n, coalesce(md5(string_agg(x::text, E'\\n' order by x::text)), '') as h from "${s}"."${t}" x`,
      );
      out.tables[name] = { rows: r!.n, md5: r!.h };
    }
    for (const r of await sql<{ name: string; v: string | null }[]>`select schemaname || '.' || sequencename as name, last_value::text as v from pg_sequences order by 1`) {
      if (!opts.skip?.some((t) => r.name.startsWith(`${t}_`))) out.sequences[r.name] = r.v;
    }
    return out;
  } finally {
    await sql.end();
  }
}

/** The history table (and its id sequence) gains a row per run; compare everything else. */
export const APP_DATA = { skip: ["pgship.history"] };

export async function databaseNames(): Promise<string[]> {
  const c = await cluster();
  const sql = postgres(c.url("postgres"), { max: 1, onnotice: () => {} });
  try {
    return (await sql<{ d: string }[]>`select datname as d from pg_database order by 1`).map((r) => r.d);
  } finally {
    await sql.end();
  }
}

/**
 * An age key pair, written as age-keygen writes it. Made with the age-encryption
 * library so no system tool is needed; the age CLI reads the file (the interop tests prove it).
 */
export async function ageKeyPair(dir = tempDir()): Promise<{ identityFile: string; recipient: string }> {
  const identityFile = join(dir, `key-${Math.random().toString(36).slice(2)}.txt`);
  const identity = await generateX25519Identity();
  const recipient = await identityToRecipient(identity);
  writeFileSync(identityFile, `# created: ${new Date().toISOString()}\n# public key: ${recipient}\n${identity}\n`, { mode: 0o600 });
  return { identityFile, recipient };
}

export function secretFile(text: string): string {
  const f = join(tempDir(), "secret.txt");
  writeFileSync(f, text, { mode: 0o600 });
  return f;
}

export const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

export function manifestOf(archive: string): Record<string, any> {
  return JSON.parse(readFileSync(archive.replace(/\.dump(\.age)?$/, ".manifest.json"), "utf8"));
}

/** Backup files in a directory, hidden partial files included. */
export const filesIn = (dir: string) => (existsSync(dir) ? readdirSync(dir).sort() : []);

export function flipByte(file: string, at: number): void {
  const b = readFileSync(file);
  b[at] = b[at]! ^ 0x40;
  writeFileSync(file, b);
}

export function truncate(file: string, keep: number): void {
  writeFileSync(file, readFileSync(file).subarray(0, keep));
}

export const mode = (file: string) => statSync(file).mode & 0o777;

/** The running pg_dump that writes an archive (not a `pg_dump --version` probe) among `pid`'s children. */
export function dumpingChild(pid: number): number | undefined {
  return childrenNamed(pid, "pg_dump").find((p) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, "utf8").includes("--format=custom");
    } catch {
      return false;
    }
  });
}

/** Child processes of `pid` whose command name is `name` (from /proc). */
export function childrenNamed(pid: number, name: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const m = /^\d+ \((.*)\) \S+ (\d+)/.exec(stat);
      if (m && m[1] === name && Number(m[2]) === pid) out.push(Number(entry));
    } catch {
      // The process exited while we looked.
    }
  }
  return out;
}

/**
 * A stand-in for `docker` (there is no Docker daemon in the tests): it
 * understands `docker exec [-i] [-e NAME]... CONTAINER TOOL ARGS...`, passes
 * on only the variables named with -e (as docker does), and runs the local
 * PostgreSQL tools "inside the container", where the server is at the
 * container's defaults (here: the test cluster). Every call is logged.
 */
export async function dockerStandIn(container = "db"): Promise<{ pathDir: string; log: string }> {
  const c = await cluster();
  const clientDir = dirname(await clientTool("pg_dump"));
  const dir = tempDir();
  const log = join(dir, "docker.log");
  const script = `#!/bin/bash
# Stand-in for docker (tests only): runs local PostgreSQL tools as if inside container "${container}".
printf '%s\\n' "$*" >> ${log}
[ "$1" = exec ] || { echo "stand-in docker supports only exec" >&2; exit 2; }
shift
pass=()
while [ $# -gt 0 ]; do
  case "$1" in
    -i) shift ;;
    -e) pass+=("$2=\${!2}"); shift 2 ;;
    -*) echo "stand-in docker: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
[ "$1" = "${container}" ] || { echo "Error response from daemon: No such container: $1" >&2; exit 1; }
shift
tool="$1"; shift
exec env -i PATH=/usr/bin:/bin PGHOST=127.0.0.1 PGPORT=${c.port} "\${pass[@]}" "${clientDir}/$tool" "$@"
`;
  writeFileSync(join(dir, "docker"), script);
  chmodSync(join(dir, "docker"), 0o755);
  return { pathDir: dir, log };
}
