// The same source runs under Deno: runtime-specific calls live in src/runtime.ts.

import { afterAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { cleanEnv, createDb, FIXTURE, ROOT, type TestDb } from "../harness/env.ts";

const DENO = join(ROOT, "node_modules", ".bin", "deno");
let d: TestDb | undefined;
afterAll(async () => d?.sql.end());

const deno = (args: string[], env: Record<string, string>) =>
  spawnSync(DENO, ["run", "-A", join(ROOT, "src", "main.ts"), ...args], { cwd: FIXTURE, encoding: "utf8", env: cleanEnv({ ...env, DENO_NO_UPDATE_CHECK: "1" }), timeout: 120_000 });

test("deno run -A src/main.ts up and status against a test database", async () => {
  d = await createDb("deno");
  const up = deno(["up", "--json"], { DATABASE_URL: d.url });
  expect(up.stderr).not.toContain("error:");
  expect(up.status).toBe(0);
  expect(JSON.parse(up.stdout)).toMatchObject({ ok: true, action: "install" });
  const status = deno(["status", "--json", "--exit-code"], { DATABASE_URL: d.url });
  expect(status.status).toBe(0);
  const s = JSON.parse(status.stdout);
  expect(s.counts.pending).toBe(0);
  expect(s.counts.applied).toBeGreaterThanOrEqual(6);
  expect(s.source).toBe(join(FIXTURE, "migrations"));
}, 150_000);
