// The wizard's connection screens in a real terminal (tmux): it creates only
// what is missing, never changes a password that works, offers to type a wrong
// one again before anything else, says where the settings came from, saves
// typed settings to ./.env (0600, other lines kept) and lists exactly what it
// changed. Each test checks the screen, the server and the files, and that
// nothing was printed outside the wizard's frame.

import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { parseDotenv } from "../../src/core/config.ts";
import { cleanEnv, cluster, createDb, ensureBinary, noStackTrace } from "../harness/env.ts";
import { missing } from "../harness/tools.ts";
import { Terminal, useTerminals } from "../harness/tmux.ts";

const { terminals, dbs } = useTerminals();

let n = 0;
const unique = (prefix: string) => `${prefix}_${process.pid}_${++n}`;

async function admin() {
  const c = await cluster();
  return { c, sql: postgres(c.url("postgres"), { max: 1, onnotice: () => {} }) };
}

/** Logs in as `user` with `password` to `database`: true when the server accepts it. */
async function logsIn(user: string, password: string, database = "postgres"): Promise<boolean> {
  const c = await cluster();
  const sql = postgres(c.url(database, user, password), { max: 1, onnotice: () => {}, connect_timeout: 5 });
  try {
    await sql`select 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.end();
  }
}

function start(dir: string, extraEnv: Record<string, string> = {}): Terminal {
  const env = cleanEnv();
  const term = new Terminal([ensureBinary()], { cwd: dir, width: 200, env: { PATH: env.PATH!, HOME: dir, LANG: "C.UTF-8", TERM: "xterm-256color", NO_COLOR: "1", ...extraEnv } });
  terminals.push(term);
  return term;
}

/** The closing checks every test makes: exit code, and nothing outside the frame. */
async function finish(term: Terminal, code = 0): Promise<string> {
  expect(await term.exitCode(60_000)).toBe(code);
  const screen = term.screen();
  expect(term.strays()).toEqual([]);
  expect(noStackTrace(screen)).toBe(true);
  return screen;
}

const tempFiles = (dir: string) => readdirSync(dir).filter((f) => f.endsWith(".tmp"));

describe.skipIf(missing("tmux"))("wizard: connecting and creating what is missing", () => {
  test("database missing, login works: creates only the database, owned by the user; the password still works", async () => {
    const { c, sql } = await admin();
    const user = unique("app");
    const database = unique("appdb");
    await sql.unsafe(`create role ${user} login password 'app-pw'`);
    await sql.end();
    const dir = mkdtempSync(join(tmpdir(), "pgship-wizard-"));
    const dotenv = `SECRET_KEY=keep\nDATABASE_URL=${c.url(database, user, "app-pw")}\n`;
    writeFileSync(join(dir, ".env"), dotenv, { mode: 0o600 });
    const term = start(dir);
    await term.waitFor(`The database "${database}" does not exist yet`);
    await term.waitFor("What now?");
    expect(term.screen()).toContain(`Create the database "${database}"`);
    term.send("Enter"); // the first option: create the database
    await term.waitFor("PostgreSQL admin user");
    term.send("Enter");
    await term.waitFor("Password for postgres");
    term.type(c.password);
    term.send("Enter");
    await term.waitFor(`Created database ${database}.`);
    await term.waitFor(", from ./.env (PostgreSQL ");
    await term.waitFor("What would you like to do?");
    term.send("Up", "Enter"); // Quit
    const screen = await finish(term);
    expect(screen).toContain(`Done: created database ${database}.`);
    expect(screen).not.toContain("Nothing was changed");
    expect(screen).not.toContain("new password");
    expect(screen).not.toContain(c.password);
    const { sql: check } = await admin();
    expect([...(await check`select pg_get_userbyid(datdba) as owner from pg_database where datname = ${database}`)]).toEqual([{ owner: user }]);
    await check.end();
    expect(await logsIn(user, "app-pw", database)).toBe(true);
    expect(readFileSync(join(dir, ".env"), "utf8")).toBe(dotenv);
  }, 90_000);

  test("wrong password: the default is to type it again; the typed one is saved to ./.env (0600, other lines kept); the server's password is not changed", async () => {
    const { c, sql } = await admin();
    const user = unique("app");
    const database = unique("appdb");
    await sql.unsafe(`create role ${user} login password 'right-pw'`);
    await sql.unsafe(`create database ${database} owner ${user}`);
    await sql.end();
    const dir = mkdtempSync(join(tmpdir(), "pgship-wizard-"));
    writeFileSync(join(dir, ".env"), `SECRET_KEY=keep\nDATABASE_URL=${c.url(database, user, "wrong-pw")}\nPORT=8080\n`, { mode: 0o644 });
    const term = start(dir);
    await term.waitFor(`The password for user "${user}" was not accepted, or there is no user "${user}".`);
    await term.waitFor("What now?");
    expect(term.screen()).toContain(`Set a new password for user "${user}" (anything else using the old one stops working)`);
    term.send("Enter"); // the default
    await term.waitFor(`Password for ${user}`);
    term.type("right-pw");
    term.send("Enter");
    await term.waitFor(", typed (PostgreSQL ");
    await term.waitFor("Save these settings for next time?");
    term.send("Enter"); // Save to ./.env
    await term.waitFor("Saved DATABASE_URL in ./.env");
    await term.waitFor("What would you like to do?");
    term.send("Up", "Enter");
    const screen = await finish(term);
    expect(screen).toContain("Done: wrote DATABASE_URL to ./.env.");
    expect(screen).not.toContain("right-pw");
    expect(await logsIn(user, "right-pw", database)).toBe(true);
    const env = parseDotenv(readFileSync(join(dir, ".env"), "utf8"));
    expect(env).toEqual({ SECRET_KEY: "keep", DATABASE_URL: c.url(database, user, "right-pw"), PORT: "8080" });
    expect(statSync(join(dir, ".env")).mode & 0o777).toBe(0o600);
    expect(tempFiles(dir)).toEqual([]);
  }, 90_000);

  test("wrong password, 'Set a new password' chosen: the summary lists the new password and the .env written", async () => {
    const { c, sql } = await admin();
    const user = unique("app");
    const database = unique("appdb");
    await sql.unsafe(`create role ${user} login password 'old-pw'`);
    await sql.unsafe(`create database ${database} owner ${user}`);
    await sql.end();
    const dir = mkdtempSync(join(tmpdir(), "pgship-wizard-"));
    writeFileSync(join(dir, ".env"), `DATABASE_URL=${c.url(database, user, "wrong-pw")}\n`, { mode: 0o600 });
    const term = start(dir);
    await term.waitFor("What now?");
    term.send("Down", "Down", "Enter"); // type again, create user, set a new password
    await term.waitFor("PostgreSQL admin user");
    term.send("Enter");
    await term.waitFor("Password for postgres");
    term.type(c.password);
    term.send("Enter");
    await term.waitFor("What would you like to do?");
    term.send("Up", "Enter");
    const screen = await finish(term);
    expect(screen).toContain(`, from ./.env (PostgreSQL `);
    expect(screen).toContain(`Done: set a new password for ${user}; wrote DATABASE_URL to ./.env.`);
    const written = parseDotenv(readFileSync(join(dir, ".env"), "utf8")).DATABASE_URL!;
    const pw = decodeURIComponent(new URL(written.replace("postgres:", "http:")).password);
    expect(screen).not.toContain(pw);
    expect(await logsIn(user, "old-pw", database)).toBe(false);
    expect(await logsIn(user, pw, database)).toBe(true);
    expect(statSync(join(dir, ".env")).mode & 0o777).toBe(0o600);
  }, 90_000);

  test("no such user (the server says only 'password not accepted'): 'Create user' creates the user and the database", async () => {
    const c = await cluster();
    const user = unique("newapp");
    const database = unique("newdb");
    const dir = mkdtempSync(join(tmpdir(), "pgship-wizard-"));
    writeFileSync(join(dir, ".env"), `DATABASE_URL=${c.url(database, user, "whatever")}\n`, { mode: 0o600 });
    const term = start(dir);
    await term.waitFor(`or there is no user "${user}"`);
    await term.waitFor("What now?");
    term.send("Down", "Enter"); // Create user
    await term.waitFor("PostgreSQL admin user");
    term.send("Enter");
    await term.waitFor("Password for postgres");
    term.type(c.password);
    term.send("Enter");
    await term.waitFor("What would you like to do?");
    term.send("Up", "Enter");
    const screen = await finish(term);
    expect(screen).toContain(`Done: created user ${user}; created database ${database}; wrote DATABASE_URL to ./.env.`);
    const written = parseDotenv(readFileSync(join(dir, ".env"), "utf8")).DATABASE_URL!;
    const pw = decodeURIComponent(new URL(written.replace("postgres:", "http:")).password);
    expect(await logsIn(user, pw, database)).toBe(true);
    const { sql } = await admin();
    expect([...(await sql`select pg_get_userbyid(datdba) as owner from pg_database where datname = ${database}`)]).toEqual([{ owner: user }]);
    await sql.end();
  }, 90_000);

  test("'Create user' when the user exists: nothing is changed, its password still works", async () => {
    const { c, sql } = await admin();
    const user = unique("app");
    const database = unique("appdb");
    await sql.unsafe(`create role ${user} login password 'right-pw'`);
    await sql.unsafe(`create database ${database} owner ${user}`);
    await sql.end();
    const dir = mkdtempSync(join(tmpdir(), "pgship-wizard-"));
    const dotenv = `DATABASE_URL=${c.url(database, user, "wrong-pw")}\n`;
    writeFileSync(join(dir, ".env"), dotenv, { mode: 0o600 });
    const term = start(dir);
    await term.waitFor("What now?");
    term.send("Down", "Enter");
    await term.waitFor("PostgreSQL admin user");
    term.send("Enter");
    await term.waitFor("Password for postgres");
    term.type(c.password);
    term.send("Enter");
    await term.waitFor(`User "${user}" exists: it was its password that was not accepted. Nothing was changed`);
    await term.waitFor("What now?");
    term.send("Up", "Enter"); // Quit, from the connection menu
    const screen = await finish(term, 0);
    expect(screen).toContain("Nothing was changed. Bye.");
    expect(await logsIn(user, "right-pw", database)).toBe(true);
    expect(readFileSync(join(dir, ".env"), "utf8")).toBe(dotenv);
  }, 90_000);

  test("an admin that may not create databases: one clear line in the frame, back to the choices, nothing changed", async () => {
    const { c, sql } = await admin();
    const user = unique("app");
    const weak = unique("weak");
    const database = unique("appdb");
    await sql.unsafe(`create role ${user} login password 'app-pw'`);
    await sql.unsafe(`create role ${weak} login password 'weak-pw' nocreatedb nocreaterole`);
    await sql.end();
    const dir = mkdtempSync(join(tmpdir(), "pgship-wizard-"));
    writeFileSync(join(dir, ".env"), `DATABASE_URL=${c.url(database, user, "app-pw")}\n`, { mode: 0o600 });
    const term = start(dir);
    await term.waitFor("What now?");
    term.send("Enter"); // create the database
    await term.waitFor("PostgreSQL admin user");
    term.type(weak);
    term.send("Enter");
    await term.waitFor(`Password for ${weak}`);
    term.type("weak-pw");
    term.send("Enter");
    await term.waitFor(`As ${weak}: permission denied to create database`);
    await term.waitFor("What now?");
    term.send("Up", "Enter"); // Quit
    const screen = await finish(term, 0);
    expect(screen).toContain("Nothing was changed. Bye.");
    const { sql: check } = await admin();
    expect(await check`select 1 from pg_database where datname = ${database}`).toHaveLength(0);
    await check.end();
    expect(await logsIn(user, "app-pw")).toBe(true);
  }, 90_000);

  test("Ctrl-C after creating the database, at 'Save these settings?': the closing line still says what was created, exit 130", async () => {
    const c = await cluster();
    const database = unique("typeddb");
    const dir = mkdtempSync(join(tmpdir(), "pgship-wizard-"));
    const term = start(dir);
    for (const [prompt, value] of [["PostgreSQL host", "127.0.0.1"], ["Port", String(c.port)], ["Database name", database], ["User", "postgres"], ["Password for postgres", c.password]] as const) {
      await term.waitFor(prompt);
      term.type(value);
      term.send("Enter");
    }
    await term.waitFor(`The database "${database}" does not exist yet`);
    await term.waitFor("What now?");
    term.send("Enter");
    await term.waitFor("PostgreSQL admin user");
    term.send("Enter");
    await term.waitFor("Password for postgres");
    term.type(c.password);
    term.send("Enter");
    await term.waitFor("Save these settings for next time?");
    term.send("C-c");
    const screen = await finish(term, 130);
    expect(screen).toContain(`Cancelled. Already done before: created database ${database}.`);
    expect(existsSync(join(dir, ".env"))).toBe(false);
    const { sql } = await admin();
    expect(await sql`select 1 from pg_database where datname = ${database}`).toHaveLength(1);
    await sql.end();
  }, 90_000);

  test("Quit on the connection-failure menu exits 0", async () => {
    const d = await createDb("wizq");
    dbs.push(d);
    const dir = mkdtempSync(join(tmpdir(), "pgship-wizard-"));
    writeFileSync(join(dir, ".env"), `DATABASE_URL=postgres://nobody@127.0.0.1:1/${d.name}\n`, { mode: 0o600 });
    const term = start(dir);
    await term.waitFor("Nothing is listening at 127.0.0.1:1");
    await term.waitFor("What now?");
    term.send("Up", "Enter");
    const screen = await finish(term, 0);
    expect(screen).toContain("Nothing was changed. Bye.");
    expect(await d.sql`select 1 from pg_namespace where nspname = 'pgship'`).toHaveLength(0);
  }, 60_000);
});

