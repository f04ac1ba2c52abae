// The same backup and restore code runs under Deno (`deno run -A src/main.ts`):
// streaming, age encryption and the child processes use only node: APIs.

import { afterAll, expect } from "bun:test";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { cleanEnv, cluster, createDb, FIXTURE, ROOT, tempDir, type TestDb, testWithPgDump } from "../harness/env.ts";
import { ageKeyPair, APP_DATA, fingerprint, seed } from "../harness/backup.ts";

const DENO = join(ROOT, "node_modules", ".bin", "deno");
let d: TestDb | undefined;
afterAll(async () => d?.sql.end());

const deno = (args: string[], env: Record<string, string>) =>
  spawnSync(DENO, ["run", "-A", join(ROOT, "src", "main.ts"), ...args], { cwd: FIXTURE, encoding: "utf8", env: cleanEnv({ ...env, DENO_NO_UPDATE_CHECK: "1" }), timeout: 120_000 });

testWithPgDump("deno: encrypted backup, then restore --into", async () => {
  d = await createDb("denobk");
  await seed(d, 20);
  const { identityFile, recipient } = await ageKeyPair();
  const env = { DATABASE_URL: d.url };
  const b = deno(["backup", "--dir", tempDir(), "--encrypt-to", recipient, "--json"], env);
  expect(b.stderr).not.toContain("error");
  expect(b.status).toBe(0);
  const file = JSON.parse(b.stdout).file as string;
  const into = `${d.name}_deno`;
  const r = deno(["restore", file, "--identity", identityFile, "--into", into, "--json"], env);
  expect(r.stderr).not.toContain("error");
  expect(r.status).toBe(0);
  const c = await cluster();
  expect(await fingerprint(c.url(into), APP_DATA)).toEqual(await fingerprint(d.url, APP_DATA));
}, 150_000);
