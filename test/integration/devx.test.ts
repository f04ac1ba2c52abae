// The developer's loop: new, dump, check, and status without a database.

import { describe, expect, test } from "bun:test";
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { noStackTrace, pgship, ROOT, tempDir, testWithPgDump, useDatabases } from "../harness/env.ts";

const db = useDatabases("devx");

/** An app directory: migrations/, schema.sql and schema.model.json copied from the repository. */
function appDir(): string {
  const app = tempDir();
  cpSync(join(ROOT, "migrations"), join(app, "migrations"), { recursive: true });
  for (const f of ["schema.sql", "schema.model.json"]) cpSync(join(ROOT, f), join(app, f));
  return app;
}

describe("dump", () => {
  testWithPgDump("after the sample migrations are replaced, dump rewrites the snapshot it would otherwise be refused by", async () => {
    const d = await db();
    const app = appDir();
    const dir = join(app, "migrations");
    for (const f of readdirSync(dir)) rmSync(join(dir, f));
    writeFileSync(join(dir, "20300101000000_things.sql"), "-- migrate:up\ncreate table things (id int);\n-- migrate:down\ndrop table things;\n");
    // Other commands still refuse the stale snapshot.
    const refused = await pgship(["check", "--skip-stairway"], { cwd: app, env: { DATABASE_URL: d.url } });
    expect(refused.stderr).toContain("not one of the migrations");
    const r = await pgship(["dump"], { cwd: app, env: { DATABASE_URL: d.url } });
    expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
    expect(readFileSync(join(app, "schema.sql"), "utf8")).toStartWith("-- pgship snapshot: 20300101000000\n");
    expect(readFileSync(join(app, "schema.model.json"), "utf8")).toContain("20300101000000");
    expect((await pgship(["dump", "--check"], { cwd: app, env: { DATABASE_URL: d.url } })).code).toBe(0);
  }, 120_000);
});
