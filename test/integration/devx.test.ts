// The developer's loop: new, dump, check, and status without a database.

import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cleanEnv, ensureBinary, noStackTrace, pgship, FIXTURE, tempDir, testWithPgDump, useDatabases } from "../harness/env.ts";
import { commands } from "../../src/cli/commands.ts";

const db = useDatabases("devx");

/** An app directory: migrations/, schema.sql and schema.model.json copied from the repository. */
function appDir(): string {
  const app = tempDir();
  cpSync(join(FIXTURE, "migrations"), join(app, "migrations"), { recursive: true });
  for (const f of ["schema.sql", "schema.model.json"]) cpSync(join(FIXTURE, f), join(app, f));
  return app;
}

describe("dump", () => {
  testWithPgDump("after the sample migrations are replaced, dump rewrites the snapshot it would otherwise be refused by", async () => {
    const d = await db();
    const app = appDir();
    const dir = join(app, "migrations");
    for (const f of readdirSync(dir)) rmSync(join(dir, f));
    writeFileSync(join(dir, "20300101000000_things.sql"), "-- migrate:up\ncreate table things (id int);\n-- migrate:down\ndrop table things;\n");
    // Other commands still refuse the stale snapshot.
    const refused = await pgship(["check", "--skip-stairway"], { cwd: app, env: { DATABASE_URL: d.url } });
    expect(refused.stderr).toContain("not one of the migrations");
    const r = await pgship(["dump"], { cwd: app, env: { DATABASE_URL: d.url } });
    expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
    expect(readFileSync(join(app, "schema.sql"), "utf8")).toStartWith("-- pgship snapshot: 20300101000000\n");
    expect(readFileSync(join(app, "schema.model.json"), "utf8")).toContain("20300101000000");
    expect((await pgship(["dump", "--check"], { cwd: app, env: { DATABASE_URL: d.url } })).code).toBe(0);
  }, 120_000);
});

/** The template's example lines ("--   sql") that `keep` picks, uncommented. */
function uncomment(text: string, keep: (line: string) => boolean): string {
  return text.split("\n").map((l) => (l.startsWith("--   ") && keep(l) ? l.slice(5) : l)).join("\n");
}

describe("new", () => {
  test("prints the file and the next steps; the template shows the examples", async () => {
    const app = tempDir();
    const r = await pgship(["new", "add_webhook_url"], { cwd: app });
    expect(r.code).toBe(0);
    const [file] = readdirSync(join(app, "migrations"));
    const shown = `migrations/${file}`;
    expect(r.stdout).toContain(`Created ${shown}`);
    expect(r.stdout).toContain(`1. edit ${shown}`);
    expect(r.stdout).toContain("2. pgship dump");
    expect(r.stdout).toContain("3. pgship check");
    const text = readFileSync(join(app, shown), "utf8");
    expect(text).toContain("add column");
    expect(text).toContain("create index concurrently");
    expect(text).toContain("--no-transaction");
    expect(text).toContain("in batches");
    const json = JSON.parse((await pgship(["new", "index_users", "--no-transaction", "--json"], { cwd: app })).stdout);
    expect(json.next).toEqual([`edit ${json.file}`, "pgship dump", "pgship check"]);
    const noTx = readFileSync(join(app, json.file), "utf8");
    expect(noTx).toStartWith("-- migrate:up transaction:false\n");
    expect(noTx).toContain("commit;");
  });

  test("an up section that still holds only the template's comments is 'not written yet'", async () => {
    const app = tempDir();
    expect((await pgship(["new", "add_things"], { cwd: app })).code).toBe(0);
    const [file] = readdirSync(join(app, "migrations"));
    const r = await pgship(["status", "--migrations-dir", "migrations", "--database-url", "postgres://x@127.0.0.1:1/x", "--json"], { cwd: app });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error.code).toBe("migration_file");
    expect(r.stderr).toContain(`migrations/${file}:1: not written yet`);
    expect(r.stderr).not.toContain("empty up section");
    expect(r.stderr.match(/not written yet/g)).toHaveLength(1);
    expect(noStackTrace(r.stderr)).toBe(true);
  });

  test("the template's examples run: a column, then an index built concurrently and a batched backfill", async () => {
    const d = await db();
    const app = tempDir();
    const dir = join(app, "migrations");
    expect((await pgship(["new", "accounts"], { cwd: app })).code).toBe(0);
    const [base] = readdirSync(dir);
    writeFileSync(join(dir, base!), "-- migrate:up\ncreate table accounts (id bigint primary key, user_id bigint, plan text);\ninsert into accounts select g, g % 100, null from generate_series(1, 25000) g;\n-- migrate:down\ndrop table accounts;\n");
    expect((await pgship(["new", "add_webhook_url"], { cwd: app })).code).toBe(0);
    expect((await pgship(["new", "index_and_backfill", "--no-transaction"], { cwd: app })).code).toBe(0);
    const [, column, index] = readdirSync(dir).sort();
    writeFileSync(join(dir, column!), uncomment(readFileSync(join(dir, column!), "utf8"), (l) => /alter table/.test(l)));
    writeFileSync(join(dir, index!), uncomment(readFileSync(join(dir, index!), "utf8"), () => true));
    const up = await pgship(["up", "--migrations-dir", "migrations"], { cwd: app, env: { DATABASE_URL: d.url } });
    expect({ code: up.code, stderr: up.stderr }).toMatchObject({ code: 0 });
    const [row] = await d.sql`select count(*)::int as n, count(*) filter (where plan = 'free')::int as free from accounts`;
    expect(row).toEqual({ n: 25000, free: 25000 });
    const [col] = await d.sql`select count(*)::int as n from information_schema.columns where table_name = 'accounts' and column_name = 'webhook_url'`;
    expect(col!.n).toBe(1);
    const [idx] = await d.sql`select indisvalid from pg_index where indexrelid = 'accounts_user_id_idx'::regclass`;
    expect(idx!.indisvalid).toBe(true);
    const down = await pgship(["down", "--steps", "2", "--migrations-dir", "migrations", "--yes"], { cwd: app, env: { DATABASE_URL: d.url } });
    expect({ code: down.code, stderr: down.stderr }).toMatchObject({ code: 0 });
  }, 60_000);
});

