// Shared by the integration tests: one cluster per test process, one database
// per test, the compiled binary run as a child process like a user would.

import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, mkdirSync, statSync, writeFileSync, readdirSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import { startCluster, systemBinDir, type Cluster } from "./cluster.ts";
import { introspect } from "../../src/catalog/introspect.ts";
import { stableStringify } from "../../src/catalog/model.ts";

export const ROOT = resolve(import.meta.dir, "../..");
/**
 * The app the tests run against: its own migrations, snapshot, model and pgship.json
 * (brand "pgship"), so the suite does not depend on the repository's migrations/ and
 * schema.sql, which an app that forks the repository replaces.
 */
export const FIXTURE = join(ROOT, "test", "fixtures", "app");
/** The binary built from FIXTURE (ensureBinary), unless PGSHIP_BIN names another. */
export const BIN = process.env.PGSHIP_BIN ?? join(ROOT, "dist", "test", "pgship");
export const BUN = join(ROOT, "node_modules", ".bin", "bun");

let clusterPromise: Promise<Cluster> | null = null;
export function cluster(): Promise<Cluster> {
  clusterPromise ??= startCluster();
  return clusterPromise;
}

/** Builds dist/test/pgship from FIXTURE once per test run when it is missing or older than the sources. */
export function ensureBinary(): string {
  if (process.env.PGSHIP_BIN) return BIN;
  const newest = (dir: string): number =>
    Math.max(0, ...readdirSync(dir, { withFileTypes: true }).map((e) => (e.isDirectory() ? newest(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs)));
  const inputs = [newest(join(ROOT, "src")), newest(FIXTURE), ...["package.json", "install.sh", "scripts/build.ts"].map((f) => statSync(join(ROOT, f)).mtimeMs)];
  const stale = !existsSync(BIN) || Math.max(...inputs) > statSync(BIN).mtimeMs;
  if (stale) {
    const r = spawnSync(BUN, ["scripts/build.ts", "--project", FIXTURE, "--outfile", BIN], { cwd: ROOT, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`build failed: ${r.stderr}`);
  }
  return BIN;
}

let counter = 0;
export interface TestDb {
  name: string;
  url: string;
  sql: postgres.Sql;
}

/** A fresh, empty database for one test. */
export async function createDb(prefix = "t"): Promise<TestDb> {
  const c = await cluster();
  const name = `${prefix}_${process.pid}_${++counter}`;
  const admin = postgres(c.url("postgres"), { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${name}"`);
  await admin.end();
  const url = c.url(name);
  return { name, url, sql: postgres(url, { max: 2, onnotice: () => {} }) };
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Environment without the developer's database settings, so tests see only what they pass. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^(PG|DATABASE_URL)/.test(k)) env[k] = v;
  return { ...env, NO_COLOR: "1", ...extra };
}

export function pgship(args: string[], opts: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolvePromise) => {
    const child = spawn(ensureBinary(), args, { cwd: opts.cwd ?? FIXTURE, env: cleanEnv(opts.env), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 60_000);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code: code ?? (signal === "SIGKILL" ? 137 : 128), stdout, stderr });
    });
  });
}

/** Starts the binary and returns the child, for tests that kill or interrupt it. */
export function spawnPgship(args: string[], opts: { env?: Record<string, string>; cwd?: string } = {}) {
  return spawn(ensureBinary(), args, { cwd: opts.cwd ?? FIXTURE, env: cleanEnv(opts.env), stdio: ["ignore", "pipe", "pipe"] });
}

/** A temporary migrations directory holding the given files (name -> text). */
export function migrationsDir(files: Record<string, string>, copyRepo = false): string {
  const dir = join(mkdtempSync(join(tmpdir(), "pgship-app-")), "migrations");
  mkdirSync(dir);
  if (copyRepo) for (const f of readdirSync(join(FIXTURE, "migrations"))) copyFileSync(join(FIXTURE, "migrations", f), join(dir, f));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

export function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "pgship-work-"));
  mkdirSync(d, { recursive: true });
  return d;
}