describe.skipIf(missing("tmux"))("wizard: where the settings come from", () => {
  test("DATABASE_URL in the environment and a different one in ./.env: says which is used and why, and uses it", async () => {
    const used = await createDb("wizenv");
    const other = await createDb("wizdotenv");
    dbs.push(used, other);
    const dir = mkdtempSync(join(tmpdir(), "pgship-wizard-"));
    writeFileSync(join(dir, ".env"), `DATABASE_URL=${other.url}\n`, { mode: 0o600 });
    const term = start(dir, { DATABASE_URL: used.url });
    await term.waitFor("DATABASE_URL is set both in the environment and in ./.env, to different values. Using the environment's");
    await term.waitFor(`postgres@127.0.0.1:${(await cluster()).port}/${used.name}, from the environment (DATABASE_URL) (PostgreSQL `);
    await term.waitFor("Install (fresh install");
    term.send("Enter");
    await term.waitFor("Install into the empty database now?");
    term.send("Enter");
    await term.waitFor("Installed: the database is at", 60_000);
    await term.waitFor("What would you like to do?");
    term.send("Up", "Enter");
    await finish(term);
    expect((await used.sql`select count(*)::int as n from pgship.migrations`)[0]!.n).toBe(8);
    expect(await other.sql`select 1 from pg_namespace where nspname = 'pgship'`).toHaveLength(0);
  }, 90_000);

  test("a wrong password from the environment, typed again and saved: says the environment still overrides ./.env", async () => {
    const d = await createDb("wizover");
    dbs.push(d);
    const c = await cluster();
    const dir = mkdtempSync(join(tmpdir(), "pgship-wizard-"));
    const term = start(dir, { DATABASE_URL: c.url(d.name, "postgres", "wrong-pw") });
    await term.waitFor(", from the environment (DATABASE_URL)");
    await term.waitFor("What now?");
    term.send("Enter"); // type the password again
    await term.waitFor("Password for postgres");
    term.type(c.password);
    term.send("Enter");
    await term.waitFor("Save these settings for next time?");
    term.send("Enter");
    await term.waitFor("DATABASE_URL is also set in the environment, to something else: pgship commands run from this shell use the environment's, not ./.env.");
    await term.waitFor("What would you like to do?");
    term.send("Up", "Enter");
    const screen = await finish(term);
    expect(screen).toContain("Done: wrote DATABASE_URL to ./.env.");
    expect(screen).not.toContain(c.password);
    expect(parseDotenv(readFileSync(join(dir, ".env"), "utf8"))).toEqual({ DATABASE_URL: c.url(d.name) });
    expect(statSync(join(dir, ".env")).mode & 0o777).toBe(0o600);
    expect(await d.sql`select 1 from pg_namespace where nspname = 'pgship'`).toHaveLength(0);
  }, 90_000);

  test("no settings anywhere: typed values connect, are shown as typed and saved to a new ./.env at 0600", async () => {
    const d = await createDb("wiztyped");
    dbs.push(d);
    const c = await cluster();
    const dir = mkdtempSync(join(tmpdir(), "pgship-wizard-"));
    const term = start(dir);
    await term.waitFor("No DATABASE_URL found");
    await term.waitFor("PostgreSQL host");
    term.type("127.0.0.1");
    term.send("Enter");
    await term.waitFor("Port");
    term.type(String(c.port));
    term.send("Enter");
    await term.waitFor("Database name");
    term.type(d.name);
    term.send("Enter");
    await term.waitFor("User");
    term.type("postgres");
    term.send("Enter");
    await term.waitFor("Password for postgres");
    term.type(c.password);
    term.send("Enter");
    await term.waitFor(`postgres@127.0.0.1:${c.port}/${d.name}, typed (PostgreSQL `);
    await term.waitFor("Save these settings for next time?");
    term.send("Enter");
    await term.waitFor("Saved DATABASE_URL in ./.env");
    await term.waitFor("What would you like to do?");
    term.send("Enter"); // Install
    await term.waitFor("Install into the empty database now?");
    term.send("Enter");
    await term.waitFor("Installed: the database is at", 60_000);
    await term.waitFor("What would you like to do?");
    term.send("Up", "Enter");
    const screen = await finish(term);
    expect(screen).toContain("Done: wrote DATABASE_URL to ./.env; installed 20250415120000.");
    expect(screen).not.toContain(c.password);
    expect(parseDotenv(readFileSync(join(dir, ".env"), "utf8"))).toEqual({ DATABASE_URL: c.url(d.name) });
    expect(statSync(join(dir, ".env")).mode & 0o777).toBe(0o600);
    expect(tempFiles(dir)).toEqual([]);
    expect(existsSync(join(dir, ".env"))).toBe(true);
    expect((await d.sql`select count(*)::int as n from pgship.migrations`)[0]!.n).toBe(8);
  }, 90_000);
});
