// doctor: each finding with its fix; the exit code is the worst finding.

import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cluster, createDb, pgDumpUsable, pgship, type TestDb } from "../harness/env.ts";

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
/** Exit 3 (pending work), unless only client tools older than the server are here: then exit 1 ranks first. */
const pendingExit = async () => ((await pgDumpUsable()) ? 3 : 1);

test("a healthy database: everything ok, exit 0", async () => {
  const d = await createDb("doc");
  dbs.push(d);
  await pgship(["up"], { env: { DATABASE_URL: d.url } });
  const { code, checks } = await doctor({ DATABASE_URL: d.url });
  if (!(await pgDumpUsable())) {
    // Only client tools older than the server here (pg_dump 15 against 16+): backups cannot run, and doctor says so.
    const major = (await cluster()).major;
    expect(checks.filter((c) => c.status === "fail").map((c) => c.name)).toEqual(["pg_dump", "pg_restore"]);
    expect(byName(checks, "pg_dump").fix).toContain(`apt install postgresql-client-${major}`);
    expect(code).toBe(1);
    return;
  }
  expect(checks.filter((c) => c.status !== "ok")).toEqual([]);
  expect(code).toBe(0);
  expect(byName(checks, "pg_dump").detail).toMatch(/pg_dump \(\d+\.\d+\)/);
});

test("pg_dump older than the server is a problem with its fix, not 'All good.'", async () => {
  const d = await createDb("doc");
  dbs.push(d);
  await pgship(["up"], { env: { DATABASE_URL: d.url } });
  const bin = mkdtempSync(join(tmpdir(), "oldbin-"));
  for (const tool of ["pg_dump", "pg_restore", "psql"]) writeFileSync(join(bin, tool), `#!/bin/sh\necho '${tool} (PostgreSQL) 12.3'\n`, { mode: 0o755 });
  const r = await pgship(["doctor", "--pg-bin", bin], { env: { DATABASE_URL: d.url } });
  const major = (await cluster()).major;
  expect(r.stdout).toContain(`pg_dump ${major} or newer is needed for this PostgreSQL ${major} server: found ${bin}/pg_dump (12.3), all older than the server`);
  expect(r.stdout).toMatch(/^FAIL {2}pg_dump {5}pg_dump /m);
  expect(r.stdout).toContain(`fix: install the PostgreSQL ${major} client tools`);
  expect(r.stdout).toMatch(/WARN {2}psql /);
  expect(r.stdout).not.toContain("All good.");
  expect(r.stdout).toContain("Worst finding: exit 1.");
  expect(r.code).toBe(1);
});

test("pending migrations, a failed last run, missing tools and drift, each with a fix", async () => {
  const d = await createDb("doc");
  dbs.push(d);
  await pgship(["up", "--to", "20250305093000"], { env: { DATABASE_URL: d.url } });
  let r = await doctor({ DATABASE_URL: d.url, PATH: mkdtempSync(join(tmpdir(), "nopath-")) });
  expect(r.code).toBe(await pendingExit());
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
  expect(empty.code).toBe(await pendingExit());
  expect(byName(empty.checks, "install")).toMatchObject({ detail: "the database is empty", fix: "pgship up" });
  const down = await doctor({ DATABASE_URL: "postgres://x:secret-pw@127.0.0.1:1/x" });
  expect(down.code).toBe(1);
  expect(byName(down.checks, "connection")).toMatchObject({ status: "fail" });
  expect(JSON.stringify(down.checks)).not.toContain("secret-pw");
});
