// A branded build (another binaryName and displayName in package.json) never
// says "pgship" to its users: help, status, doctor, new, and its errors.

import { beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUN, cleanEnv, noStackTrace, FIXTURE, ROOT, useDatabases } from "../harness/env.ts";
import { commands } from "../../src/cli/commands.ts";

const db = useDatabases("brand");
const work = mkdtempSync(join(tmpdir(), "myapp-"));
const bin = join(work, "myapp-db");

beforeAll(() => {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
  pkg.pgship.binaryName = "myapp-db";
  pkg.pgship.displayName = "MyApp";
  writeFileSync(join(work, "package.json"), JSON.stringify(pkg));
  const built = spawnSync(BUN, ["scripts/build.ts", "--package-json", join(work, "package.json"), "--migrations-dir", join(FIXTURE, "migrations"), "--schema-file", join(FIXTURE, "schema.sql"), "--outfile", bin], { cwd: ROOT, encoding: "utf8" });
  expect({ status: built.status, stderr: built.stderr }).toMatchObject({ status: 0 });
}, 120_000);

const run = (args: string[]) => {
  const r = spawnSync(bin, args, { cwd: work, env: cleanEnv(), encoding: "utf8", timeout: 60_000 });
  return { code: r.status, out: `${r.stdout}\n${r.stderr}` };
};

/** The text without the tracking schema's name where it is data (a schema or table name). */
const withoutSchemaData = (t: string) => t.replace(/pgship\.json/g, "X.json").replace(/"?pgship"?\.(\w+)/g, "$1").replace(/(schema|schemas) "?pgship"?/g, "$1 X");

function expectUnbranded(what: string, text: string) {
  const hit = withoutSchemaData(text).split("\n").filter((l) => /pgship/i.test(l));
  expect({ what, hit }).toEqual({ what, hit: [] });
  expect(noStackTrace(text)).toBe(true);
}

describe("a branded binary", () => {
  test("--help and every command's --help name the brand, never pgship", () => {
    const top = run(["--help"]);
    expect(top.code).toBe(0);
    expect(top.out).toContain("MyApp");
    expect(top.out).toContain("myapp-db <command>");
    expectUnbranded("--help", top.out);
    for (const name of Object.keys(commands)) {
      const r = run([name, "--help"]);
      expect({ name, code: r.code }).toEqual({ name, code: 0 });
      expectUnbranded(`${name} --help`, r.out);
    }
  }, 120_000);

  test("status, doctor and up on empty, unmanaged and installed databases", async () => {
    const d = await db();
    const url = ["--database-url", d.url];
    const empty = run(["status", ...url]);
    expect(empty.out).toContain("Run 'myapp-db up' to install.");
    expectUnbranded("status (empty)", empty.out);
    expectUnbranded("status --json (empty)", run(["status", "--json", ...url]).out);
    const doc = run(["doctor", ...url]);
    expect(doc.out).toContain("myapp-db up");
    expectUnbranded("doctor (empty)", doc.out);

    const other = await db();
    await other.sql`create table things (id int)`;
    const unmanaged = run(["up", "--database-url", other.url]);
    expect(unmanaged.code).toBe(1);
    expect(unmanaged.out).toContain("MyApp does not manage it");
    expect(unmanaged.out).toContain("'myapp-db baseline V'");
    expectUnbranded("up (unmanaged)", unmanaged.out);
    expectUnbranded("status (unmanaged)", run(["status", "--database-url", other.url]).out);
    expectUnbranded("doctor (unmanaged)", run(["doctor", "--database-url", other.url]).out);

    const up = run(["up", ...url]);
    expect(up.code).toBe(0);
    expectUnbranded("up", up.out);
    const [c] = await d.sql`select obj_description('pgship'::regnamespace, 'pg_namespace') as c`;
    expect(c!.c).toStartWith("MyApp: applied migrations");
    expectUnbranded("status (installed)", run(["status", ...url]).out);
    expectUnbranded("status --json (installed)", run(["status", "--json", ...url]).out);
    expectUnbranded("doctor (installed)", run(["doctor", ...url]).out);
  }, 120_000);

  test("databases kept by restores are found by their comment, old (pgship: ...) and branded", async () => {
    const live = await db();
    const admin = (await db()).sql;
    const comment = (mark: string, day: string) => `${mark}: kept by restore of ${live.name} on 2026-01-${day}T00:00:00.000Z (replaced by x.dump); drop it`;
    for (const [name, mark, day] of [[`${live.name}_old`, "pgship", "01"], [`${live.name}_new`, "MyApp", "02"]]) {
      await admin.unsafe(`create database "${name}"`);
      await admin.unsafe(`comment on database "${name}" is '${comment(mark!, day!)}'`);
    }
    const doc = run(["doctor", "--database-url", live.url]);
    expect(doc.out).not.toContain("could not look");
    const r = run(["restore", "--drop-old", "--yes", "--database-url", live.url]);
    expect({ code: r.code, out: r.out }).toMatchObject({ code: 0 });
    const left = await admin`select datname from pg_database where datname like ${`${live.name}\\_%`}`;
    expect(left.map((x) => x.datname)).toEqual([]);
  }, 60_000);

  test("new, a usage error and a connection error", () => {
    const dir = join(mkdtempSync(join(tmpdir(), "myapp-")), "migrations");
    const made = run(["new", "add_things", "--migrations-dir", dir]);
    expect(made.code).toBe(0);
    expectUnbranded("new", made.out);
    const usage = run(["restore"]);
    expect(usage.code).toBe(2);
    expect(usage.out).toContain("myapp-db backups --dir DIR");
    expectUnbranded("usage error", usage.out);
    const unknown = run(["nope"]);
    expect(unknown.code).toBe(2);
    expectUnbranded("unknown command", unknown.out);
    const conn = run(["status", "--database-url", "postgres://app:secret@127.0.0.1:1/app"]);
    expect(conn.code).toBe(1);
    expectUnbranded("connection error", conn.out);
    expect(conn.out).not.toContain("secret");
  }, 60_000);
});
