// Fresh install, stale snapshot, update, down/up, baseline, dry-run and JSON,
// through the compiled binary against a real PostgreSQL.

import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import postgres from "postgres";
import { lockKeys } from "../../src/db/lock.ts";
import { dumpOrRefusal, migrationsDir, pgship, FIXTURE, schemaOf, tempDir, useDatabases } from "../harness/env.ts";

const db = useDatabases("t");

const MIGRATIONS = readdirSync(join(FIXTURE, "migrations")).sort();
const VERSIONS = MIGRATIONS.map((f) => f.slice(0, 14));
const HEAD = VERSIONS.at(-1)!;
const json = (s: string) => JSON.parse(s);

describe("fresh install", () => {
  test("up on an empty database loads the embedded snapshot and stamps every migration", async () => {
    const d = await db();
    const r = await pgship(["up", "--json"], { env: { DATABASE_URL: d.url } });
    expect(r.code).toBe(0);
    const out = json(r.stdout);
    expect(out).toMatchObject({ ok: true, action: "install", from: null, to: HEAD });
    expect(out.steps.map((s: { kind: string }) => s.kind)).toEqual(["snapshot"]);
    const rows = await d.sql`select version, applied_via, state from pgship.migrations order by version`;
    expect(rows.map((r) => r.version)).toEqual(VERSIONS);
    expect(new Set(rows.map((r) => `${r.applied_via}/${r.state}`))).toEqual(new Set(["snapshot/applied"]));
    const [h] = await d.sql`select command, result, to_version from pgship.history`;
    expect(h).toMatchObject({ command: "up", result: "ok", to_version: HEAD });
    // The app works: the columns later migrations added are there.
    const [u] = await d.sql`insert into users (email, password_hash, csrf_token) values ('a@example.com', 'x', 't') returning id`;
    const [i] = await d.sql`insert into instances (user_id, name, base_url, slug) values (${u!.id}, 'Home', 'https://h', 'home') returning id`;
    await d.sql`insert into api_keys (user_id, instance_id, key_prefix, key_hash, webhook_url) values (${u!.id}, ${i!.id}, 'pk_1', '\\x00', 'https://hook')`;
    const [k] = await d.sql`select webhook_headers from api_keys`;
    expect(k!.webhook_headers).toEqual({});
  });

  test("the snapshot path gives the same schema as replaying every migration", async () => {
    const viaSnapshot = await db();
    const viaReplay = await db();
    expect((await pgship(["install"], { env: { DATABASE_URL: viaSnapshot.url } })).code).toBe(0);
    const r = await pgship(["install", "--migrations-dir", "migrations", "--schema-file", "/nonexistent/schema.sql"], { env: { DATABASE_URL: viaReplay.url } });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${MIGRATIONS.length} migrations applied`);
    expect(await schemaOf(viaReplay)).toBe(await schemaOf(viaSnapshot));
  });

  test("a stale snapshot plus the newer migrations still produces the right schema, in one transaction", async () => {
    const scratch = await db();
    const work = tempDir();
    const older = migrationsDir({});
    for (const f of MIGRATIONS.slice(0, 4)) writeFileSync(join(older, f), readFileSync(join(FIXTURE, "migrations", f)));
    const stale = join(work, "stale.sql");
    if (!(await dumpOrRefusal(["--migrations-dir", older, "--schema-file", stale], { DATABASE_URL: scratch.url }))) return;
    expect(readFileSync(stale, "utf8").split("\n")[0]).toBe(`-- pgship snapshot: ${VERSIONS[3]}`);

    const d = await db();
    const r = await pgship(["install", "--json", "--migrations-dir", "migrations", "--schema-file", stale], { env: { DATABASE_URL: d.url } });
    expect(r.code).toBe(0);
    expect(json(r.stdout).steps.map((s: { version: string }) => s.version)).toEqual([VERSIONS[3], ...VERSIONS.slice(4)]);
    const reference = await db();
    expect((await pgship(["install"], { env: { DATABASE_URL: reference.url } })).code).toBe(0);
    expect(await schemaOf(d)).toBe(await schemaOf(reference));
    const vias = await d.sql`select applied_via, count(*)::int as n from pgship.migrations group by 1 order by 1`;
    expect(vias.map((v) => [v.applied_via, v.n])).toEqual([["migration", MIGRATIONS.length - 4], ["snapshot", 4]]);
  });

  test("install refuses a database that is already installed", async () => {
    const d = await db();
    expect((await pgship(["install"], { env: { DATABASE_URL: d.url } })).code).toBe(0);
    const again = await pgship(["install"], { env: { DATABASE_URL: d.url } });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("already installed");
  });
});

describe("update", () => {
  test("applies pending migrations to real data: de-duplicates keys and backfills slugs", async () => {
    const d = await db();
    expect((await pgship(["up", "--to", VERSIONS[3]!], { env: { DATABASE_URL: d.url } })).code).toBe(0);
    const [u] = await d.sql`insert into users (email, password_hash) values ('a@example.com', 'x') returning id`;
    const [i1] = await d.sql`insert into instances (user_id, name, base_url) values (${u!.id}, 'My Home!', 'https://a') returning id`;
    await d.sql`insert into instances (user_id, name, base_url) values (${u!.id}, 'my home', 'https://b')`;
    await d.sql`insert into api_keys (user_id, instance_id, key_prefix, key_hash, last_used_at) values
      (${u!.id}, ${i1!.id}, 'old', '\\x00', now() - interval '2 days'), (${u!.id}, ${i1!.id}, 'new', '\\x00', now())`;

    const st = await pgship(["status", "--exit-code"], { env: { DATABASE_URL: d.url } });
    expect(st.code).toBe(3);
    expect(st.stdout).toContain(`${MIGRATIONS.length - 4} pending`);

    const r = await pgship(["update"], { env: { DATABASE_URL: d.url } });
    expect(r.code).toBe(0);
    for (const f of MIGRATIONS.slice(4)) expect(r.stderr).toContain(`applied ${f.replace(".sql", "")}`);
    expect((await d.sql`select key_prefix from api_keys`).map((k) => k.key_prefix)).toEqual(["new"]);
    expect((await d.sql`select slug from instances order by id`).map((k) => k.slug)).toEqual(["my-home-1", "my-home-2"]);
    const rows = await d.sql`select version from pgship.migrations where state = 'applied' and duration_ms is not null`;
    expect(rows.length).toBe(MIGRATIONS.length);
    expect((await pgship(["status", "--exit-code"], { env: { DATABASE_URL: d.url } })).code).toBe(0);
  });

  test("update refuses an empty database and points to install", async () => {
    const d = await db();
    const r = await pgship(["update"], { env: { DATABASE_URL: d.url } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("pgship install");
  });
});

describe("down and up", () => {
  test("--steps, --to and --to 0 use the down sections and keep tracking in step", async () => {
    const d = await db();
    expect((await pgship(["up"], { env: { DATABASE_URL: d.url } })).code).toBe(0);
    const two = await pgship(["down", "--steps", "2", "--json"], { env: { DATABASE_URL: d.url } });
    expect(two.code).toBe(0);
    expect(json(two.stdout).steps.map((s: { version: string }) => s.version)).toEqual([VERSIONS.at(-1), VERSIONS.at(-2)]);
    expect(await d.sql`select 1 from pg_indexes where indexname = 'api_keys_last_used_at_idx'`).toHaveLength(0);
    expect(await d.sql`select 1 from information_schema.columns where table_name = 'instances' and column_name = 'slug'`).toHaveLength(0);
    expect((await pgship(["status", "--exit-code"], { env: { DATABASE_URL: d.url } })).code).toBe(3);

    expect((await pgship(["up"], { env: { DATABASE_URL: d.url } })).code).toBe(0);
    expect(await d.sql`select 1 from pg_indexes where indexname = 'api_keys_last_used_at_idx'`).toHaveLength(1);

    const to = await pgship(["down", "--to", VERSIONS[1]!], { env: { DATABASE_URL: d.url } });
    expect(to.code).toBe(0);
    expect((await d.sql`select version from pgship.migrations order by 1`).map((r) => r.version)).toEqual(VERSIONS.slice(0, 2));

    expect((await pgship(["down", "--to", "0"], { env: { DATABASE_URL: d.url } })).code).toBe(0);
    expect(await d.sql`select 1 from pg_tables where schemaname = 'public'`).toHaveLength(0);
    // Back to empty: up installs again.
    const again = await pgship(["up", "--json"], { env: { DATABASE_URL: d.url } });
    expect(json(again.stdout).action).toBe("install");
  });

  test("rolling back a migration without a down section is refused before anything runs", async () => {
    const dir = migrationsDir({
      "20250101000000_a.sql": "-- migrate:up\ncreate table a (id int);\n-- migrate:down\ndrop table a;\n",
      "20250102000000_b.sql": "-- migrate:up\ncreate table b (id int);\n",
    });
    const d = await db();
    const env = { DATABASE_URL: d.url };
    expect((await pgship(["up", "--migrations-dir", dir], { env })).code).toBe(0);
    const r = await pgship(["down", "--steps", "2", "--migrations-dir", dir], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("20250102000000_b.sql has no '-- migrate:down' section");
    expect(await d.sql`select 1 from pg_tables where tablename in ('a', 'b')`).toHaveLength(2);
  });
});

describe("baseline", () => {
  test("adopts a dbmate-managed database, then up applies only what is newer", async () => {
    const d = await db();
    // What dbmate would have left: the schema up to the 5th migration and its version table.
    for (const f of MIGRATIONS.slice(0, 5)) {
      const text = readFileSync(join(FIXTURE, "migrations", f), "utf8");
      await d.sql.unsafe(text.split("-- migrate:down")[0]!.replace("-- migrate:up", ""));
    }
    await d.sql`create table schema_migrations (version varchar(128) primary key)`;
    for (const v of VERSIONS.slice(0, 5)) await d.sql`insert into schema_migrations values (${v})`;

    const refused = await pgship(["up"], { env: { DATABASE_URL: d.url } });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`migrated by dbmate, which recorded version ${VERSIONS[4]}`);
    expect(refused.stderr).toContain("pgship baseline");
    expect(await d.sql`select 1 from pg_namespace where nspname = 'pgship'`).toHaveLength(0);

    const b = await pgship(["baseline", VERSIONS[4]!], { env: { DATABASE_URL: d.url } });
    expect(b.code).toBe(0);
    expect(b.stdout).toContain("5 migrations recorded");
    const up = await pgship(["up", "--json"], { env: { DATABASE_URL: d.url } });
    expect(up.code).toBe(0);
    expect(json(up.stdout).steps.map((s: { version: string }) => s.version)).toEqual(VERSIONS.slice(5));
    const reference = await db();
    await pgship(["up"], { env: { DATABASE_URL: reference.url } });
    expect((await schemaOf(d)).replace(/\n.*schema_migrations[\s\S]*?;\n/g, "\n")).toMatch(/CREATE TABLE public\.api_keys |"public\.api_keys": \{/); // pg_dump's text, or the catalog model where pg_dump is older than the server
    expect((await d.sql`select applied_via, count(*)::int as n from pgship.migrations group by 1 order by 1`).map((r) => [r.applied_via, r.n])).toEqual([["baseline", 5], ["migration", MIGRATIONS.length - 5]]);
  });

  test("baseline refuses an empty database and an unknown version", async () => {
    const d = await db();
    const empty = await pgship(["baseline", VERSIONS[0]!], { env: { DATABASE_URL: d.url } });
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain("nothing to adopt");
    const unknown = await pgship(["baseline", "20000101000000"], { env: { DATABASE_URL: d.url } });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("no migration has version 20000101000000");
  });
});

describe("dry run and JSON", () => {
  test("--dry-run prints the plan and the SQL and changes nothing", async () => {
    const d = await db();
    const r = await pgship(["up", "--dry-run"], { env: { DATABASE_URL: d.url } });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Plan (dry run, nothing changed): install");
    expect(r.stdout).toContain("CREATE TABLE public.users");
    expect(await d.sql`select 1 from pg_namespace where nspname in ('pgship')`).toHaveLength(0);
    expect(await d.sql`select 1 from pg_tables where schemaname = 'public'`).toHaveLength(0);

    await pgship(["up", "--to", VERSIONS[5]!], { env: { DATABASE_URL: d.url } });
    const j = await pgship(["up", "--dry-run", "--json"], { env: { DATABASE_URL: d.url } });
    const plan = json(j.stdout);
    expect(plan).toMatchObject({ dryRun: true, action: "update", from: VERSIONS[5], to: HEAD });
    expect(plan.steps.map((s: { version: string }) => s.version)).toEqual(VERSIONS.slice(6));
    expect(plan.steps.at(-1)).toMatchObject({ transaction: false });
    expect(plan.steps.at(-1).sql).toContain("create index concurrently");
    expect((await d.sql`select count(*)::int as n from pgship.migrations`)[0]!.n).toBe(6);
  });

  test("status --json is one JSON document with every migration", async () => {
    const d = await db();
    await pgship(["up", "--to", VERSIONS[2]!], { env: { DATABASE_URL: d.url } });
    const r = await pgship(["status", "--json"], { env: { DATABASE_URL: d.url } });
    expect(r.code).toBe(0);
    const s = json(r.stdout);
    expect(s).toMatchObject({ managed: true, version: VERSIONS[2], head: HEAD, counts: { applied: 3, pending: MIGRATIONS.length - 3 } });
    expect(s.migrations).toHaveLength(MIGRATIONS.length);
    expect(s.lastRun).toMatchObject({ command: "up", result: "ok" });
    expect(s.database).not.toContain(d.url.split(":")[2]!.split("@")[0]!);
  });

  test("status --json: times as the database has them, the lock's holder, and a tracking table without rows", async () => {
    const d = await db();
    await pgship(["up", "--to", VERSIONS[1]!], { env: { DATABASE_URL: d.url } });
    const [row] = await d.sql`select applied_at, started_at from pgship.migrations order by version limit 1`;
    const [run] = await d.sql`select started_at, finished_at from pgship.history order by id desc limit 1`;
    // Another session holds the migration lock (what a running 'up' holds).
    const holder = postgres(d.url, { max: 1, onnotice: () => {}, connection: { application_name: "the-holder" } });
    try {
      const [{ pid }] = (await holder.unsafe("select pg_backend_pid() as pid")) as unknown as [{ pid: number }];
      const [k1, k2] = lockKeys("pgship");
      await holder.unsafe(`select pg_advisory_lock(${k1}, ${k2})`);
      const s = json((await pgship(["status", "--json"], { env: { DATABASE_URL: d.url } })).stdout);
      expect(s.migrations[0].appliedAt).toBe((row!.applied_at as Date).toISOString());
      expect(s.lastRun).toMatchObject({ startedAt: (run!.started_at as Date).toISOString(), finishedAt: (run!.finished_at as Date).toISOString() });
      expect(s.lockHolder).toMatchObject({ pid, applicationName: "the-holder", user: "postgres" });
    } finally {
      await holder.end();
    }
    const free = json((await pgship(["status", "--json"], { env: { DATABASE_URL: d.url } })).stdout);
    expect(free.lockHolder).toBeNull();
    // Rows gone, tables kept: managed, nothing applied, the last run still read.
    await d.sql`delete from pgship.migrations`;
    const empty = json((await pgship(["status", "--json"], { env: { DATABASE_URL: d.url } })).stdout);
    expect(empty).toMatchObject({ managed: true, version: null, counts: { applied: 0, pending: MIGRATIONS.length } });
    expect(empty.lastRun).toMatchObject({ command: "up", result: "ok" });
  });

  test("errors under --json are a JSON document too, with the exit code", async () => {
    const r = await pgship(["up", "--json", "--database-url", "postgres://u:pw@127.0.0.1:1/x"]);
    expect(r.code).toBe(1);
    expect(json(r.stdout)).toMatchObject({ ok: false, error: { code: "connect_failed", exitCode: 1 } });
  });
});
