// The invariants that keep data safe: immutable history, unknown versions,
// the lock, lock timeouts, resumable transaction:false migrations, history of
// failures, and clear usage errors.

import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { lockKeys } from "../../src/db/lock.ts";
import { BUN, cleanEnv, ensureBinary, migrationsDir, noStackTrace, pgship, FIXTURE, ROOT, spawnPgship, tempDir, until, type TestDb, useDatabases, testWithPgDump } from "../harness/env.ts";

const db = useDatabases("s");

const A = "-- migrate:up\ncreate table a (id int primary key, x int);\n-- migrate:down\ndrop table a;\n";
const B = "-- migrate:up\ninsert into a select g, g % 3 from generate_series(1, 100) g;\n-- migrate:down\ndelete from a;\n";

describe("applied migrations are immutable", () => {
  test("a changed checksum stops up with exit 4 naming the file; status --exit-code says 4", async () => {
    const dir = migrationsDir({ "20250101000000_a.sql": A, "20250102000000_b.sql": B });
    const d = await db();
    const env = { DATABASE_URL: d.url };
    expect((await pgship(["up", "--migrations-dir", dir], { env })).code).toBe(0);
    writeFileSync(join(dir, "20250101000000_a.sql"), A.replace("x int", "x bigint"));
    writeFileSync(join(dir, "20250103000000_c.sql"), "-- migrate:up\ncreate table c (id int);\n");
    const r = await pgship(["up", "--migrations-dir", dir], { env });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("20250101000000_a.sql");
    expect(r.stderr).toContain("has the file been edited?");
    expect(await d.sql`select 1 from pg_tables where tablename = 'c'`).toHaveLength(0);
    expect((await pgship(["status", "--exit-code", "--migrations-dir", dir], { env })).code).toBe(4);
    // Editing only the down section is allowed: the checksum covers what ran.
    writeFileSync(join(dir, "20250101000000_a.sql"), A.replace("drop table a;", "drop table if exists a;"));
    expect((await pgship(["up", "--migrations-dir", dir], { env })).code).toBe(0);
  });

  test("a database newer than the binary stops with exit 6 and changes nothing", async () => {
    const newer = migrationsDir({ "20250101000000_a.sql": A, "20250102000000_b.sql": B });
    const older = migrationsDir({ "20250101000000_a.sql": A });
    const d = await db();
    const env = { DATABASE_URL: d.url };
    expect((await pgship(["up", "--migrations-dir", newer], { env })).code).toBe(0);
    const r = await pgship(["up", "--migrations-dir", older], { env });
    expect(r.code).toBe(6);
    expect(r.stderr).toContain("database is newer than this binary");
    expect(r.stderr).toContain("20250102000000_b");
    expect((await pgship(["status", "--exit-code", "--migrations-dir", older], { env })).code).toBe(6);
    expect((await pgship(["down", "--migrations-dir", older], { env })).code).toBe(6);
  });

  test("an unmanaged, non-empty database is refused and left untouched", async () => {
    const d = await db();
    await d.sql`create table legacy (id int)`;
    const r = await pgship(["up"], { env: { DATABASE_URL: d.url } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("not empty and pgship does not manage it");
    expect(r.stderr).toContain("pgship baseline V");
    expect(await d.sql`select 1 from pg_namespace where nspname = 'pgship'`).toHaveLength(0);
  });
});

/** Another session holds a lock on `table` (blocking ALTER TABLE) until the returned function is called. */
async function holdLock(d: TestDb, table: string): Promise<() => Promise<void>> {
  const blocker = postgres(d.url, { max: 1 });
  let release: (() => void) | undefined;
  const held = blocker.begin(async (tx) => {
    await tx.unsafe(`lock table ${table} in access share mode`);
    await new Promise<void>((r) => (release = r));
  });
  await until(async () => release !== undefined);
  return async () => {
    release!();
    await held;
    await blocker.end();
  };
}

describe("one runner at a time", () => {
  test("a held lock makes up wait, then fail with exit 5 naming the holder", async () => {
    const d = await db();
    const holder = postgres(d.url, { max: 1, connection: { application_name: "nightly-job" } });
    const [k1, k2] = lockKeys("pgship");
    await holder`select pg_advisory_lock(${k1}, ${k2})`;
    const [{ pid }] = (await holder`select pg_backend_pid() as pid`) as unknown as [{ pid: number }];
    const t0 = Date.now();
    const r = await pgship(["up", "--lock-timeout", "1500ms"], { env: { DATABASE_URL: d.url } });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1400);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain(`pid ${pid} (nightly-job`);
    expect(r.stderr).toContain(`pg_terminate_backend(${pid})`);
    await holder.end();
    expect((await pgship(["up", "--lock-timeout", "1500ms"], { env: { DATABASE_URL: d.url } })).code).toBe(0);
  });

  test("a migration's lock_timeout is retried with backoff, then succeeds once the lock is free", async () => {
    const dir = migrationsDir({
      "20250101000000_a.sql": A,
      "20250102000000_alter.sql": "-- migrate:up lock_timeout:200ms\nalter table a add column y int;\n-- migrate:down\nalter table a drop column y;\n",
    });
    const d = await db();
    const env = { DATABASE_URL: d.url };
    expect((await pgship(["up", "--to", "20250101000000", "--migrations-dir", dir], { env })).code).toBe(0);
    const release = await holdLock(d, "a");
    const child = spawnPgship(["up", "--migrations-dir", dir], { env });
    let stderr = "";
    child.stderr.on("data", (c) => (stderr += c));
    await until(async () => stderr.includes("hit its lock timeout (attempt 1)"), 15_000, "a lock-timeout retry");
    await release();
    const code = await new Promise<number>((r) => child.on("close", (c) => r(c ?? 1)));
    expect(code).toBe(0);
    expect(await d.sql`select 1 from information_schema.columns where table_name = 'a' and column_name = 'y'`).toHaveLength(1);
  });

  test("when the lock never frees, the retries run out and the error is clear", async () => {
    const dir = migrationsDir({
      "20250101000000_a.sql": A,
      "20250102000000_alter.sql": "-- migrate:up lock_timeout:100ms\nalter table a add column y int;\n",
    });
    const d = await db();
    const env = { DATABASE_URL: d.url };
    expect((await pgship(["up", "--to", "20250101000000", "--migrations-dir", dir], { env })).code).toBe(0);
    const release = await holdLock(d, "a");
    const r = await pgship(["up", "--lock-retries", "2", "--migrations-dir", dir], { env });
    await release();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("after 3 attempts");
    expect(r.stderr).toContain("lock timeout");
    expect(r.stderr).toContain("rolled back");
  });
});

describe("per-migration timeouts", () => {
  test("statement_timeout stops a slow migration, rolls it back and names the file", async () => {
    const dir = migrationsDir({
      "20250101000000_a.sql": A,
      "20250102000000_slow.sql": "-- migrate:up statement_timeout:300ms\ncreate table slow (id int);\nselect pg_sleep(5);\n",
    });
    const d = await db();
    const env = { DATABASE_URL: d.url };
    expect((await pgship(["up", "--to", "20250101000000", "--migrations-dir", dir], { env })).code).toBe(0);
    const t0 = Date.now();
    const r = await pgship(["up", "--migrations-dir", dir], { env });
    expect(Date.now() - t0).toBeLessThan(4000);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("canceling statement due to statement timeout");
    expect(r.stderr).toContain("20250102000000_slow.sql");
    expect(await d.sql`select 1 from pg_tables where tablename = 'slow'`).toHaveLength(0);
  });
});

describe("configuration precedence: --database-url > DATABASE_URL > ./.env > PG*", () => {
  test("each source is used when the ones above it are absent", async () => {
    const [one, two, three] = [await db(), await db(), await db()];
    const work = tempDir();
    writeFileSync(join(work, ".env"), `# app settings\nOTHER=x\nDATABASE_URL="${three.url}"\n`);
    const nameOf = async (args: string[], env: Record<string, string>) => {
      const r = await pgship(["status", "--json", "--migrations-dir", join(FIXTURE, "migrations"), ...args], { cwd: work, env });
      expect(r.code).toBe(0);
      return JSON.parse(r.stdout).database.split("/").at(-1);
    };
    expect(await nameOf(["--database-url", one.url], { DATABASE_URL: two.url })).toBe(one.name);
    expect(await nameOf([], { DATABASE_URL: two.url })).toBe(two.name);
    expect(await nameOf([], {})).toBe(three.name);
    const pg = new URL(one.url.replace("postgres://", "http://"));
    const pgEnv = { PGHOST: "127.0.0.1", PGPORT: pg.port, PGUSER: "postgres", PGPASSWORD: decodeURIComponent(pg.password), PGDATABASE: two.name };
    writeFileSync(join(work, ".env"), "OTHER=x\n");
    expect(await nameOf([], pgEnv)).toBe(two.name);
    // Only ./.env is read: not .env.local or .env.production (the runtime's own loading is off).
    writeFileSync(join(work, ".env.local"), `DATABASE_URL=${one.url}\n`);
    writeFileSync(join(work, ".env.production"), `DATABASE_URL=${one.url}\n`);
    expect(await nameOf([], pgEnv)).toBe(two.name);
  });
});

describe("transaction:false migrations", () => {
  test("a failed CREATE INDEX CONCURRENTLY is reported, and up drops the INVALID index and rebuilds it", async () => {
    const dir = migrationsDir({
      "20250101000000_a.sql": A,
      "20250102000000_b.sql": B,
      "20250103000000_unique_x.sql":
        "-- migrate:up transaction:false\ncreate unique index concurrently if not exists a_x_key on a (x);\n-- migrate:down transaction:false\ndrop index concurrently if exists a_x_key;\n",
    });
    const d = await db();
    const env = { DATABASE_URL: d.url };
    const failed = await pgship(["up", "--migrations-dir", dir], { env });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain("20250103000000_unique_x.sql:2");
    expect(failed.stderr).toContain("marked as running");
    const [idx] = await d.sql`select i.indisvalid from pg_index i join pg_class c on c.oid = i.indexrelid where c.relname = 'a_x_key'`;
    expect(idx!.indisvalid).toBe(false);

    const st = await pgship(["status", "--json", "--migrations-dir", dir], { env });
    const s = JSON.parse(st.stdout);
    expect(s.counts.running).toBe(1);
    expect(s.running[0].recovery).toContain("interrupted: run 'pgship up' to resume it (INVALID indexes a_x_key are dropped and rebuilt)");
    expect((await pgship(["status", "--exit-code", "--migrations-dir", dir], { env })).code).toBe(3);
    const [h] = await d.sql`select result, error from pgship.history order by id desc limit 1`;
    expect(h!.result).toBe("error");
    expect(h!.error).toContain("could not create unique index");

    await d.sql`delete from a where id > 3`;
    const resumed = await pgship(["up", "--migrations-dir", dir], { env });
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toContain("dropped INVALID index public.a_x_key");
    expect(resumed.stderr).toContain("resumed 20250103000000_unique_x");
    const [again] = await d.sql`select i.indisvalid from pg_index i join pg_class c on c.oid = i.indexrelid where c.relname = 'a_x_key'`;
    expect(again!.indisvalid).toBe(true);
    expect((await d.sql`select state from pgship.migrations where version = '20250103000000'`)[0]!.state).toBe("applied");
  });
});

describe("failures are recorded and explained", () => {
  test("a failing migration names file:line, rolls back, and is kept in the history", async () => {
    const dir = migrationsDir({
      "20250101000000_a.sql": A,
      "20250102000000_broken.sql": "-- migrate:up\ncreate table b (id int);\n\ninsert into b values (1);\nselect no_such_column from b;\n",
    });
    const d = await db();
    const env = { DATABASE_URL: d.url };
    const r = await pgship(["up", "--migrations-dir", dir], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("20250102000000_broken.sql:5");
    expect(r.stderr).toContain('column "no_such_column" does not exist');
    expect(r.stderr).toContain("the install was rolled back");
    expect(noStackTrace(r.stderr)).toBe(true);
    // The install was all-or-nothing: table a is gone too.
    expect(await d.sql`select 1 from pg_tables where tablename in ('a', 'b')`).toHaveLength(0);

    // As an update of an installed database: only the failing migration is rolled back.
    expect((await pgship(["up", "--to", "20250101000000", "--migrations-dir", dir], { env })).code).toBe(0);
    const u = await pgship(["up", "--migrations-dir", dir], { env });
    expect(u.code).toBe(1);
    expect(u.stderr).toContain("migration 20250102000000_broken failed at");
    expect(u.stderr).toContain("20250102000000_broken.sql:5");
    expect(u.stderr).toContain("rolled back: nothing from it was applied");
    expect(await d.sql`select 1 from pg_tables where tablename = 'b'`).toHaveLength(0);
    expect(await d.sql`select 1 from pg_tables where tablename = 'a'`).toHaveLength(1);

    const hist = await d.sql`select command, result, error from pgship.history order by id`;
    expect(hist.map((h) => h.result)).toEqual(["error", "ok", "error"]);
    expect(hist[2]!.error).toContain("no_such_column");
  });
});

describe("new, dump, build", () => {
  test("new creates a timestamped file from the template; bad names are usage errors", async () => {
    const work = tempDir();
    const r = await pgship(["new", "add webhook-url", "--migrations-dir", "db/migrations"], { cwd: work });
    expect(r.code).toBe(0);
    const [file] = readdirSync(join(work, "db/migrations"));
    expect(file).toMatch(/^\d{14}_add_webhook_url\.sql$/);
    expect(r.stdout).toContain(`db/migrations/${file}`);
    expect(readFileSync(join(work, "db/migrations", file!), "utf8")).toContain("-- migrate:up");
    const second = await pgship(["new", "add_webhook_url", "--migrations-dir", "db/migrations"], { cwd: work });
    expect(readdirSync(join(work, "db/migrations"))).toHaveLength(2);
    expect(second.code).toBe(0);
    const bad = await pgship(["new", "drop;table", "--migrations-dir", "db/migrations"], { cwd: work });
    expect(bad.code).toBe(2);
  });

  testWithPgDump("dump is deterministic and the committed schema.sql is current", async () => {
    const d = await db();
    const work = tempDir();
    const out1 = join(work, "one.sql");
    const out2 = join(work, "two.sql");
    expect((await pgship(["dump", "--schema-file", out1], { env: { DATABASE_URL: d.url } })).code).toBe(0);
    expect((await pgship(["dump", "--schema-file", out2], { env: { DATABASE_URL: d.url } })).code).toBe(0);
    const one = readFileSync(out1, "utf8");
    expect(readFileSync(out2, "utf8")).toBe(one);
    expect(one).not.toMatch(/\\restrict|Dumped (from|by)/);
    expect(readFileSync(join(FIXTURE, "schema.sql"), "utf8")).toBe(one);
    expect((await pgship(["dump", "--check"], { env: { DATABASE_URL: d.url } })).code).toBe(0);
    // No scratch database is left behind.
    expect(await d.sql`select datname from pg_database where datname like 'pgship_scratch_%'`).toHaveLength(0);
  });

  test("a malformed migration fails the build with file:line", () => {
    const dir = migrationsDir({ "20250101000000_a.sql": A, "20250102000000_bad.sql": "-- migrate:up transaction:maybe\nselect 1;\n" });
    const r = spawnSync(BUN, ["scripts/build.ts", "--migrations-dir", dir, "--schema-file", "/nonexistent.sql", "--outfile", join(tempDir(), "x")], { cwd: ROOT, encoding: "utf8" });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("20250102000000_bad.sql:1: transaction must be true or false");
  });

  test("the binary runs with no node_modules and no Bun on PATH", async () => {
    const lonely = mkdtempSync(join(tmpdir(), "pgship-lonely-"));
    copyFileSync(ensureBinary(), join(lonely, "app-db"));
    spawnSync("chmod", ["+x", join(lonely, "app-db")]);
    const d = await db();
    const r = spawnSync(join(lonely, "app-db"), ["status", "--json"], { cwd: lonely, encoding: "utf8", env: { PATH: "/usr/bin:/bin", DATABASE_URL: d.url } });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).source).toBe("embedded");
    expect(existsSync(join(lonely, "node_modules"))).toBe(false);
  });
});

