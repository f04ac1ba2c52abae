// The wizard end to end in a real terminal (tmux), driven like a person:
// fresh install, update with a backup first, health check with a fix, restore
// from the list, Ctrl-C at a prompt and during a migration. Assertions are on
// the database, not only the screen.

import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cleanEnv, createDb, ensureBinary, migrationsDir, pgship, until, type TestDb } from "../harness/env.ts";
import { missing } from "../harness/tools.ts";
import { runLikeCron } from "../harness/cron.ts";
import { Terminal, useTerminals } from "../harness/tmux.ts";

/**
 * Runs a `schedule backup` command (installing into a private root, as a crontab
 * line), checks the line holds no secret, runs it as cron would (sh -c, an empty
 * environment, another directory) and returns how many new backups it wrote.
 */
function cronBackupWorks(command: string, dir: string, url: string): number {
  const root = mkdtempSync(join(tmpdir(), "pgship-sched-"));
  const [bin, ...args] = command.split(" ");
  const env = { PATH: process.env.PATH!, HOME: dir, PGSHIP_SCHEDULE_ROOT: root };
  const installed = spawnSync(bin!, [...args, "--cron"], { cwd: dir, encoding: "utf8", env, timeout: 60_000 });
  expect(installed.stderr).toBe("");
  expect(installed.status).toBe(0);
  const line = readFileSync(join(root, "crontab"), "utf8").trim();
  expect(line).not.toContain(new URL(url.replace(/^postgres/, "http")).password);
  const dumps = () => (existsSync(join(dir, "backups")) ? readdirSync(join(dir, "backups")).filter((f) => f.endsWith(".dump")) : []);
  const before = dumps();
  const elsewhere = mkdtempSync(join(tmpdir(), "pgship-cron-"));
  const r = runLikeCron(line, elsewhere);
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  return dumps().filter((f) => !before.includes(f)).length;
}

const { terminals, dbs } = useTerminals();

/** A directory like a self-hoster's: .env with DATABASE_URL, and the binary started there. */
async function setup(opts: { installTo?: string; migrations?: string; before?: (d: TestDb, dir: string) => Promise<void> } = {}) {
  const d = await createDb("wiz");
  dbs.push(d);
  const dir = mkdtempSync(join(tmpdir(), "pgship-wizard-"));
  writeFileSync(join(dir, ".env"), `DATABASE_URL=${d.url}\n`, { mode: 0o600 });
  const flags = opts.migrations ? ["--migrations-dir", opts.migrations] : [];
  if (opts.installTo) expect((await pgship(["install", "--to", opts.installTo, ...flags], { env: { DATABASE_URL: d.url } })).code).toBe(0);
  await opts.before?.(d, dir);
  const env = cleanEnv({ LANG: "C.UTF-8", TERM: "xterm-256color" });
  const term = new Terminal([ensureBinary(), ...flags], { cwd: dir, env: { PATH: env.PATH!, HOME: env.HOME ?? dir, LANG: "C.UTF-8", TERM: "xterm-256color", NO_COLOR: "1" } });
  terminals.push(term);
  await term.waitFor("What would you like to do?");
  return { d, dir, term };
}

const applied = async (d: TestDb) => (await d.sql`select count(*)::int as n from pgship.migrations where state = 'applied'`)[0]!.n as number;

