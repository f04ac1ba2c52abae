// check, the CI gate: what it must catch, and that it cleans up after itself.

import { afterAll, describe, expect, test } from "bun:test";
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { cluster, createDb, dumpOrRefusal, migrationsDir, pgDumpUsable, pgship, FIXTURE, spawnPgship, tempDir, until, type TestDb } from "../harness/env.ts";

let admin: TestDb;
afterAll(async () => admin?.sql.end());
async function url(): Promise<string> {
  admin ??= await createDb("chk");
  return admin.url;
}

const REPO = readdirSync(join(FIXTURE, "migrations")).sort();
type Problem = { check: string; severity: string; message: string; migration?: string; findings?: { kind: string; type: string; name: string }[] };

/** A copy of the example app (migrations, schema.sql, schema.model.json) to break on purpose. */
function appCopy(upTo = REPO.length): string {
  const dir = migrationsDir({});
  for (const f of REPO.slice(0, upTo)) copyFileSync(join(FIXTURE, "migrations", f), join(dir, f));
  if (upTo === REPO.length) for (const f of ["schema.sql", "schema.model.json"]) copyFileSync(join(FIXTURE, f), join(dirname(dir), f));
  return dir;
}

async function check(dir: string): Promise<{ code: number; problems: Problem[]; stderr: string }> {
  const r = await pgship(["check", "--json", "--migrations-dir", dir], { env: { DATABASE_URL: await url() }, timeoutMs: 120_000 });
  return { code: r.code, problems: JSON.parse(r.stdout).problems ?? [], stderr: r.stderr };
}
const errors = (ps: Problem[]) => ps.filter((p) => p.severity === "error");

