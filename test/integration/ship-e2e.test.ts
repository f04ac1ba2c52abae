// "Ship it with your app", end to end, as the README tells it: in a Python app's
// repository (no Node anywhere), the compiled binary runs exactly init, new, dump
// and pack; then the packed binary's wizard installs into an empty database in a
// real terminal. The checks are on the database and the screen: the notes table
// exists, the project's tracking schema records the migrations, and nothing the
// user sees says pgship (the brand is Notes / notes-db).

import { afterAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDb, ensureBinary, noStackTrace, pgship } from "../harness/env.ts";
import { Terminal, useTerminals } from "../harness/tmux.ts";
import { missing } from "../harness/tools.ts";

const { terminals, dbs } = useTerminals();
// Not tempDir(): its names hold "pgship", and the screen must not. The packed binary
// is as big as the released one, so the directory goes when the file is done.
const work = mkdtempSync(join(tmpdir(), "notes-e2e-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The up and down sections of a migration `new` wrote, the template's comments replaced by SQL. */
function writeSql(file: string, up: string, down: string): void {
  const text = readFileSync(file, "utf8");
  const m = /^(-- migrate:up\n)[\s\S]*?\n(-- migrate:down\n)[\s\S]*$/.exec(text);
  expect(m).not.toBeNull();
  writeFileSync(file, `${m![1]}${up}\n\n${m![2]}${down}\n`);
}

test.skipIf(missing("tmux"))("a Python app: init, new, dump, pack; the packed binary's wizard installs it; no pgship on screen", async () => {
  // The app: a tiny Flask service in a git repository whose origin is on GitHub.
  const app = join(work, "notes");
  mkdirSync(app);
  writeFileSync(join(app, "app.py"), 'from flask import Flask\n\napp = Flask(__name__)\n\n\n@app.get("/")\ndef index():\n    return "notes"\n');
  writeFileSync(join(app, "requirements.txt"), "flask==3.0.3\npsycopg[binary]==3.2.1\n");
  for (const args of [["init", "-q"], ["remote", "add", "origin", "git@github.com:acme/notes.git"]]) expect(spawnSync("git", args, { cwd: app }).status).toBe(0);
  const dev = await createDb("notes_dev");
  const target = await createDb("notes_prod");
  dbs.push(dev, target);
  const ok = (what: string, r: { code: number; stderr: string }) => {
    expect({ what, code: r.code, stackTrace: !noStackTrace(r.stderr) }).toEqual({ what, code: 0, stackTrace: false });
  };

  // 1. init: pgship.json, db/migrations/ with a first migration, the workflow, install.sh.
  const init = await pgship(["init", "--name", "notes-db", "--display-name", "Notes"], { cwd: app });
  ok("init", init);
  expect(JSON.parse(readFileSync(join(app, "pgship.json"), "utf8"))).toMatchObject({ name: "notes-db", displayName: "Notes", trackingSchema: "notes_db", releaseRepository: "acme/notes" });
  const [first] = readdirSync(join(app, "db/migrations"));
  expect(first).toMatch(/^\d{14}_initial_schema\.sql$/);
  // The developer writes the first migration, as init says.
  writeSql(join(app, "db/migrations", first!), "create table authors (\n  id bigint generated always as identity primary key,\n  name text not null\n);", "drop table authors;");

  // 2. new: the next migration, written like a developer would.
  const made = await pgship(["new", "create_notes"], { cwd: app });
  ok("new", made);
  const created = readdirSync(join(app, "db/migrations")).find((f) => f.endsWith("_create_notes.sql"));
  expect(made.stdout).toContain(`Created db/migrations/${created}`);
  writeSql(
    join(app, "db/migrations", created!),
    "create table notes (\n  id bigint generated always as identity primary key,\n  author_id bigint not null references authors (id),\n  body text not null,\n  created_at timestamptz not null default now()\n);\ncreate index notes_author_id_idx on notes (author_id);",
    "drop table notes;",
  );
  const head = created!.slice(0, 14);

  // 3. dump, against a throwaway server: the snapshot and model beside the migrations.
  const dump = await pgship(["dump"], { cwd: app, env: { DATABASE_URL: dev.url }, timeoutMs: 120_000 });
  ok("dump", dump);
  expect(readFileSync(join(app, "db/schema.sql"), "utf8")).toStartWith(`-- pgship snapshot: ${head}\n`);
  expect(readFileSync(join(app, "db/schema.sql"), "utf8")).toContain("CREATE TABLE public.notes");

  // 4. pack: every default from pgship.json, the released binary as --from, dist/notes-db out.
  const pack = await pgship(["pack", "--from", ensureBinary()], { cwd: app, timeoutMs: 120_000 });
  ok("pack", pack);
  expect(pack.stderr).toBe("");
  expect(pack.stdout).toContain(`Packed dist/notes-db (linux-x64-glibc): notes-db ${head}, 2 migrations (head ${head}, snapshot ${head})`);
  const packed = join(app, "dist", "notes-db");
  expect(spawnSync(packed, ["--version"], { encoding: "utf8" }).stdout).toBe(`notes-db ${head}\n`);

  // The packed binary's wizard, in a fresh directory whose .env names an empty database.
  const site = join(work, "site");
  mkdirSync(site);
  writeFileSync(join(site, ".env"), `DATABASE_URL=${target.url}\n`, { mode: 0o600 });
  const term = new Terminal([packed], { cwd: site, env: { PATH: process.env.PATH!, HOME: site, LANG: "C.UTF-8", TERM: "xterm-256color", NO_COLOR: "1" } });
  terminals.push(term);
  await term.waitFor(`Notes ${head}`);
  await term.waitFor("Install (fresh install");
  term.send("Enter");
  await term.waitFor("Install into the empty database now?");
  term.send("Enter");
  await term.waitFor(`Installed: the database is at ${head}`, 60_000);
  await term.waitFor("What would you like to do?");
  term.send("Up", "Enter"); // the list wraps: Up from the first option is Quit
  expect(await term.exitCode()).toBe(0);

  // In the database: the app's tables, and the project's tracking schema recording both migrations.
  const tables = await target.sql`select table_name from information_schema.tables where table_schema = 'public' order by table_name`;
  expect(tables.map((t) => t.table_name)).toEqual(["authors", "notes"]);
  await target.sql`insert into authors (name) values ('Ada')`;
  await target.sql`insert into notes (author_id, body) select id, 'first note' from authors`;
  const rows = await target.sql`select version, name, state from notes_db.migrations order by version`;
  expect(rows.map((r) => [r.version, r.name, r.state])).toEqual([
    [first!.slice(0, 14), "initial_schema", "applied"],
    [head, "create_notes", "applied"],
  ]);
  const [{ n }] = (await target.sql`select count(*)::int as n from pg_namespace where nspname = 'pgship'`) as unknown as [{ n: number }];
  expect(n).toBe(0);

  // On screen: nothing outside the wizard's frame, and no line that says pgship.
  expect(term.strays()).toEqual([]);
  const screen = term.screen();
  expect(screen).toContain(`┌  Notes ${head}`);
  expect(screen.split("\n").filter((l) => /pgship/i.test(l))).toEqual([]);
}, 240_000);
