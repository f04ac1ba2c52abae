// --env-file (for cron, whose working directory has no ./.env) and
// --json-events (the event stream as JSON lines on stderr).

import { describe, expect, test } from "bun:test";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pgship, tempDir, useDatabases } from "../harness/env.ts";

const db = useDatabases("envf");

describe("--env-file", () => {
  test("reads DATABASE_URL from the named file, from any working directory, over the environment", async () => {
    const d = await db();
    const dir = tempDir();
    const file = join(dir, "app.env");
    writeFileSync(file, `# app settings\nOTHER=1\nDATABASE_URL=${d.url}\n`);
    chmodSync(file, 0o600);
    const elsewhere = tempDir();
    const r = await pgship(["up", "--env-file", file, "--json"], { cwd: elsewhere, env: { DATABASE_URL: "postgres://wrong@127.0.0.1:1/nothing" } });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).action).toBe("install");
    const [row] = await d.sql`select count(*)::int as n from pgship.migrations`;
    expect(row!.n).toBeGreaterThan(0);
  });

  test("a missing file or one without DATABASE_URL is a usage error naming the file", async () => {
    const dir = tempDir();
    const missing = await pgship(["status", "--env-file", join(dir, "nope.env")]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("nope.env: no such file");
    const empty = join(dir, "empty.env");
    writeFileSync(empty, "OTHER=1\n");
    const r = await pgship(["status", "--env-file", empty]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${empty}: no DATABASE_URL`);
    const r2 = await pgship(["status", "--env-file", dir]);
    expect(r2.code).not.toBe(0);
    expect(r2.stderr).toContain("not a regular file");
    expect(r2.stderr).not.toContain("unexpected");
  });
});

describe("--json-events", () => {
  test("every event is one JSON line on stderr; stdout holds only the result", async () => {
    const d = await db();
    const r = await pgship(["up", "--database-url", d.url, "--json", "--json-events", "--to", "20250305093000"]);
    expect(r.code).toBe(0);
    const events = r.stderr.trim().split("\n").map((l) => JSON.parse(l) as { type: string; step?: { version: string } });
    expect(events.some((e) => e.type === "step-start")).toBe(true);
    expect(events.filter((e) => e.type === "step-done").map((e) => e.step!.version)).toContain("20250305093000");
    expect(JSON.parse(r.stdout).to).toBe("20250305093000");
    const more = await pgship(["up", "--database-url", d.url, "--json-events"]);
    expect(more.code).toBe(0);
    const done = more.stderr.trim().split("\n").map((l) => JSON.parse(l) as { type: string });
    expect(done.filter((e) => e.type === "step-done").length).toBe(3);
  });

  test("--json alone keeps stderr free of progress lines", async () => {
    const d = await db();
    const r = await pgship(["up", "--database-url", d.url, "--json", "--to", "20250305093000"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
  });
});
