// doctor: each finding with its fix; the exit code is the worst finding.

import { afterAll, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDb, pgship, type TestDb } from "../harness/env.ts";

const dbs: TestDb[] = [];
afterAll(async () => {
  for (const d of dbs) await d.sql.end();
});
type Check = { name: string; status: string; detail: string; fix?: string };
const doctor = async (env: Record<string, string>) => {
  const r = await pgship(["doctor", "--json"], { env });
  return { code: r.code, checks: JSON.parse(r.stdout).checks as Check[] };
};
const byName = (cs: Check[], name: string) => cs.find((c) => c.name === name)!;

test("a healthy database: everything ok, exit 0", async () => {
  const d = await createDb("doc");
  dbs.push(d);
  await pgship(["up"], { env: { DATABASE_URL: d.url } });
  const { code, checks } = await doctor({ DATABASE_URL: d.url });
  expect(checks.filter((c) => c.status !== "ok")).toEqual([]);
  expect(code).toBe(0);
  expect(byName(checks, "pg_dump").detail).toMatch(/pg_dump \(\d+\.\d+\)/);
});

test("pending migrations, a failed last run, missing tools and drift, each with a fix", async () => {
  const d = await createDb("doc");
  dbs.push(d);
  await pgship(["up", "--to", "20250305093000"], { env: { DATABASE_URL: d.url } });
  let r = await doctor({ DATABASE_URL: d.url, PATH: mkdtempSync(join(tmpdir(), "nopath-")) });
  expect(r.code).toBe(3);
  expect(byName(r.checks, "migrations")).toMatchObject({ status: "warn", detail: "3 pending", fix: "pgship up" });

  await pgship(["up"], { env: { DATABASE_URL: d.url } });
  await d.sql`alter table users drop column csrf_token`;
  r = await doctor({ DATABASE_URL: d.url });
  expect(r.code).toBe(4);
  expect(byName(r.checks, "drift")).toMatchObject({ status: "fail", fix: "pgship verify (then pgship verify --fix)" });
});

test("an empty database and an unreachable one", async () => {
  const d = await createDb("doc");
  dbs.push(d);
  const empty = await doctor({ DATABASE_URL: d.url });
  expect(empty.code).toBe(3);
  expect(byName(empty.checks, "install")).toMatchObject({ detail: "the database is empty", fix: "pgship up" });
  const down = await doctor({ DATABASE_URL: "postgres://x:secret-pw@127.0.0.1:1/x" });
  expect(down.code).toBe(1);
  expect(byName(down.checks, "connection")).toMatchObject({ status: "fail" });
  expect(JSON.stringify(down.checks)).not.toContain("secret-pw");
});
