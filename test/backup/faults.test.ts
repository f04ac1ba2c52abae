// Faults injected on purpose: pg_dump killed mid-backup, a file size limit
// (ulimit -f), Ctrl-C while pg_dump waits for a lock. A failed backup leaves
// no file under a backup's name, keeps the earlier backups, and runs no
// retention. Also: the password reaches pg_dump through its environment only.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import postgres from "postgres";
import { missing } from "../harness/tools.ts";
import { cleanEnv, clientTool, cluster, createDb, ensureBinary, noStackTrace, pgship, spawnPgship, tempDir, until, type TestDb, describeWithPgDump, PG_DUMP_USABLE } from "../harness/env.ts";
import { addBulk, childrenNamed, dumpingChild, filesIn, seed, sha256 } from "../harness/backup.ts";

let d: TestDb;
let dir: string;
let good: { file: string; manifest: string; sha256: string };
const env = () => ({ DATABASE_URL: d.url });

beforeAll(async () => {
  if (!PG_DUMP_USABLE) return; // every test here is skipped
  d = await createDb("fault");
  await seed(d, 50);
  await addBulk(d, 30_000); // ~25 MB that compresses to ~8 MB: pg_dump streams for about a second
  dir = tempDir();
  const r = await pgship(["backup", "--dir", dir, "--json"], { env: env() });
  expect(r.code).toBe(0);
  good = JSON.parse(r.stdout);
});
afterAll(async () => d?.sql.end());

/** The earlier backup is still there, byte for byte, and nothing else is. */
function onlyTheGoodBackup() {
  expect(filesIn(dir)).toEqual([good.file.split("/").pop()!, good.manifest.split("/").pop()!].sort());
  expect(sha256(good.file)).toBe(good.sha256);
}

const exitOf = (child: ReturnType<typeof spawn>) =>
  new Promise<number>((resolve) => child.on("close", (code, signal) => resolve(code ?? (signal ? 128 : 1))));