describe("status without a database", () => {
  test("lists the binary's migrations with their checksums and says the snapshot and model are current", async () => {
    const r = await pgship(["status"], { cwd: tempDir() });
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
    expect(r.stdout).toContain("Database: none configured");
    const files = readdirSync(join(FIXTURE, "migrations")).sort();
    for (const f of files) expect(r.stdout).toContain(`${f.slice(0, 14)}  ${f.slice(15, -4)}`);
    expect(r.stdout).toMatch(/CHECKSUM\n\s+\d{14}\s+\S+\s+[0-9a-f]{12}\n/);
    expect(r.stdout).toContain(`schema.sql (embedded) at ${files.at(-1)!.slice(0, 14)}: current`);
    expect(r.stdout).toContain("schema.model.json (embedded) at");
  });

  test("--migrations-dir: a snapshot and model left from replaced migrations are NOT CURRENT, and dump is named", async () => {
    const app = appDir();
    writeFileSync(join(app, "migrations", "20300101000000_newer.sql"), "-- migrate:up\ncreate table newer (id int);\n-- migrate:down\ndrop table newer;\n");
    const r = await pgship(["status", "--migrations-dir", "migrations"], { cwd: app });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("20300101000000  newer");
    expect(r.stdout).toMatch(/Snapshot: schema\.sql at \d{14}: NOT CURRENT \(at \d{14}, not the newest migration 20300101000000\)/);
    expect(r.stdout).toMatch(/Model: +schema\.model\.json at \d{14}: NOT CURRENT/);
    expect(r.stdout).toContain("Run 'pgship dump'");
    const json = JSON.parse((await pgship(["status", "--migrations-dir", "migrations", "--json"], { cwd: app })).stdout);
    expect(json.migrations.at(-1)).toMatchObject({ version: "20300101000000", file: "migrations/20300101000000_newer.sql" });
    expect(json.migrations.at(-1).checksum).toMatch(/^[0-9a-f]{64}$/);
    rmSync(join(app, "schema.sql"));
    const missing = await pgship(["status", "--migrations-dir", "migrations"], { cwd: app });
    expect(missing.stdout).toContain("Snapshot: schema.sql: NOT CURRENT (missing)");
  });

  test("--exit-code without a database is still a usage error, not a silent 0", async () => {
    const r = await pgship(["status", "--exit-code"], { cwd: tempDir() });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("no database given");
  });

  test("a database configured only through PG* variables is still used", async () => {
    const r = await pgship(["status"], { cwd: tempDir(), env: { PGHOST: "127.0.0.1", PGPORT: "1", PGUSER: "nobody" } });
    expect(r.code).toBe(1);
    expect(r.stdout).not.toContain("none configured");
  });
});

