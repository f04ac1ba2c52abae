// Real migration histories, used in place: each must load without a parser
// complaint, replay through pgship into the same schema (and seed rows) as psql
// applying the files one by one, dump deterministically, and install from the
// snapshot into that same schema and rows.
//   - handwritten/: what real histories hold (tagged and nested dollar quotes,
//     nested comments, E'' and U&'' strings, COPY ... FROM stdin data, DO blocks,
//     BEGIN ATOMIC bodies, savepoints, CONCURRENTLY outside a transaction,
//     bodies that mention CONCURRENTLY/BEGIN/COMMIT);
//   - graphile-worker's sql/ (a plpgsql-heavy history shipped in its npm package),
//     read from node_modules and renamed into pgship's file layout.

import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { clientTool, cluster, noStackTrace, pgship, ROOT, schemaOf, tempDir, useDatabases, type TestDb } from "../harness/env.ts";

const newDb = useDatabases("corpus");

/** The up section of a pgship migration file: what psql is given. */
const upSection = (text: string) => text.split(/^-- migrate:down.*$/m)[0]!;

async function psqlReplay(db: TestDb, dir: string): Promise<void> {
  const c = await cluster();
  const psql = await clientTool("psql");
  for (const f of readdirSync(dir).filter((f) => f.endsWith(".sql")).sort()) {
    const file = join(tempDir(), f);
    const text = readFileSync(join(dir, f), "utf8");
    writeFileSync(file, upSection(text));
    // A migration runs in one transaction unless its marker says otherwise; so does psql -1.
    const single = /^-- migrate:up.*transaction:false/m.test(text) ? [] : ["--single-transaction"];
    const r = spawnSync(psql, ["-X", "-q", "-v", "ON_ERROR_STOP=1", ...single, "-h", "127.0.0.1", "-p", String(c.port), "-U", "postgres", "-d", db.name, "-f", file], {
      encoding: "utf8",
      env: { ...process.env, PGPASSWORD: c.password },
    });
    if (r.status !== 0) throw new Error(`psql ${f}: ${r.stderr}`);
  }
}

/** Every corpus goes through the same four checks. `app` is a directory holding migrations/. */
async function proveCorpus(app: string, dataQuery: string | null) {
  const dir = ["--migrations-dir", "migrations"];
  const opts = (db: TestDb) => ({ env: { DATABASE_URL: db.url }, cwd: app, timeoutMs: 120_000 });

  // 1. Loads: no parser complaint.
  const byPsql = await newDb();
  const status = await pgship(["status", "--json", ...dir], opts(byPsql));
  expect(status.stderr).toBe("");
  expect(status.code).toBe(0);
  const files = readdirSync(join(app, "migrations")).filter((f) => f.endsWith(".sql"));
  expect(JSON.parse(status.stdout).counts.pending).toBe(files.length);

  // 2. Replays into what psql makes of the same files.
  await psqlReplay(byPsql, join(app, "migrations"));
  const byPgship = await newDb();
  const up = await pgship(["up", ...dir], opts(byPgship));
  expect(noStackTrace(up.stderr)).toBe(true);
  expect(up.code).toBe(0);
  const reference = await schemaOf(byPsql);
  expect(await schemaOf(byPgship)).toBe(reference);
  if (dataQuery) expect(await byPgship.sql.unsafe(dataQuery)).toEqual(await byPsql.sql.unsafe(dataQuery));

  // 3. Dumps deterministically.
  const dump = async () => {
    const r = await pgship(["dump", ...dir], opts(byPgship));
    expect(r.stderr).not.toContain("error");
    expect(r.code).toBe(0);
    return readFileSync(join(app, "schema.sql"), "utf8") + readFileSync(join(app, "schema.model.json"), "utf8");
  };
  const first = await dump();
  expect(await dump()).toBe(first);
  expect((await pgship(["dump", "--check", ...dir], opts(byPgship))).code).toBe(0);

  // 4. Installs from the snapshot into the same schema.
  const fresh = await newDb();
  const install = await pgship(["up", "--json", ...dir], opts(fresh));
  expect(install.code).toBe(0);
  expect(JSON.parse(install.stdout).steps.map((s: { kind: string }) => s.kind)).toContain("snapshot");
  expect(await schemaOf(fresh)).toBe(reference);
  if (dataQuery) expect(await fresh.sql.unsafe(dataQuery)).toEqual(await byPsql.sql.unsafe(dataQuery));
  expect((await pgship(["verify", ...dir], opts(fresh))).code).toBe(0);
}

describe("real migration histories", () => {
  test("a hand-written corpus of what real histories contain", async () => {
    const app = tempDir();
    cpSync(join(import.meta.dir, "handwritten"), app, { recursive: true });
    await proveCorpus(app, "select code, name, note from app.countries order by code");
  }, 300_000);

  test("graphile-worker's migrations, from its npm package", async () => {
    const src = join(ROOT, "node_modules", "graphile-worker", "sql");
    const app = tempDir();
    mkdirSync(join(app, "migrations"));
    // Its migrator creates the schema and substitutes the schema name; so do we.
    writeFileSync(join(app, "migrations", "20200101000000_graphile_worker_schema.sql"), "-- migrate:up\ncreate schema graphile_worker;\n");
    const names = readdirSync(src).filter((f) => /^\d+\.sql$/.test(f)).sort();
    expect(names.length).toBeGreaterThanOrEqual(19);
    for (const [i, f] of names.entries()) {
      const sql = readFileSync(join(src, f), "utf8").replaceAll(":GRAPHILE_WORKER_SCHEMA", "graphile_worker");
      writeFileSync(join(app, "migrations", `${20200101000001 + i}_graphile_worker_${f}`), `-- migrate:up\n${sql}\n`);
    }
    await proveCorpus(app, null);
  }, 300_000);
});
