// Every command's --json output is checked against its documented schema
// (docs/json/*.schema.json), run for real against a real database: success and
// failure shapes alike. A command without a schema fails here.

import { describe, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Ajv2020 from "ajv/dist/2020";
import { commands } from "../../src/cli/commands.ts";
import { FIXTURE, ROOT, pgship, tempDir, useDatabases, testWithPgDump } from "../harness/env.ts";

const dir = join(ROOT, "docs", "json");
const ajv = new Ajv2020({ allErrors: true, strict: false });
for (const f of readdirSync(dir).filter((f) => f.endsWith(".schema.json"))) ajv.addSchema(JSON.parse(readFileSync(join(dir, f), "utf8")), f);

/** The schema that documents each command's output. */
const SCHEMA_OF: Record<string, string> = { up: "migrate", install: "migrate", update: "migrate", down: "migrate" };
const schemaFor = (command: string) => `${SCHEMA_OF[command] ?? command}.schema.json`;

function expectValid(schema: string, stdout: string): unknown {
  const doc = JSON.parse(stdout);
  const validate = ajv.getSchema(schema);
  if (!validate) throw new Error(`no schema ${schema} in docs/json`);
  const ok = validate(doc);
  if (!ok) throw new Error(`${schema}: ${ajv.errorsText(validate.errors, { separator: "\n  " })}\n${stdout.slice(0, 2000)}`);
  return doc;
}

const db = useDatabases("json");

describe("--json schemas", () => {
  test("every command has a schema file", () => {
    const missing = Object.keys(commands).filter((c) => !ajv.getSchema(schemaFor(c)));
    expect(missing).toEqual([]);
  });

  test("migration commands, plans, status and baseline match their schemas", async () => {
    const d = await db();
    const url = ["--database-url", d.url];
    const run = async (schema: string, args: string[], code = 0) => {
      const r = await pgship([...args, ...url, "--json"]);
      expect({ args, code: r.code, stderr: r.stderr }).toMatchObject({ code });
      return expectValid(schema, r.stdout) as Record<string, unknown>;
    };
    await run("status.schema.json", ["status"]);
    await run("plan.schema.json", ["up", "--dry-run"]);
    await run("plan.schema.json", ["install", "--dry-run", "--to", "20250305093000"]);
    const installed = await run("migrate.schema.json", ["install", "--to", "20250305093000"]);
    expect(installed.action).toBe("install");
    await run("plan.schema.json", ["update", "--dry-run"]);
    const updated = await run("migrate.schema.json", ["update"]);
    expect(updated.action).toBe("update");
    expect((updated.steps as unknown[]).length).toBeGreaterThan(0);
    await run("migrate.schema.json", ["up"]);
    await run("plan.schema.json", ["down", "--dry-run", "--steps", "2"]);
    const down = await run("migrate.schema.json", ["down", "--steps", "2"]);
    expect(down.action).toBe("down");
    await run("status.schema.json", ["status"]);
    const err = await run("migrate.schema.json", ["install"], 1);
    expect(err.ok).toBe(false);
    await run("baseline.schema.json", ["baseline", "20250305093000"], 1);
  });

  test("baseline, wait and new match their schemas", async () => {
    const d = await db();
    await d.sql`create table t (id int)`;
    const b = await pgship(["baseline", "20250305093000", "--database-url", d.url, "--json"]);
    expect(b.code).toBe(0);
    expectValid("baseline.schema.json", b.stdout);
    const w = await pgship(["wait", "--timeout", "5s", "--database-url", d.url, "--json"]);
    expect(w.code).toBe(0);
    expectValid("wait.schema.json", w.stdout);
    const cwd = tempDir();
    const n = await pgship(["new", "add_things", "--json"], { cwd });
    expect(n.code).toBe(0);
    expectValid("new.schema.json", n.stdout);
    const bad = await pgship(["new", "no good!", "--json"], { cwd });
    expect(bad.code).toBe(2);
    expectValid("new.schema.json", bad.stdout);
  });

  test("adoption (baseline --from, --drop-source, up --adopt) and its refusals match their schemas", async () => {
    const ok = async (d: { url: string }, schema: string, args: string[], code = 0) => {
      const r = await pgship([...args, "--database-url", d.url, "--json"]);
      expect({ args, code: r.code, stderr: r.stderr }).toMatchObject({ code });
      return expectValid(schema, r.stdout) as Record<string, any>;
    };
    const foreign = async (table: string, rows: string) => {
      const d = await db();
      await ok(d, "migrate.schema.json", ["install", "--to", "20250305093000"]);
      await d.sql.unsafe(`drop schema pgship cascade; ${table}; ${rows}`);
      return d;
    };
    const dbmate = await foreign("create table schema_migrations (version varchar(128) primary key)", "insert into schema_migrations values ('20250305093000')");
    await dbmate.sql`alter table users add column nickname text`;
    expect((await ok(dbmate, "baseline.schema.json", ["baseline", "--from", "dbmate"], 4)).error.code).toBe("adopt_drift");
    expect((await ok(dbmate, "baseline.schema.json", ["baseline", "--from", "dbmate", "--force"])).adopted.forced).toBe(true);
    expect((await ok(dbmate, "baseline.schema.json", ["baseline", "--drop-source"])).dropped).toEqual(["public.schema_migrations"]);
    const golang = await foreign("create table schema_migrations (version bigint primary key, dirty boolean not null)", "insert into schema_migrations values (20250305093000, false)");
    expect((await ok(golang, "migrate.schema.json", ["up", "--adopt"])).adopted.tool).toBe("golang-migrate");
  }, 60_000);

  testWithPgDump("backup, backups, backups verify and restore match their schemas", async () => {
    const d = await db();
    await d.sql`create table t (id int primary key, v text)`;
    await d.sql`insert into t select g, 'row ' || g from generate_series(1, 50) g`;
    const url = ["--database-url", d.url];
    const dir = tempDir();
    const ok = async (schema: string, args: string[], code = 0) => {
      const r = await pgship([...args, ...url, "--json"]);
      expect({ args, code: r.code, stderr: r.stderr }).toMatchObject({ code });
      return expectValid(schema, r.stdout) as Record<string, any>;
    };
    const b = await ok("backup.schema.json", ["backup", "--dir", dir, "--keep-last", "3"]);
    expect(b.retention.kept.length).toBe(1);
    await ok("backup.schema.json", ["backup", "--dir", dir, "--keep-last", "3", "--dry-run"]);
    const list = await ok("backups.schema.json", ["backups", "--dir", dir]);
    expect(list.backups.length).toBe(1);
    await ok("backups.schema.json", ["backups", "verify", b.file]);
    await ok("restore.schema.json", ["restore", b.file, "--dry-run"]);
    const r = await ok("restore.schema.json", ["restore", b.file, "--yes"]);
    expect(r.database).toBe(d.name);
    expect(r.wayBack).toEqual({ kind: "kept-database", database: r.kept });
    const plan = await ok("restore.schema.json", ["restore", "--undo", "--dry-run"]);
    expect(plan.restorePlan.mode).toBe("swap");
    const u = await ok("restore.schema.json", ["restore", "--undo", "--yes"]);
    expect(u.restored).toBe(r.kept);
    const inPlace = await ok("restore.schema.json", ["restore", b.file, "--yes", "--in-place", "--safety-dir", join(dir, "safety")]);
    expect(inPlace.wayBack.kind).toBe("safety-backup");
    await ok("restore.schema.json", ["restore", "--undo", "--dry-run"]);
    const back = await ok("restore.schema.json", ["restore", "--undo", "--yes"]);
    expect(back.undo).toBe(true);
    await ok("restore.schema.json", ["restore", "--drop-old", "--yes"]);
    await ok("restore.schema.json", ["restore", b.file, "--yes", "--in-place", "--no-safety-backup"]);
    await ok("restore.schema.json", ["restore", "--undo", "--yes"], 1);
    await ok("restore.schema.json", ["restore", join(dir, "missing.dump"), "--yes"], 1);
  });

  testWithPgDump("--ping reports and pinned backups match their schemas (up, update, verify, backup, backups pin, errors)", async () => {
    const d = await db();
    const url = ["--database-url", d.url];
    const dir = tempDir();
    // A monitor that is down: every report fails, and says so in the document.
    const s = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("") });
    const ping = ["--ping", `http://127.0.0.1:${s.port}/0123456789abcdef-token`];
    s.stop(true);
    const ok = async (schema: string, args: string[], code = 0) => {
      const r = await pgship([...args, ...url, "--json"]);
      expect({ args, code: r.code }).toMatchObject({ code });
      return expectValid(schema, r.stdout) as Record<string, any>;
    };
    await ok("migrate.schema.json", ["install", "--to", "20250305093000"]);
    const up = await ok("migrate.schema.json", ["update", "--to", "20250318160000", "--backup", dir, ...ping]);
    expect(up.alerts.warnings).toHaveLength(2);
    expect(up.backup.pinned.reason).toBe("pre-update");
    const up2 = await ok("migrate.schema.json", ["up", "--backup", dir, ...ping]);
    expect(up2.backup.unpinned).toEqual([up.backup.file.split("/").at(-1)]);
    expect((await ok("verify.schema.json", ["verify", ...ping])).alerts.warnings).toHaveLength(2);
    const b = await ok("backup.schema.json", ["backup", "--dir", dir, ...ping]);
    expect(b.pinned).toBeNull();
    expect((await ok("backups.schema.json", ["backups", "pin", b.file])).pinned.reason).toBe("manual");
    expect((await ok("backups.schema.json", ["backups", "--dir", dir])).backups.map((x: { pinned: unknown }) => x.pinned !== null)).toEqual([false, true, true]);
    expect((await ok("backups.schema.json", ["backups", "unpin", b.file])).pinned).toBeNull();
    expect((await ok("backups.schema.json", ["backups", "pin", join(dir, "missing.dump")], 1)).error.code).toBe("backup_missing");
    const err = await ok("backup.schema.json", ["backup", ...ping], 2);
    expect(err.alerts.warnings).toHaveLength(2);
    expect((await ok("verify.schema.json", ["verify", "--fix", "--dry-run", "--migrations-dir", join(dir, "nope"), ...ping], 2)).alerts.ping).toStartWith("http://127.0.0.1:");
  }, 60_000);

  test("status without a database: the offline shape, current and stale", async () => {
    const embedded = await pgship(["status", "--json"], { cwd: tempDir() });
    expect(embedded.code).toBe(0);
    expect(expectValid("status.schema.json", embedded.stdout)).toMatchObject({ offline: true, source: "embedded", snapshot: { current: true }, model: { current: true } });
    const app = tempDir();
    mkdirSync(join(app, "migrations"));
    writeFileSync(join(app, "migrations", "20300101000000_a.sql"), "-- migrate:up\ncreate table a (id int);\n");
    copyFileSync(join(FIXTURE, "schema.sql"), join(app, "schema.sql"));
    const stale = await pgship(["status", "--json", "--migrations-dir", "migrations"], { cwd: app });
    expect(stale.code).toBe(0);
    expect(expectValid("status.schema.json", stale.stdout)).toMatchObject({ offline: true, snapshot: { current: false }, model: { version: null, current: false } });
  });

  test("a connection failure prints the error shape", async () => {
    const r = await pgship(["status", "--database-url", "postgres://nobody@127.0.0.1:1/x", "--json"]);
    expect(r.code).toBe(1);
    expectValid("status.schema.json", r.stdout);
    const w = await pgship(["wait", "--timeout", "1s", "--database-url", "postgres://nobody@127.0.0.1:1/x", "--json"]);
    expect(w.code).toBe(1);
    expectValid("wait.schema.json", w.stdout);
  });
});
