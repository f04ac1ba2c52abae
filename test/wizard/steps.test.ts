// Each wizard step with injected input/output streams, against a real
// PostgreSQL (connections, role creation) but no terminal.

import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { parseDatabaseUrl, parseDotenv, type ConnectionTarget } from "../../src/core/config.ts";
import type { StatusReport } from "../../src/core/plan.ts";
import { connect } from "../../src/db/connect.ts";
import { connectStep, explain, saveTarget } from "../../src/wizard/connect.ts";
import { buildMenu } from "../../src/wizard/menu.ts";
import { databaseUrl, generatePassword, saveDotenv, scramVerifier, upsertDotenv } from "../../src/wizard/provision.ts";
import { provisionStep } from "../../src/wizard/provision-db.ts";
import { Cancelled } from "../../src/wizard/ui.ts";
import { cluster, createDb, type TestDb } from "../harness/env.ts";
import { KEY, scriptedIO } from "../harness/prompt-io.ts";

const dbs: TestDb[] = [];
afterAll(async () => {
  for (const d of dbs) await d.sql.end();
});

const report = (patch: Partial<StatusReport>, pending = 0): StatusReport => ({
  managed: true, empty: false, version: "20250101000000", head: "20250301000000",
  entries: Array.from({ length: pending }, (_, i) => ({ version: `2025020${i}000000`, name: `m${i}`, status: "pending" as const })),
  counts: { applied: 1, pending, changed: 0, running: 0, unknown: 0 },
  ...patch,
});
const values = (r: StatusReport) => buildMenu(r, 0).map((o) => o.value);

describe("menu: the recommended action first", () => {
  test("empty database: install", () => expect(values(report({ managed: false, empty: true, version: null }))).toEqual(["install", "restore", "health", "quit"]));
  test("pending migrations: update, naming them", () => {
    expect(values(report({}, 2))).toEqual(["update", "backup", "restore", "health", "schedule", "quit"]);
    expect(buildMenu(report({}, 2), 0)[0]).toMatchObject({ label: "Update (2 pending)", hint: "m0, m1" });
  });
  test("up to date: health check", () => expect(values(report({}))).toEqual(["health", "backup", "restore", "schedule", "quit"]));
  test("history disagrees (changed migration): health check, no update", () => {
    expect(values(report({ counts: { applied: 1, pending: 1, changed: 1, running: 0, unknown: 0 } }, 1))).toEqual(["health", "backup", "restore", "schedule", "quit"]);
  });
});

describe("provisioning helpers", () => {
  test("generated passwords are long, URL-safe and different", () => {
    const a = generatePassword();
    expect(a).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(generatePassword()).not.toBe(a);
  });
  test(".env update keeps every other line", () => {
    const before = "# my app\nSECRET_KEY=abc\nexport DATABASE_URL=old\nPORT=8080\n";
    expect(upsertDotenv(before, "DATABASE_URL", "postgres://a:b@h:5432/d")).toBe("# my app\nSECRET_KEY=abc\nDATABASE_URL=postgres://a:b@h:5432/d\nPORT=8080\n");
    expect(upsertDotenv("A=1", "DATABASE_URL", 'we"ird $x')).toBe('A=1\nDATABASE_URL="we\\"ird \\$x"\n');
    expect(parseDotenv(upsertDotenv("", "DATABASE_URL", "postgres://u:p@h/d")).DATABASE_URL).toBe("postgres://u:p@h/d");
  });
  test("saveDotenv replaces a 0644 .env by a 0600 one through a temporary file, keeping other lines and leaving nothing behind", () => {
    const dir = mkdtempSync(join(tmpdir(), "pgship-wz-"));
    const path = join(dir, ".env");
    writeFileSync(path, "# app\nSECRET_KEY=keep\nDATABASE_URL=postgres://old@h/d\n", { mode: 0o644 });
    const before = statSync(path).ino;
    saveDotenv(path, "DATABASE_URL", "postgres://u:secret@h:5432/d");
    expect(readFileSync(path, "utf8")).toBe("# app\nSECRET_KEY=keep\nDATABASE_URL=postgres://u:secret@h:5432/d\n");
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(path).ino).not.toBe(before); // renamed into place, never rewritten in place
    expect(readdirSync(dir)).toEqual([".env"]);
    saveDotenv(join(dir, "new.env"), "DATABASE_URL", "postgres://u@h/d");
    expect(statSync(join(dir, "new.env")).mode & 0o777).toBe(0o600);
    expect(() => saveDotenv(join(dir, "missing", ".env"), "DATABASE_URL", "x")).toThrow();
    expect(readdirSync(dir).sort()).toEqual([".env", "new.env"]);
  });
  test("the URL written round-trips through the parser", () => {
    const t = { user: "app", password: "p@ss/word", host: "db.local", port: 5433, database: "my app" };
    expect(parseDatabaseUrl(databaseUrl(t), "dotenv")).toMatchObject(t);
  });
  test("a SCRAM verifier the server accepts: the role logs in with the password", async () => {
    const d = await createDb("wz");
    dbs.push(d);
    const pw = generatePassword();
    const role = `scram_${process.pid}`;
    await d.sql.unsafe(`create role ${role} login password '${scramVerifier(pw)}'`);
    const c = await cluster();
    const sql = postgres(c.url(d.name, role, pw), { max: 1 });
    expect((await sql`select current_user as u`)[0]!.u).toBe(role);
    await sql.end();
  });
});