describe("usage errors exit 2 without a stack trace", () => {
  test.each([
    [[], "Usage: pgship <command>"],
    [["frobnicate"], 'unknown command "frobnicate"'],
    [["status", "--databse-url", "x"], "unknown flag --databse-url"],
    [["up", "--lock-timeout", "soon"], '--lock-timeout "soon" is not a duration'],
    [["down", "--steps", "-1"], '--steps "-1" must be a whole number'],
    [["status", "extra"], 'unexpected argument "extra"'],
    [["up"], "no database given"],
  ])("%p", async (args, message) => {
    const r = await pgship(args as string[]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message as string);
    expect(noStackTrace(r.stderr)).toBe(true);
  });

  test("--help and --version exit 0 on stdout", async () => {
    const h = await pgship(["up", "--help"]);
    expect(h.code).toBe(0);
    expect(h.stdout).toContain("--dry-run");
    const v = await pgship(["--version"]);
    expect(v.stdout).toMatch(/^pgship \d+\.\d+\.\d+/);
  });

  test("wait gives up on a closed port with a clear message", async () => {
    const r = await pgship(["wait", "--timeout", "1s", "--database-url", "postgres://u:topsecret@127.0.0.1:1/db"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("connection refused by 127.0.0.1:1");
    expect(r.stderr).toContain("gave up after waiting 1.0 s");
    expect(r.stderr + r.stdout).not.toContain("topsecret");
  });

  test("wait returns once the server accepts connections", async () => {
    const d = await db();
    const r = await pgship(["wait", "--json"], { env: { DATABASE_URL: d.url } });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).ok).toBe(true);
  });

  void cleanEnv;
});