describe("check", () => {
  test("the example app passes", async () => {
    const r = await pgship(["check"], { env: { DATABASE_URL: await url() }, timeoutMs: 120_000 });
    expect(r.stdout).toContain("check passed: 8 migrations");
    expect(r.code).toBe(0);
    // The same files are current for dump --check on this server too (the model's major is not compared).
    await dumpOrRefusal(["--check"], { DATABASE_URL: await url() });
  });

  test("with only a pg_dump older than the server: a note naming it and why; --strict fails", async () => {
    const bin = tempDir();
    writeFileSync(join(bin, "pg_dump"), "#!/bin/sh\necho 'pg_dump (PostgreSQL) 12.3'\n", { mode: 0o755 });
    const env = { DATABASE_URL: await url() };
    const major = (await cluster()).major;
    const note = `note [snapshot current] schema.sql was compared by its catalog only, not byte for byte with what 'pgship dump' writes: pg_dump ${major} or newer is needed for this PostgreSQL ${major} server: found ${bin}/pg_dump (12.3), all older than the server`;
    const r = await pgship(["check", "--skip-stairway", "--pg-bin", bin], { env, timeoutMs: 120_000 });
    expect(r.stdout).toContain(note);
    expect(r.stdout).toContain("(--strict makes this a failure)");
    expect(r.stdout).toContain("check passed");
    expect(r.code).toBe(0);
    const strict = await pgship(["check", "--strict", "--skip-stairway", "--pg-bin", bin], { env, timeoutMs: 120_000 });
    expect(strict.stdout).toContain(note.replace("note [", "FAIL ["));
    expect(strict.stdout).toContain("check failed: 1 problem(s).");
    expect(strict.code).toBe(4);
  });

  test("catches a stale snapshot", async () => {
    const dir = appCopy(4);
    if (!(await dumpOrRefusal(["--migrations-dir", dir], { DATABASE_URL: await url() }))) return;
    for (const f of REPO.slice(4)) copyFileSync(join(FIXTURE, "migrations", f), join(dir, f));
    const r = await check(dir);
    expect(r.code).toBe(4);
    const msgs = errors(r.problems).map((p) => p.message).join("\n");
    expect(msgs).toContain(`is at ${REPO[3]!.slice(0, 14)} but the newest migration is ${REPO.at(-1)!.slice(0, 14)}: run 'pgship dump'`);
    expect(msgs).toContain("schema.model.json does not match the migrations");
  });

  test("catches a snapshot edited by hand", async () => {
    const dir = appCopy();
    const schema = join(dirname(dir), "schema.sql");
    writeFileSync(schema, readFileSync(schema, "utf8").replace("    csrf_token text,\n", ""));
    const r = await check(dir);
    expect(r.code).toBe(4);
    const replay = r.problems.find((p) => p.check === "snapshot equals replay")!;
    expect(replay.findings!.map((f) => `${f.kind} ${f.type} ${f.name}`)).toContain("missing column public.users.csrf_token");
    // The byte comparison needs a pg_dump as new as the server; without one, check says so.
    const bytes = (await pgDumpUsable()) ? "is not what 'pgship dump' writes" : "was compared by its catalog only";
    expect(r.problems.some((p) => p.message.includes(bytes))).toBe(true);
  });

  test("catches a migration whose replay differs from the snapshot", async () => {
    const dir = appCopy();
    const file = join(dir, REPO[3]!);
    writeFileSync(file, readFileSync(file, "utf8").replace("alter table users add column csrf_token text;", "alter table users add column csrf_token text;\nalter table users add column locale text;"));
    const r = await check(dir);
    expect(r.code).toBe(4);
    const replay = r.problems.find((p) => p.check === "snapshot equals replay")!;
    expect(replay.findings!.map((f) => `${f.kind} ${f.type} ${f.name}`)).toEqual(["missing column public.users.locale"]);
    // ... and its down no longer undoes its up.
    expect(r.problems.some((p) => p.check === "down undoes up" && p.migration === REPO[3]!.replace(".sql", ""))).toBe(true);
  });

  test("catches a down that does not undo its up, names the file and what is left", async () => {
    const dir = migrationsDir({
      "20250101000000_a.sql": "-- migrate:up\ncreate table a (id int);\n-- migrate:down\ndrop table a;\n",
      "20250102000000_b.sql": "-- migrate:up\nalter table a add column b int;\ncreate index a_b_idx on a (b);\n-- migrate:down\ndrop index a_b_idx;\n",
      "20250103000000_c.sql": "-- migrate:up\ncreate table c (id int);\n",
    });
    if (!(await dumpOrRefusal(["--migrations-dir", dir], { DATABASE_URL: await url() }))) return;
    const r = await check(dir);
    expect(r.code).toBe(4);
    const bad = errors(r.problems);
    expect(bad.map((p) => p.message)).toEqual([
      "20250102000000_b.sql: down does not undo up",
      '20250102000000_b.sql: up fails after down: column "b" of relation "a" already exists',
    ]);
    expect(bad[0]!.findings!.map((f) => `${f.kind} ${f.type} ${f.name}`)).toEqual(["extra column public.a.b"]);
    // A migration without down is reported, not crashed on.
    const note = r.problems.find((p) => p.severity === "note")!;
    expect(note.message).toContain("20250103000000_c.sql has no down section");
  });

  test("scratch databases are dropped, also when interrupted", async () => {
    const dir = migrationsDir({ "20250101000000_slow.sql": "-- migrate:up\ncreate table s (id int);\nselect pg_sleep(20);\n-- migrate:down\ndrop table s;\n" });
    const child = spawnPgship(["check", "--migrations-dir", dir], { env: { DATABASE_URL: await url() } });
    const closed = new Promise<number | null>((r) => child.on("close", (c) => r(c)));
    await until(async () => (await admin.sql`select 1 from pg_stat_activity where query like '%pg_sleep(20)%' and pid <> pg_backend_pid()`).length > 0, 20_000, "the replay");
    child.kill("SIGINT");
    expect(await closed).toBe(130);
    expect(await admin.sql`select datname from pg_database where datname like 'pgship_scratch_%'`).toHaveLength(0);
  }, 60_000);
});