describe("connect step", () => {
  const tryConnect = (t: ConnectionTarget) => connect(t, { applicationName: "test", connectTimeoutSec: 3 });

  test("plain words for each failure", async () => {
    const c = await cluster();
    const t = parseDatabaseUrl(c.url("nope_db"), "flag");
    const e = await tryConnect(t).catch((x) => x);
    expect(explain(e, t)).toEqual({ words: 'The database "nope_db" does not exist yet (user "postgres" logged in).', offer: "database" });
    const bad = parseDatabaseUrl(c.url("postgres", "postgres", "wrong"), "flag");
    expect(explain(await tryConnect(bad).catch((x) => x), bad).words).toBe('The password for user "postgres" was not accepted, or there is no user "postgres".');
    const closed = parseDatabaseUrl("postgres://u@127.0.0.1:1/x", "flag");
    expect(explain(await tryConnect(closed).catch((x) => x), closed).words).toBe("Nothing is listening at 127.0.0.1:1. Is PostgreSQL running, and on that port?");
  });

  test("a wrong password: says so, the default is to type it again, then 'change settings' and typed answers connect", async () => {
    const d = await createDb("wz");
    dbs.push(d);
    const c = await cluster();
    const wrong = parseDatabaseUrl(c.url(d.name, "postgres", "not-it"), "env");
    const io = scriptedIO([
      ["What now?", KEY.enter], // the default: type the password again
      ["Password for postgres", `still-not-it${KEY.enter}`],
      ["What now?", `${KEY.down}${KEY.down}${KEY.down}${KEY.enter}`], // type again, create user, new password, change
      ["PostgreSQL host", KEY.enter],
      ["Port", KEY.enter],
      ["Database name", KEY.enter],
      ["User", KEY.enter],
      ["Password for", `${c.password}${KEY.enter}`],
      ["Save these settings", `${KEY.down}${KEY.enter}`], // Don't save
    ]);
    const dir = mkdtempSync(join(tmpdir(), "pgship-wz-"));
    const { target, db, file, changes } = await connectStep(io, { target: wrong, from: "from the environment (DATABASE_URL)" }, "app", { tryConnect, provision: async () => null, dotenvPath: join(dir, ".env") });
    await db.close();
    expect(io.screen()).toContain('The password for user "postgres" was not accepted, or there is no user "postgres".');
    expect(io.screen()).toContain("Set a new password for user \"postgres\" (anything else using the old one stops working)");
    expect(io.screen()).toContain(", typed (PostgreSQL");
    expect(file).toBeNull();
    expect(changes).toEqual([]);
    expect(existsSync(join(dir, ".env"))).toBe(false);
    expect(io.screen()).not.toContain(c.password);
    expect(target).toMatchObject({ database: d.name, user: "postgres", password: c.password });
    expect(io.pending()).toEqual([]);
  });

  test("Ctrl-C at a prompt is a Cancelled, not an exit", async () => {
    const io = scriptedIO([["What now?", KEY.ctrlC]]);
    const closed = parseDatabaseUrl("postgres://u@127.0.0.1:1/x", "flag");
    await expect(connectStep(io, { target: closed, from: "from --database-url" }, "app", { tryConnect, provision: async () => null, dotenvPath: "/nonexistent/.env" })).rejects.toBeInstanceOf(Cancelled);
  });
});

