// Faults injected on purpose: kill -9, Ctrl-C, terminated backends, eight
// runners racing, and every way a connection can be wrong.

import { describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { cluster, migrationsDir, noStackTrace, pgship, FIXTURE, spawnPgship, until, type TestDb, useDatabases } from "../harness/env.ts";

const db = useDatabases("f");

// The slow step sleeps for as long as the database's pgship_test.sleep setting says,
// so the same file is slow while the test wants it to be and instant on the rerun.
const SLEEP = "select pg_sleep(coalesce(nullif(current_setting('pgship_test.sleep', true), ''), '0')::float);";
const A = "-- migrate:up\ncreate table a (id int primary key, x int);\ninsert into a select g, g from generate_series(1, 1000) g;\n-- migrate:down\ndrop table a;\n";
const SLOW_TX = `-- migrate:up\ncreate table b (id int);\ninsert into b values (1);\n${SLEEP}\n-- migrate:down\ndrop table b;\n`;
const SLOW_NOTX = `-- migrate:up transaction:false\ncreate index concurrently if not exists a_x_idx on a (x);\n${SLEEP}\n-- migrate:down transaction:false\ndrop index concurrently if exists a_x_idx;\n`;

async function setSleep(d: TestDb, seconds: number) {
  await d.sql.unsafe(`alter database "${d.name}" set pgship_test.sleep = '${seconds}'`);
}

async function sleepingBackend(d: TestDb): Promise<number> {
  return until(async () => {
    const [r] = await d.sql`select pid from pg_stat_activity where datname = ${d.name} and application_name = 'pgship up' and query like '%pg_sleep%' and state = 'active'`;
    return r?.pid as number | undefined;
  }, 20_000, "the migration to reach pg_sleep");
}

const exitOf = (child: ReturnType<typeof spawnPgship>) =>
  new Promise<{ code: number | null; signal: string | null; stderr: string }>((resolve) => {
    let stderr = "";
    child.stderr!.on("data", (c) => (stderr += c));
    child.on("close", (code, signal) => resolve({ code, signal, stderr }));
  });

/**
 * A database at the first migration, and `up` running the slow second one:
 * returns when its backend is inside pg_sleep.
 */
async function slowUp(second: string) {
  const dir = migrationsDir({ "20250101000000_a.sql": A, [second.includes("transaction:false") ? "20250102000000_index.sql" : "20250102000000_slow.sql"]: second });
  const d = await db();
  const env = { DATABASE_URL: d.url };
  expect((await pgship(["up", "--to", "20250101000000", "--migrations-dir", dir], { env })).code).toBe(0);
  await setSleep(d, 60);
  const child = spawnPgship(["up", "--migrations-dir", dir], { env });
  const done = exitOf(child);
  const pid = await sleepingBackend(d);
  return { dir, d, env, child, done, pid };
}

/**
 * Before PostgreSQL 14 there is no client_connection_check_interval: the server notices a
 * killed client only when its statement ends. There, end the orphaned backend as an operator would.
 */
async function endOrphanBefore14(d: TestDb, pid: number) {
  if ((await cluster()).major < 14) await d.sql`select pg_terminate_backend(${pid})`;
}

describe("kill -9 of the binary", () => {
  test("during a transactional migration: nothing half-applied, the next up completes", async () => {
    const { dir, d, env, child, done, pid } = await slowUp(SLOW_TX);
    child.kill("SIGKILL");
    expect((await done).signal).toBe("SIGKILL");
    await endOrphanBefore14(d, pid);
    await setSleep(d, 0);
    // The orphaned backend notices its client is gone and rolls back; the rerun waits for its lock.
    const r = await pgship(["up", "--migrations-dir", dir, "--lock-timeout", "30s"], { env });
    expect(r.code).toBe(0);
    expect((await d.sql`select count(*)::int as n from b`)[0]!.n).toBe(1);
    expect((await d.sql`select version, state from pgship.migrations order by 1`).map((x) => `${x.version}:${x.state}`)).toEqual(["20250101000000:applied", "20250102000000:applied"]);
    const hist = await d.sql`select result from pgship.history order by id`;
    // The killed run could not finish its history row: it stays 'running', as evidence.
    expect(hist.map((h) => h.result)).toEqual(["ok", "running", "ok"]);
  }, 60_000);

  test("during a transaction:false migration: status shows it running, up resumes it", async () => {
    const { dir, d, env, child, done, pid } = await slowUp(SLOW_NOTX);
    child.kill("SIGKILL");
    await done;
    await endOrphanBefore14(d, pid);
    await setSleep(d, 0);
    await until(async () => (await d.sql`select 1 from pg_stat_activity where datname = ${d.name} and application_name = 'pgship up'`).length === 0, 15_000, "the orphaned backend to end");
    const st = await pgship(["status", "--json", "--migrations-dir", dir], { env });
    const s = JSON.parse(st.stdout);
    expect(s.running).toHaveLength(1);
    expect(s.running[0].recovery).toContain("interrupted: run 'pgship up' to resume it");
    const r = await pgship(["up", "--migrations-dir", dir], { env });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("resumed 20250102000000_index");
    const [idx] = await d.sql`select i.indisvalid from pg_index i join pg_class c on c.oid = i.indexrelid where c.relname = 'a_x_idx'`;
    expect(idx!.indisvalid).toBe(true);
  }, 60_000);
});

describe("Ctrl-C", () => {
  test("SIGINT during a migration rolls it back, releases the lock and exits 130", async () => {
    const { dir, d, env, child, done } = await slowUp(SLOW_TX);
    child.kill("SIGINT");
    const r = await done;
    expect(r.code).toBe(130);
    expect(r.stderr).toContain("interrupted while running 20250102000000_slow.sql; it was rolled back");
    expect(await d.sql`select 1 from pg_tables where tablename = 'b'`).toHaveLength(0);
    await setSleep(d, 0);
    const again = await pgship(["up", "--migrations-dir", dir, "--lock-timeout", "0s"], { env });
    expect(again.code).toBe(0);
  }, 60_000);
});

describe("the backend is terminated mid-migration", () => {
  test("rolled back, a clear error, the history says so, and a rerun succeeds", async () => {
    const { dir, d, env, done, pid } = await slowUp(SLOW_TX);
    await d.sql`select pg_terminate_backend(${pid})`;
    const r = await done;
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("the connection to the server was lost");
    expect(r.stderr).toContain("rolled back: nothing from it was applied");
    expect(noStackTrace(r.stderr)).toBe(true);
    expect(await d.sql`select 1 from pg_tables where tablename = 'b'`).toHaveLength(0);
    const [h] = await d.sql`select result, error from pgship.history order by id desc limit 1`;
    expect(h!.result).toBe("error");
    expect(h!.error).toContain("connection to the server was lost");
    await setSleep(d, 0);
    expect((await pgship(["up", "--migrations-dir", dir], { env })).code).toBe(0);
    expect(await d.sql`select 1 from pg_tables where tablename = 'b'`).toHaveLength(1);
  }, 60_000);
});

describe("eight runners at once", () => {
  test("8 concurrent up on one empty database: every migration applied once, all exit 0", async () => {
    const d = await db();
    const env = { DATABASE_URL: d.url };
    // Replay (no snapshot) so a CREATE INDEX CONCURRENTLY runs while seven others wait for the lock.
    const args = ["up", "--migrations-dir", "migrations", "--schema-file", "/nonexistent.sql", "--lock-timeout", "60s"];
    const results = await Promise.all(Array.from({ length: 8 }, () => pgship(args, { env, timeoutMs: 90_000 })));
    for (const r of results) expect(`${r.code} ${r.stderr}`).toStartWith("0");
    const files = readdirSync(join(FIXTURE, "migrations")).sort();
    const rows = await d.sql`select version, count(*)::int as n from pgship.migrations group by 1 order by 1`;
    expect(rows.map((r) => r.version)).toEqual(files.map((f) => f.slice(0, 14)));
    expect(rows.every((r) => r.n === 1)).toBe(true);
    const installs = results.filter((r) => r.stdout.startsWith("Installed"));
    expect(installs).toHaveLength(1);
    expect(results.filter((r) => r.stdout.startsWith("Already up to date"))).toHaveLength(7);
    const hist = await d.sql`select result from pgship.history`;
    expect(hist).toHaveLength(8);
    expect(hist.every((h) => h.result === "ok")).toBe(true);
  }, 120_000);
});

describe("connection problems: one clear message, the right exit code, no password", () => {
  test("wrong password", async () => {
    const c = await cluster();
    const r = await pgship(["status"], { env: { DATABASE_URL: c.url("postgres", "postgres", "Wr0ng-S3cret!") } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('password authentication failed for user "postgres"');
    expect(r.stderr + r.stdout).not.toContain("Wr0ng-S3cret");
    expect(r.stderr + r.stdout).not.toContain(encodeURIComponent("Wr0ng-S3cret!"));
    expect(noStackTrace(r.stderr)).toBe(true);
  });

  test("wrong password, verbose: details but still no password", async () => {
    const c = await cluster();
    const r = await pgship(["status", "--verbose", "--database-url", c.url("postgres", "postgres", "Wr0ng-S3cret")]);
    expect(r.code).toBe(1);
    expect(r.stderr + r.stdout).not.toContain("Wr0ng-S3cret");
  });

  test("unreachable host (closed port)", async () => {
    const r = await pgship(["up", "--database-url", "postgres://app:Hunter22@127.0.0.1:1/app"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("connection refused by 127.0.0.1:1");
    expect(r.stderr).toContain("is PostgreSQL running");
    expect(r.stderr).not.toContain("Hunter22");
    expect(noStackTrace(r.stderr)).toBe(true);
  });

  test("unknown host name", async () => {
    const r = await pgship(["status", "--database-url", "postgres://app:Hunter22@db.invalid:5432/app"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/host "db\.invalid" not found|could not reach/);
    expect(r.stderr).not.toContain("Hunter22");
  });

  test("missing database", async () => {
    const c = await cluster();
    const r = await pgship(["status"], { env: { DATABASE_URL: c.url("no_such_db") } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('database "no_such_db" does not exist');
    expect(r.stderr).not.toContain(c.password);
  });

  test.each([
    ["mysql://app:Hunter22@h/app", "must start with postgres://"],
    ["postgres://app:Hunter22@h:notaport/app", "invalid database URL"],
    ["postgres://app:%E0%A4%A@h/app", "bad %-escape"],
  ])("bad URL %s", async (url, message) => {
    const r = await pgship(["status", "--database-url", url]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stderr).not.toContain("Hunter22");
    expect(noStackTrace(r.stderr)).toBe(true);
  });

  test("--wait retries with backoff until the deadline", async () => {
    const t0 = Date.now();
    const r = await pgship(["status", "--wait", "2s", "--database-url", "postgres://app@127.0.0.1:1/app"]);
    expect(r.code).toBe(1);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1500);
    expect(r.stderr).toContain("retrying in");
  });
});