describe("help", () => {
  const FLAG_ONLY = /^\s+(-\w, )?--[\w-]+( <[^>]+>)?\s*$/;

  test("the command list is grouped, names the wizard, and fits 80 columns", async () => {
    const r = await pgship(["--help"]);
    expect(r.code).toBe(0);
    const groups = r.stdout.split(/\n(?=For servers:|Backups:|For developers:|Global flags:)/);
    const names = (title: string) => [...groups.find((g) => g.startsWith(title))!.matchAll(/^ {2}([a-z]+) /gm)].map((m) => m[1]);
    expect(names("For servers:")).toEqual(["up", "install", "update", "down", "status", "verify", "doctor", "wait", "baseline"]);
    expect(names("Backups:")).toEqual(["backup", "backups", "restore", "schedule"]);
    expect(names("For developers:")).toEqual(["new", "dump", "check", "init", "pack"]);
    expect(r.stdout).toContain("with no command on a terminal to start the interactive wizard");
    for (const line of r.stdout.split("\n")) expect({ line, fits: line.length <= 80 }).toEqual({ line, fits: true });
  });

  test("every command's help fits 80 columns, has no flag line without its text, and lists its global flags apart", async () => {
    for (const name of Object.keys(commands)) {
      const r = await pgship([name, "--help"]);
      expect({ name, code: r.code }).toEqual({ name, code: 0 });
      for (const line of r.stdout.split("\n")) expect({ name, line, fits: line.length <= 80 }).toEqual({ name, line, fits: true });
      // The flag tables: from each "Flags:" heading to the blank line after it.
      const tables = [...r.stdout.matchAll(/^(?:Global )?[Ff]lags:\n((?:.+\n)+)/gm)].map((m) => m[1]!);
      expect({ name, tables: tables.length >= 1 }).toEqual({ name, tables: true });
      for (const line of tables.join("").split("\n")) expect({ name, line, flagOnly: FLAG_ONLY.test(line) }).toEqual({ name, line, flagOnly: false });
      const [own, globals] = r.stdout.split("\nGlobal flags:\n");
      expect({ name, globals: globals !== undefined }).toEqual({ name, globals: true });
      expect(own).not.toContain("--database-url");
      expect(globals).toContain("--help");
    }
  });

  test("a flag on by default shows as --no-NAME with its own text; global flags a command does not read are not listed", async () => {
    const restore = (await pgship(["restore", "--help"])).stdout;
    expect(restore).toMatch(/^ {2}--no-manifest +Restore a pg_dump -Fc archive that has no manifest$/m);
    expect(restore).not.toMatch(/^ {2}--manifest\b/m);
    expect(restore).not.toContain("Default: true");
    const made = (await pgship(["new", "--help"])).stdout;
    expect(made).toMatch(/^ {2}--no-transaction +Start from the transaction:false template/m);
    expect(made).not.toContain("--database-url");
    expect(made).not.toContain("--lock-timeout");
    expect((await pgship(["status", "--help"])).stdout).not.toContain("--yes");
    expect((await pgship(["up", "--help"])).stdout).toMatch(/^ {2}--no-verify +Skip the check after migrating$/m);
  });

  test.skipIf(!existsSync("/usr/bin/script"))("on a terminal, help is wrapped to its width", () => {
    // script(1) gives the binary a terminal; stty sets its width to 110 columns.
    const r = spawnSync("/usr/bin/script", ["-qc", `stty cols 110; ${ensureBinary()} up --help`, "/dev/null"], { encoding: "utf8", env: cleanEnv() });
    const lines = r.stdout.replace(/\r/g, "").split("\n");
    expect(lines.some((l) => l.length > 80)).toBe(true);
    expect(lines.filter((l) => l.length > 110)).toEqual([]);
  });
});

describe("PGSHIP_PROFILE", () => {
  test("prints where the milliseconds went, phase by phase, and nothing without it", async () => {
    const d = await db();
    await pgship(["up", "--quiet"], { env: { DATABASE_URL: d.url } });
    const r = await pgship(["status"], { env: { DATABASE_URL: d.url, PGSHIP_PROFILE: "1" } });
    expect(r.code).toBe(0);
    const line = r.stderr.split("\n").find((l) => l.startsWith("profile "));
    const phases = JSON.parse(line!.slice("profile ".length)) as Record<string, number>;
    expect(Object.keys(phases)).toEqual(["runtime", "payload", "modules", "index", "auth", "connected", "queries", "output", "exit"]);
    const times = Object.values(phases);
    expect(times.every((t, i) => t > 0 && (i === 0 || t >= times[i - 1]!))).toBe(true);
    const version = await pgship(["--version"], { env: { PGSHIP_PROFILE: "1" } });
    expect(version.stderr).toMatch(/^profile \{"runtime":[\d.]+,"payload":[\d.]+,"exit":[\d.]+\}\n$/);
    expect((await pgship(["status"], { env: { DATABASE_URL: d.url } })).stderr).not.toContain("profile");
  });
});