describe("provision step", () => {
  test("creates the role and database with a generated password; saveTarget writes .env 0600, keeping other keys", async () => {
    const c = await cluster();
    const dir = mkdtempSync(join(tmpdir(), "pgship-wz-"));
    const dotenvPath = join(dir, ".env");
    writeFileSync(dotenvPath, "SECRET_KEY=keep-me\n", { mode: 0o644 });
    const name = `shop_${process.pid}`;
    const wanted: ConnectionTarget = { ...parseDatabaseUrl(c.url(name, name, ""), "flag") };
    const io = scriptedIO([
      ["PostgreSQL admin user", KEY.enter],
      ["Password for postgres", `${c.password}${KEY.enter}`],
    ]);
    const done = await provisionStep(io, wanted, "user", { connectAdmin: (t) => connect(t, { applicationName: "test" }) });
    expect(done).toMatchObject({ changes: [`created user ${name}`, `created database ${name}`], newPassword: true });
    const next = done!.target;
    expect(saveTarget(io, next, { dotenvPath })).toBe("wrote DATABASE_URL to ./.env");
    expect(statSync(dotenvPath).mode & 0o777).toBe(0o600);
    const env = parseDotenv(readFileSync(dotenvPath, "utf8"));
    expect(env.SECRET_KEY).toBe("keep-me");
    const written = parseDatabaseUrl(env.DATABASE_URL!, "dotenv");
    expect(written).toMatchObject({ user: name, database: name });
    expect(written.password).toBe(next!.password);
    expect(io.screen()).not.toContain(next!.password);
    expect(io.screen()).not.toContain(c.password);
    const db = await connect(written, { applicationName: "test" });
    const [row] = await db.sql.unsafe<{ u: string; d: string; owner: string }[]>("select current_user as u, current_database() as d, pg_get_userbyid(datdba) as owner from pg_database where datname = current_database()");
    expect(row).toEqual({ u: name, d: name, owner: name });
    await db.close();
    expect(existsSync(dotenvPath)).toBe(true);
  });
});

describe("byte progress for the wizard", () => {
  test("a backup run from the wizard reports bytes and a rate as events, then that it is done", async () => {
    const { createContext } = await import("../../src/cli/context.ts");
    const { Interrupt } = await import("../../src/core/cancel.ts");
    const { backup } = await import("../../src/ops/backup.ts");
    const d = await createDb("wz");
    dbs.push(d);
    await d.sql`create table t as select g as id, md5(g::text) as v from generate_series(1, 20000) g`;
    const seen: [number, number][] = [];
    const types: string[] = [];
    const ctx = createContext({ _: [], quiet: true } as never, new Interrupt(), {
      target: parseDatabaseUrl(d.url, "flag"),
      emit: (e) => {
        types.push(e.type);
        if (e.type === "bytes") seen.push([e.bytes, e.bytesPerSecond]);
      },
    });
    const dir = mkdtempSync(join(tmpdir(), "pgship-wz-backup-"));
    const written = await backup(ctx, { dir, compression: { method: "auto" }, keys: null, retention: {}, dryRun: false, tools: {} });
    expect(written.file).toContain(dir);
    expect(seen.length).toBeGreaterThan(0);
    // The last count is the archive's size, even when it came sooner than the next redraw.
    expect(seen.at(-1)![0]).toBe(written.bytes);
    expect(seen.every(([, rate]) => rate > 0)).toBe(true);
    expect(types.at(-1)).toBe("bytes-done");
  });
});
