// The --json documents of verify, check, dump and doctor match their published
// schemas (docs/json/<command>.schema.json), successes and errors alike.

import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import Ajv2020 from "ajv/dist/2020.js";
import { createDb, migrationsDir, pgship, FIXTURE, ROOT, tempDir, type TestDb, testWithPgDump } from "../harness/env.ts";

const ajv = new Ajv2020({ allErrors: true, strict: true });
const compiled = new Map<string, ReturnType<typeof ajv.compile>>();
const validator = (command: string) => {
  if (!compiled.has(command)) compiled.set(command, ajv.compile(JSON.parse(readFileSync(join(ROOT, "docs", "json", `${command}.schema.json`), "utf8"))));
  return compiled.get(command)!;
};

const dbs: TestDb[] = [];
afterAll(async () => {
  for (const d of dbs) await d.sql.end();
});
const db = async () => {
  const d = await createDb("js");
  dbs.push(d);
  return d;
};

function expectValid(command: string, stdout: string): Record<string, unknown> {
  const doc = JSON.parse(stdout);
  const validate = validator(command);
  const ok = validate(doc);
  expect({ command, errors: ok ? null : validate.errors }).toEqual({ command, errors: null });
  return doc;
}

describe("--json documents match docs/json", () => {
  test("verify: clean, drift, dry run, repaired, nothing repairable and errors", async () => {
    const d = await db();
    const env = { DATABASE_URL: d.url };
    expect(expectValid("verify", (await pgship(["verify", "--json"], { env })).stdout)).toMatchObject({ ok: false, error: { code: "not_installed" } });
    await pgship(["up", "--to", "20250318160000"], { env });
    expect(expectValid("verify", (await pgship(["verify", "--json"], { env })).stdout)).toMatchObject({ ok: true });
    await d.sql`alter table users drop column csrf_token`;
    await d.sql`create table extra_notes (id int)`;
    expect(expectValid("verify", (await pgship(["verify", "--json"], { env })).stdout)).toMatchObject({ ok: false });
    expect(expectValid("verify", (await pgship(["verify", "--json", "--fix", "--dry-run"], { env })).stdout)).toMatchObject({ fix: "dry-run" });
    expect(expectValid("verify", (await pgship(["verify", "--json", "--fix", "--yes"], { env })).stdout)).toMatchObject({ fix: "applied" });
    expect(expectValid("verify", (await pgship(["verify", "--json", "--fix", "--yes"], { env })).stdout)).toMatchObject({ fix: "nothing repairable" });
    expect(expectValid("verify", (await pgship(["verify", "--json", "--dry-run"], { env })).stdout)).toMatchObject({ error: { code: "usage", exitCode: 2 } });
  });

  testWithPgDump("doctor: healthy, pending, unreachable", async () => {
    const d = await db();
    await pgship(["up", "--to", "20250318160000"], { env: { DATABASE_URL: d.url } });
    expect(expectValid("doctor", (await pgship(["doctor", "--json"], { env: { DATABASE_URL: d.url } })).stdout)).toMatchObject({ pending: 2, exitCode: 3 });
    await pgship(["up"], { env: { DATABASE_URL: d.url } });
    expect(expectValid("doctor", (await pgship(["doctor", "--json"], { env: { DATABASE_URL: d.url } })).stdout)).toMatchObject({ ok: true, pending: 0 });
    expectValid("doctor", (await pgship(["doctor", "--json"], { env: { DATABASE_URL: "postgres://x:pw@127.0.0.1:1/x" } })).stdout);
  });

  testWithPgDump("dump and check", async () => {
    const d = await db();
    const env = { DATABASE_URL: d.url };
    const dir = migrationsDir({
      "20250101000000_a.sql": "-- migrate:up\ncreate table a (id int);\n-- migrate:down\ndrop table a;\n",
      "20250102000000_b.sql": "-- migrate:up\nalter table a add column b int;\n-- migrate:down\nalter table a drop column b;\n",
    });
    expect(expectValid("dump", (await pgship(["dump", "--json", "--check", "--migrations-dir", dir], { env })).stdout)).toMatchObject({ ok: false, check: true });
    expect(expectValid("dump", (await pgship(["dump", "--json", "--migrations-dir", dir], { env })).stdout)).toMatchObject({ ok: true, changed: true, versions: 2 });
    expect(expectValid("check", (await pgship(["check", "--json", "--migrations-dir", dir], { env })).stdout)).toMatchObject({ ok: true });
    const empty = join(tempDir(), "migrations");
    expectValid("check", (await pgship(["check", "--json", "--migrations-dir", empty], { env })).stdout);
    expect(expectValid("check", (await pgship(["check", "--json", "--skip-stairway"], { env, cwd: FIXTURE })).stdout)).toMatchObject({ ok: true, migrations: 8 });
  });
});