describeWithPgDump("a failed backup leaves nothing that looks like a backup", () => {
  test("pg_dump killed (SIGKILL) while it streams: no file under the final name, earlier backups intact, no retention", async () => {
    const child = spawnPgship(["backup", "--dir", dir, "--compress", "9", "--keep-last", "1"], { env: env() });
    let stderr = "";
    child.stderr!.on("data", (c) => (stderr += c));
    const done = exitOf(child);
    // Wait until pg_dump runs and pgship has written part of the archive to its temporary file.
    const pgDump = await until(
      async () => {
        const pid = dumpingChild(child.pid!);
        const partial = filesIn(dir).find((f) => f.includes(".partial-"));
        return pid && partial && statSync(join(dir, partial)).size > 256 * 1024 ? pid : null;
      },
      20_000,
      "pg_dump streaming into a partial file",
    );
    expect(filesIn(dir).filter((f) => !f.startsWith("."))).toHaveLength(2);
    process.kill(pgDump, "SIGKILL");
    expect(await done).toBe(1);
    expect(stderr).toContain("backup failed: pg_dump was killed by SIGKILL");
    expect(noStackTrace(stderr)).toBe(true);
    onlyTheGoodBackup();
  });

  test("a file size limit (ulimit -f) during the backup fails cleanly with a readable message", async () => {
    const bin = ensureBinary();
    // bash's ulimit -f counts 1024-byte blocks: 2 MiB, far less than the ~8 MB archive.
    const child = spawn("bash", ["-c", 'ulimit -f 2048; exec "$@"', "bash", bin, "backup", "--dir", dir, "--keep-last", "1"], { env: cleanEnv(env()), stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (c) => (stderr += c));
    expect(await exitOf(child)).toBe(1);
    expect(stderr).toContain("the file size limit was reached");
    expect(stderr).toContain("ulimit -f");
    expect(noStackTrace(stderr)).toBe(true);
    onlyTheGoodBackup();
  });

  test("the password is in pg_dump's environment, never its command line; Ctrl-C stops the backup (exit 130)", async () => {
    const c = await cluster();
    // A client holding a lock keeps pg_dump waiting (it locks every table first), so it can be inspected.
    const blocker = postgres(c.url(d.name), { max: 1, onnotice: () => {} });
    let release!: () => void;
    const held = blocker.begin(async (tx) => {
      await tx`lock table users in access exclusive mode`;
      await new Promise<void>((r) => (release = r));
    });
    await until(async () => release !== undefined);
    try {
      const child = spawnPgship(["backup", "--dir", dir], { env: env() });
      let stderr = "";
      child.stderr!.on("data", (chunk) => (stderr += chunk));
      const done = exitOf(child);
      const pgDump = await until(async () => dumpingChild(child.pid!), 15_000, "pg_dump to start");
      await until(async () => (await d.sql`select 1 from pg_stat_activity where application_name = 'pgship backup' and wait_event_type = 'Lock'`).length > 0, 15_000, "pg_dump waiting for the lock");
      const cmdline = readFileSync(`/proc/${pgDump}/cmdline`, "utf8").split("\0");
      expect(cmdline.join(" ")).not.toContain(c.password);
      expect(cmdline.some((a) => a.includes("postgres://"))).toBe(false);
      expect(cmdline).toContain("--format=custom");
      const environ = readFileSync(`/proc/${pgDump}/environ`, "utf8").split("\0");
      expect(environ).toContain(`PGPASSWORD=${c.password}`);

      child.kill("SIGINT");
      expect(await done).toBe(130);
      expect(stderr).toContain("interrupted during the backup");
      expect(stderr).not.toContain(c.password);
      onlyTheGoodBackup();
      await until(async () => childrenNamed(child.pid!, "pg_dump").length === 0, 5000, "pg_dump to be gone");
    } finally {
      release();
      await held;
      await blocker.end();
    }
  });

  test("pgship killed (SIGKILL) during an in-place restore: the transaction never commits, the database is as it was", async () => {
    const c = await cluster();
    const { fingerprint } = await import("../harness/backup.ts");
    await d.sql`update users set display_name = 'changed after the backup'`;
    const before = await fingerprint(c.url(d.name));
    // A reader holding a lock makes the restore's first statement (dropping the schemas) wait, part-way in.
    const blocker = postgres(c.url(d.name), { max: 1, onnotice: () => {} });
    let release!: () => void;
    const held = blocker.begin(async (tx) => {
      await tx`lock table users in access share mode`;
      await new Promise<void>((r) => (release = r));
    });
    await until(async () => release !== undefined);
    const child = spawnPgship(["restore", good.file, "--in-place", "--yes"], { env: env() });
    const done = exitOf(child);
    try {
      await until(async () => (await d.sql`select 1 from pg_stat_activity where application_name = 'pgship restore' and wait_event_type = 'Lock'`).length > 0, 20_000, "the restore waiting for the lock");
      child.kill("SIGKILL");
      expect(await done).toBe(128);
    } finally {
      release();
      await held;
      await blocker.end();
    }
    // psql reads what was already in its pipe, hits the end of its input without a COMMIT, and the server rolls back.
    await until(async () => (await d.sql`select 1 from pg_stat_activity where application_name = 'pgship restore'`).length === 0, 20_000, "the orphaned psql to finish");
    expect(await fingerprint(c.url(d.name))).toEqual(before);
  });

  test("why the in-place transaction is opened by pgship: input cut at a statement boundary commits nothing (with psql -1 it would)", async () => {
    const { spawnSync } = await import("node:child_process");
    const { psqlScriptArgs, toolEnv } = await import("../../src/backup/tool-args.ts");
    const { inPlacePreamble } = await import("../../src/backup/restore-plan.ts");
    const { parseDatabaseUrl } = await import("../../src/core/config.ts");
    await cluster();
    const scratch = await createDb("cut");
    await scratch.sql`create table keep_me (id int)`;
    const target = parseDatabaseUrl(scratch.url, "flag");
    const psql = await clientTool("psql");
    const preamble = inPlacePreamble({ schemas: ["public"], publicSchema: null, currentUser: "postgres", largeObjects: false }, 5000);
    // What psql has when pgship dies between two statements of pg_restore's script (whose BEGIN only warns).
    const cut = "BEGIN;\ncreate schema restored;\ncreate table restored.half_restored (id int);\ninsert into restored.half_restored values (1), (2);\n";
    const run = (input: string, args: string[]) =>
      spawnSync(psql, args, { input, env: { ...process.env, ...toolEnv(target, scratch.name, "cut") }, encoding: "utf8" });
    run(preamble + cut, psqlScriptArgs(scratch.name));
    expect(await scratch.sql`select 1 from pg_tables where tablename = 'keep_me'`).toHaveLength(1);
    expect(await scratch.sql`select 1 from pg_tables where tablename = 'half_restored'`).toHaveLength(0);
    // Letting psql own the transaction (--single-transaction, no BEGIN of ours): the end of input commits half a restore.
    run(preamble.replace(/^begin;\n/, "") + cut.replace(/^BEGIN;\n/, ""), [...psqlScriptArgs(scratch.name), "--single-transaction"]);
    expect(await scratch.sql`select 1 from pg_tables where tablename = 'keep_me'`).toHaveLength(0);
    expect(await scratch.sql`select count(*)::int as n from restored.half_restored`).toEqual([{ n: 2 }] as never);
    await scratch.sql.end();
  });

  test.skipIf(missing("script"))("on a terminal a progress line shows bytes and rate; without one, only the result", async () => {
    const { spawnSync } = await import("node:child_process");
    const bin = ensureBinary();
    const progressDir = tempDir();
    // `script` gives the backup a terminal (a pty) the way a person at a shell would.
    const r = spawnSync("script", ["-qec", `${bin} backup --dir ${progressDir} --compress 9`, "/dev/null"], { env: cleanEnv(env()), encoding: "utf8", timeout: 60_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/\r\u001b\[Kbackup: [\d.]+ (KiB|MiB), [\d.]+ (KiB|MiB)\/s/);
    expect(r.stdout).toContain("Backup written:");
    const piped = await pgship(["backup", "--dir", progressDir], { env: env() });
    expect(piped.stderr).toBe("");
  });
});