describe.skipIf(missing("tmux"))("wizard in a terminal", () => {
  test("fresh install", async () => {
    const { d, term } = await setup();
    await term.waitFor(", from ./.env (PostgreSQL ");
    await term.waitFor("Install (fresh install");
    term.send("Enter");
    await term.waitFor("Install into the empty database now?");
    term.send("Enter");
    await term.waitFor("Installed: the database is at 20250415120000");
    await term.waitFor("What would you like to do?");
    term.send("Up", "Enter"); // the list wraps: Up from the first option is Quit
    expect(await term.exitCode()).toBe(0);
    expect(await applied(d)).toBe(8);
    expect(term.strays()).toEqual([]);
    expect(term.screen()).not.toContain(new URL(d.url.replace("postgres:", "http:")).password);
    expect(term.screenWithEscapes()).not.toMatch(/\u001b\[3\dm/); // NO_COLOR
  }, 60_000);

  test("update with a backup first: that backup is pinned, the one pinned before an earlier update is released", async () => {
    // An earlier update from the command line left its pre-update backup pinned in ./backups.
    const { d, dir, term } = await setup({
      installTo: "20250221110000",
      before: async (db, cwd) => expect((await pgship(["update", "--to", "20250305093000", "--backup", join(cwd, "backups")], { env: { DATABASE_URL: db.url } })).code).toBe(0),
    });
    await term.waitFor("Update (3 pending)");
    term.send("Enter");
    await term.waitFor("Take a backup first?");
    term.send("Enter");
    await term.waitFor("Backup directory");
    term.send("Enter");
    await term.waitFor("Apply 3 migrations now?");
    term.send("Enter");
    await term.waitFor("Backup written and verified");
    await term.waitFor("Updated: the database is at 20250415120000");
    await term.waitFor("What would you like to do?");
    term.send("Up", "Enter");
    expect(await term.exitCode()).toBe(0);
    expect(await applied(d)).toBe(8);
    const dumps = readdirSync(join(dir, "backups")).filter((f) => f.endsWith(".dump")).sort();
    expect(dumps).toHaveLength(2);
    const pinOf = (f: string) => JSON.parse(readFileSync(join(dir, "backups", f.replace(/\.dump$/, ".manifest.json")), "utf8")).pinned ?? null;
    expect(pinOf(dumps[0]!)).toBeNull();
    expect(pinOf(dumps[1]!).reason).toBe("pre-update");
    expect(term.strays()).toEqual([]);
  }, 60_000);

  test("back up now: the file is written, verified and restorable; nothing outside the frame", async () => {
    const { d, dir, term } = await setup({ installTo: "20250415120000" });
    await d.sql`insert into users (email, password_hash) values ('kept@example.com', 'x')`;
    await term.waitFor("Back up now");
    // Health check (recommended: up to date), Back up now.
    term.send("Down", "Enter");
    await term.waitFor("Backup directory");
    term.send("Enter");
    await term.waitFor("Backup written and verified");
    await term.waitFor("Restore it with:");
    await term.waitFor("What would you like to do?");
    term.send("Up", "Enter");
    expect(await term.exitCode()).toBe(0);
    expect(term.strays()).toEqual([]);
    const files = readdirSync(join(dir, "backups")).filter((f) => f.endsWith(".dump"));
    expect(files).toHaveLength(1);
    // What the screen promises: pgship's own verification of the file passes.
    const v = await pgship(["backups", "verify", join(dir, "backups", files[0]!), "--json"], { env: { DATABASE_URL: d.url } });
    expect(v.code).toBe(0);
    expect(term.screen()).toContain("Done: backup ");
  }, 90_000);

  test("health check with a fix", async () => {
    const { d, term } = await setup({ installTo: "20250415120000" });
    await d.sql`drop index instances_user_id_idx`;
    await d.sql`alter table users alter column display_name drop default`;
    await term.waitFor("Health check (doctor and verify");
    term.send("Enter");
    await term.waitFor("Differences from the expected schema");
    await term.waitFor("Apply 2 repair statement(s)?");
    term.send("Enter");
    await term.waitFor("Repaired; verified again: no drift.");
    await term.waitFor("What would you like to do?");
    term.send("Up", "Enter");
    expect(await term.exitCode()).toBe(0);
    expect(await d.sql`select 1 from pg_indexes where indexname = 'instances_user_id_idx'`).toHaveLength(1);
    expect(term.strays()).toEqual([]);
  }, 60_000);

  test("restore from the list", async () => {
    const { d, dir, term } = await setup({ installTo: "20250415120000" });
    term.send("Escape"); // not yet: take the backup first, then start again
    await term.exitCode();
    await d.sql`insert into users (email, password_hash) values ('before@example.com', 'x')`;
    expect((await pgship(["backup", "--dir", join(dir, "backups")], { env: { DATABASE_URL: d.url } })).code).toBe(0);
    await d.sql`insert into users (email, password_hash) values ('after@example.com', 'x')`;
    const again = new Terminal([ensureBinary()], { cwd: dir, env: { PATH: process.env.PATH!, HOME: dir, LANG: "C.UTF-8", TERM: "xterm-256color", NO_COLOR: "1" } });
    terminals.push(again);
    await again.waitFor("What would you like to do?");
    await again.waitFor("Restore from a backup");
    again.send("Down", "Down", "Enter");
    await again.waitFor("Where are the backups?");
    again.send("Enter");
    await again.waitFor("Which backup?");
    again.send("Enter");
    // The way back, as the restore decides it, is said before the confirmation.
    await again.waitFor("--undo swaps it back");
    await again.waitFor("Type the database name");
    again.type(d.name);
    again.send("Enter");
    await again.waitFor("Restored", 60_000);
    await again.waitFor("The previous database is kept as");
    await again.waitFor("What would you like to do?");
    again.send("Up", "Enter");
    expect(await again.exitCode()).toBe(0);
    expect(again.strays()).toEqual([]);
    await d.sql.end();
    const fresh = (await import("postgres")).default(d.url, { max: 1 });
    expect((await fresh`select email from users order by id`).map((r) => r.email)).toEqual(["before@example.com"]);
    await fresh.end();
    dbs.splice(dbs.indexOf(d), 1);
  }, 90_000);

  test("narrow terminal, no Unicode locale: ASCII only, nothing wider than the screen", async () => {
    const d = await createDb("wiz");
    dbs.push(d);
    const dir = mkdtempSync(join(tmpdir(), "pgship-wizard-"));
    writeFileSync(join(dir, ".env"), `DATABASE_URL=${d.url}\n`, { mode: 0o600 });
    const term = new Terminal([ensureBinary()], { cwd: dir, width: 50, height: 40, env: { PATH: process.env.PATH!, HOME: dir, LANG: "C", TERM: "xterm" } });
    terminals.push(term);
    await term.waitFor("What would you like to do?");
    term.send("Enter");
    await term.waitFor("Install into the empty database now?");
    term.send("Enter");
    await term.waitFor("Installed: the database is at");
    await term.waitFor("What would you like to do?");
    term.send("Up", "Enter");
    expect(await term.exitCode()).toBe(0);
    const screen = term.screen();
    expect(screen).toMatch(/^[\x00-\x7f]*$/);
    const wide = screen.split("\n").filter((l) => l.length > 50);
    expect(wide).toEqual([]);
    expect(await applied(d)).toBe(8);
  }, 60_000);

  test("Ctrl-C at a prompt: nothing changed, exit 130", async () => {
    const { d, term } = await setup();
    term.send("C-c");
    await term.waitFor("Cancelled: nothing was changed.");
    expect(await term.exitCode()).toBe(130);
    expect(await d.sql`select 1 from pg_namespace where nspname = 'pgship'`).toHaveLength(0);
  }, 60_000);

  test("a migration that fails: the progress line ends with the failure, the menu comes back and nothing keeps drawing under it", async () => {
    const dir = migrationsDir({
      "20250101000000_a.sql": "-- migrate:up\ncreate table a (id int);\n-- migrate:down\ndrop table a;\n",
      "20250102000000_b.sql": "-- migrate:up\ncreate table b (id int);\n-- migrate:down\ndrop table b;\n",
      "20250103000000_broken.sql": "-- migrate:up\nalter table no_such_table add column x int;\n-- migrate:down\nselect 1;\n",
    });
    const { d, term } = await setup({ installTo: "20250101000000", migrations: dir });
    await term.waitFor("Update (2 pending)");
    term.send("Enter");
    await term.waitFor("Take a backup first?");
    term.send("Right", "Enter"); // No
    await term.waitFor("Apply 2 migrations now?");
    term.send("Enter");
    await term.waitFor("no_such_table", 60_000);
    await term.waitFor("What would you like to do?");
    // The screen holds still: no spinner counting on under the menu.
    const settled = term.screen();
    await Bun.sleep(1500);
    expect(term.screen()).toBe(settled);
    term.send("Up", "Enter");
    expect(await term.exitCode()).toBe(0);
    expect(term.strays()).toEqual([]);
    // What ran before the failure stays; the failed migration left nothing.
    expect((await d.sql`select version from pgship.migrations where state = 'applied' order by 1`).map((r) => r.version)).toEqual(["20250101000000", "20250102000000"]);
    expect(await d.sql`select 1 from pg_tables where tablename = 'b'`).toHaveLength(1);
  }, 90_000);

  test("Ctrl-C during a migration after a backup: rolled back, 'nothing changed', no restore advised, lock released, exit 130", async () => {
    const dir = migrationsDir({
      "20250101000000_a.sql": "-- migrate:up\ncreate table a (id int);\n-- migrate:down\ndrop table a;\n",
      "20250102000000_slow.sql": "-- migrate:up\ncreate table slow (id int);\nselect pg_sleep(30);\n-- migrate:down\ndrop table slow;\n",
    });
    const { d, dir: appDir, term } = await setup({ installTo: "20250101000000", migrations: dir });
    await term.waitFor("Update (1 pending)");
    term.send("Enter");
    await term.waitFor("Take a backup first?");
    term.send("Enter"); // Yes
    await term.waitFor("Backup directory");
    term.send("Enter");
    await term.waitFor("Apply 1 migration now?");
    term.send("Enter");
    await term.waitFor("Backup written and verified");
    await term.waitFor("applying 20250102000000_slow", 60_000);
    // Interrupt once the migration's statement is running on the server.
    await until(async () => (await d.sql`select 1 from pg_stat_activity where query like '%pg_sleep(30)%' and state = 'active' and pid <> pg_backend_pid()`).length > 0, 30_000, "the slow migration to run");
    term.send("C-c");
    await term.waitFor("Cancelled");
    expect(await term.exitCode()).toBe(130);
    const screen = term.screen();
    expect(screen).toContain("rolled back");
    expect(screen).toContain("Nothing changed: the database is still at 20250101000000.");
    expect(screen).not.toMatch(/restore \S+\.dump/);
    expect(screen).not.toContain("to go back to it");
    expect(term.strays()).toEqual([]);
    expect(readdirSync(join(appDir, "backups")).filter((f) => f.endsWith(".dump"))).toHaveLength(1);
    expect(await d.sql`select 1 from pg_tables where tablename = 'slow'`).toHaveLength(0);
    expect(await applied(d)).toBe(1);
    expect((await pgship(["up", "--lock-timeout", "0s", "--migrations-dir", dir, "--schema-file", "/nonexistent.sql"], { env: { DATABASE_URL: d.url } })).code).toBe(0);
    expect(existsSync(dir)).toBe(true);
  }, 90_000);

  test("update answered No at 'Apply N migrations now?': no backup is left behind, nothing changed", async () => {
    const { d, dir, term } = await setup({ installTo: "20250305093000" });
    const before = await applied(d);
    await term.waitFor("Update (3 pending)");
    term.send("Enter");
    await term.waitFor("Take a backup first?");
    term.send("Enter"); // Yes
    await term.waitFor("Backup directory");
    term.send("Enter");
    await term.waitFor("Apply 3 migrations now?");
    term.send("Right", "Enter"); // No
    await term.waitFor("Not updated: nothing was changed.");
    await term.waitFor("What would you like to do?");
    term.send("Up", "Enter");
    expect(await term.exitCode()).toBe(0);
    expect(term.screen()).toContain("Nothing was changed. Bye.");
    expect(term.strays()).toEqual([]);
    expect(existsSync(join(dir, "backups")) ? readdirSync(join(dir, "backups")) : []).toEqual([]);
    expect(await applied(d)).toBe(before);
  }, 60_000);

  test("the schedule command shown after an install installs a crontab line that backs up when run by cron", async () => {
    const d = await createDb("wizc");
    dbs.push(d);
    const dir = mkdtempSync(join(tmpdir(), "pgship-wizard-"));
    writeFileSync(join(dir, ".env"), `DATABASE_URL=${d.url}\n`, { mode: 0o600 });
    const term = new Terminal([ensureBinary()], { cwd: dir, width: 250, env: { PATH: process.env.PATH!, HOME: dir, LANG: "C.UTF-8", TERM: "xterm-256color", NO_COLOR: "1" } });
    terminals.push(term);
    await term.waitFor("Install (fresh install");
    term.send("Enter");
    await term.waitFor("Install into the empty database now?");
    term.send("Enter");
    await term.waitFor("Back up every night", 60_000);
    await term.waitFor("What would you like to do?");
    term.send("Up", "Enter");
    expect(await term.exitCode()).toBe(0);
    expect(term.strays()).toEqual([]);
    const command = /(\S+ schedule backup .*?--keep-daily 7)/.exec(term.screen())?.[1];
    expect(command).toBe(`${ensureBinary()} schedule backup --env-file ${join(dir, ".env")} --dir ${join(dir, "backups")} --keep-daily 7`);
    expect(cronBackupWorks(command!, dir, d.url)).toBe(1);
  }, 90_000);

  test("settings only in the environment: the advice says to put DATABASE_URL in a settings file, never in the crontab", async () => {
    const d = await createDb("wizc");
    dbs.push(d);
    expect((await pgship(["install"], { env: { DATABASE_URL: d.url } })).code).toBe(0);
    const dir = mkdtempSync(join(tmpdir(), "pgship-wizard-"));
    const term = new Terminal([ensureBinary()], { cwd: dir, width: 250, env: { PATH: process.env.PATH!, HOME: dir, LANG: "C.UTF-8", TERM: "xterm-256color", NO_COLOR: "1", DATABASE_URL: d.url } });
    terminals.push(term);
    await term.waitFor("Back up now");
    term.send("Down", "Enter"); // Health check is first when up to date
    await term.waitFor("Backup directory");
    term.send("Enter");
    await term.waitFor("Back up every night", 60_000);
    await term.waitFor("What would you like to do?");
    term.send("Up", "Enter");
    expect(await term.exitCode()).toBe(0);
    expect(term.strays()).toEqual([]);
    const screen = term.screen().replace(/\s*\n\s*│?\s*/g, " ");
    expect(screen).toContain("never from the crontab");
    expect(screen).not.toContain(d.url);
    const command = /(\S+ schedule backup .*?--keep-daily 7)/.exec(term.screen())?.[1];
    expect(command).toBe(`${ensureBinary()} schedule backup --dir ${join(dir, "backups")} --keep-daily 7`);
    // As the advice says: the settings go in ./.env, then the command.
    writeFileSync(join(dir, ".env"), `DATABASE_URL=${d.url}\n`, { mode: 0o600 });
    // The wizard's backup of a moment ago plus the scheduled one (--keep-daily 7 may prune the first).
    expect(cronBackupWorks(command!, dir, d.url)).toBeGreaterThanOrEqual(1);
  }, 90_000);
});