/** Waits until `check` returns a truthy value (polling), or fails after `ms`. */
export async function until<T>(check: () => Promise<T | null | undefined | false>, ms = 15_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A client tool (psql, pg_dump...): beside the server binaries, else on PATH (the npm server ships none). */
export async function clientTool(name: string): Promise<string> {
  const c = await cluster();
  return existsSync(join(c.binDir, name)) ? join(c.binDir, name) : (Bun.which(name) ?? name);
}

/** Major version of a client tool (pg_dump by default) the tests and pgship find. */
export async function clientMajor(name = "pg_dump"): Promise<number> {
  const r = spawnSync(await clientTool(name), ["--version"], { encoding: "utf8" });
  return Number(/(\d+)(\.\d+)?/.exec(r.stdout)?.[1] ?? 0);
}

/**
 * Whether pg_dump can dump the test server (it must be at least the server's major).
 * When not, tests assert pgship's refusal instead: exit 1 and the version needed.
 */
export async function pgDumpUsable(): Promise<boolean> {
  return (await clientMajor()) >= (await cluster()).major;
}

/** Whether the pg_dump the tests find is at least the test server's major, known when a file loads. */
function pgDumpUsableSync(): boolean {
  const bin = systemBinDir();
  const major = (cmd: string | null) => Number(/(\d+)/.exec(cmd ? spawnSync(cmd, ["--version"], { encoding: "utf8" }).stdout ?? "" : "")?.[1] ?? 0);
  const client = existsSync(join(bin, "pg_dump")) ? join(bin, "pg_dump") : Bun.which("pg_dump");
  return major(client) >= major(join(bin, "postgres"));
}
/**
 * False where pg_dump is older than the test server (pg_dump 15 against 16+): tests that
 * need a backup are skipped there (test/backup/tools.test.ts asserts pgship's refusal instead).
 */
export const PG_DUMP_USABLE = pgDumpUsableSync();
export const describeWithPgDump = describe.skipIf(!PG_DUMP_USABLE);
export const testWithPgDump = test.skipIf(!PG_DUMP_USABLE);

/**
 * `pgship dump ARGS`. Where pg_dump is older than the test server (pg_dump 15 against a
 * 16+ server), asserts pgship's refusal instead (exit 1, naming the version needed) and
 * returns false: the caller then skips what needs the dumped files.
 */
export async function dumpOrRefusal(args: string[], env: Record<string, string>): Promise<boolean> {
  const r = await pgship(["dump", ...args], { env, timeoutMs: 120_000 });
  if (await pgDumpUsable()) {
    expect(r.stderr).not.toContain("or newer is needed");
    expect(r.code).toBe(0);
    return true;
  }
  expect(r.stderr).toContain(`pg_dump ${(await cluster()).major} or newer is needed for this PostgreSQL ${(await cluster()).major} server`);
  expect(r.code).toBe(1);
  return false;
}

/** pg_dump --schema-only of a database, for comparing two databases' schemas. */
export async function schemaOf(db: TestDb, exclude = "pgship"): Promise<string> {
  const c = await cluster();
  // pg_dump older than the server cannot dump it: compare pgship's catalog model instead.
  if (!(await pgDumpUsable())) {
    // One connection: introspect empties search_path on the session its queries run on.
    const one = postgres(db.url, { max: 1, onnotice: () => {} });
    try {
      return stableStringify({ ...(await introspect(one as unknown as Parameters<typeof introspect>[0], exclude)), serverMajor: 0 });
    } finally {
      await one.end();
    }
  }
  const r = spawnSync(await clientTool("pg_dump"), ["--schema-only", "--no-owner", "--no-privileges", `--exclude-schema=${exclude}`, "-h", "127.0.0.1", "-p", String(c.port), "-U", "postgres", db.name], {
    encoding: "utf8",
    env: { ...process.env, PGPASSWORD: c.password },
  });
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout.split("\n").filter((l) => !/^(--|\\(un)?restrict|$)/.test(l)).join("\n");
}

export const noStackTrace = (text: string) => !/\n\s+at .+:\d+/.test(text) && !text.includes("node_modules");

/**
 * A fresh database per call for one test file, closed when the file's tests are
 * done. Call at the top level of the file.
 */
export function useDatabases(prefix = "t"): () => Promise<TestDb> {
  const dbs: TestDb[] = [];
  afterAll(async () => {
    for (const d of dbs) await d.sql.end();
  });
  return async () => {
    const d = await createDb(prefix);
    dbs.push(d);
    return d;
  };
}
