// The non-interactive commands start fast because nothing heavy is on their
// start-up path: from the command line's module, following only static
// imports, neither the wizard, the prompt library, the backup code nor the
// schema catalog is loaded (commands and the wizard are reached through
// import(), evaluated on demand), and --version loads nothing but itself.
// `status` loads the index of the embedded migrations, never their SQL.

import { afterAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { indexOf, parseMigrationSet } from "../../src/core/migration-set.ts";
import { readSnapshotFile, readSourceFiles } from "../../src/source.ts";
import { BUN, cleanEnv, cluster, createDb, pgship, FIXTURE, ROOT, tempDir } from "../harness/env.ts";

const SRC = resolve(import.meta.dir, "../../src");
const STATIC_IMPORT = /^\s*(?:import|export)\s+(?!type\b)(?:[^"'`;]*?\sfrom\s+)?["']([^"']+)["']/gm;

function staticClosure(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    for (const m of readFileSync(file, "utf8").matchAll(STATIC_IMPORT)) {
      const spec = m[1]!;
      if (spec.startsWith(".")) {
        const target = resolve(dirname(file), spec);
        if (existsSync(target)) visit(target);
      } else if (!spec.startsWith("node:")) packages.add(spec);
    }
  };
  visit(entry);
  return { files, packages };
}

test("--version needs only the entry point, the runtime seam and package.json", () => {
  const { files, packages } = staticClosure(join(SRC, "main.ts"));
  expect([...files].filter((f) => f.startsWith(SRC)).map((f) => f.slice(SRC.length + 1)).sort()).toEqual(["main.ts", "runtime.ts"]);
  expect([...packages]).toEqual([]);
});

test("the command line statically reaches no wizard, prompt, backup or catalog code", () => {
  const { files, packages } = staticClosure(join(SRC, "cli", "main.ts"));
  const relative = [...files].map((f) => f.slice(SRC.length + 1)).sort();
  // catalog/model.ts (types and a JSON reader) is the one light piece of the catalog every command needs.
  expect(relative.filter((f) => /^(wizard|backup|catalog|commands)\//.test(f) && f !== "catalog/model.ts")).toEqual([]);
  expect([...packages].filter((p) => p.startsWith("@clack") || p === "age-encryption")).toEqual([]);
  // The model of every version (verify, doctor, up's drift check) is parsed only by those commands.
  expect(relative.filter((f) => f === "embedded-models.ts" || /^ops\/(verify|check|dump|doctor)\.ts$/.test(f))).toEqual([]);
  // Sanity: the walk itself works.
  expect(relative).toContain("cli/context.ts");
  expect(packages.has("postgres")).toBe(true);
});

// A source run where the index and the
// model are this repository's, as the build embeds them, and
// the SQL module throws when it is evaluated: any command that loads the SQL fails.
function poisonedRun(args: string[], env: Record<string, string> = {}) {
  const set = parseMigrationSet(readSourceFiles(join(FIXTURE, "migrations")).files, readSnapshotFile(join(FIXTURE, "schema.sql")));
  const preload = join(tempDir(), "poison.ts");
  writeFileSync(
    preload,
    `import { plugin } from "bun";
plugin({ name: "poison", setup(build) {
  build.onLoad({ filter: /[\\\\/]src[\\\\/]embedded-index\\.ts$/ }, () => ({ contents: "export const embeddedIndexJson = " + ${JSON.stringify(JSON.stringify(JSON.stringify(indexOf(set))))} + ";", loader: "ts" }));
  build.onLoad({ filter: /[\\\\/]src[\\\\/]embedded-models\\.ts$/ }, () => ({ contents: "export const embeddedModelsJson = " + ${JSON.stringify(JSON.stringify(readFileSync(join(FIXTURE, "schema.model.json"), "utf8")))} + ";", loader: "ts" }));
  build.onLoad({ filter: /[\\\\/]src[\\\\/]embedded\\.ts$/ }, () => ({ contents: "throw new Error('the SQL module was loaded');", loader: "ts" }));
} });
`,
  );
  const r = spawnSync(BUN, ["--preload", preload, join(ROOT, "src", "main.ts"), ...args], { cwd: tempDir(), env: cleanEnv(env), encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const dbs: { sql: { end(): Promise<void> } }[] = [];
afterAll(async () => {
  for (const db of dbs) await db.sql.end();
});

test("status (online, offline, --exit-code, --json) never loads the embedded SQL; up does", async () => {
  const db = await createDb("startup");
  dbs.push(db);
  expect((await pgship(["up", "--quiet"], { env: { DATABASE_URL: db.url } })).code).toBe(0);
  const env = { DATABASE_URL: db.url };

  const json = poisonedRun(["status", "--json"], env);
  expect(json.stderr).toBe("");
  expect(json.code).toBe(0);
  // The same report as the compiled binary's, which loads the whole bundle.
  const real = await pgship(["status", "--json"], { env, cwd: tempDir() });
  expect(JSON.parse(json.stdout)).toEqual(JSON.parse(real.stdout));
  expect(JSON.parse(json.stdout).counts.applied).toBeGreaterThan(0);

  const gate = poisonedRun(["status", "--exit-code"], env);
  expect([gate.code, gate.stderr]).toEqual([0, ""]);
  expect(gate.stdout).toContain("Summary:");

  const offline = poisonedRun(["status", "--json"]);
  expect([offline.code, offline.stderr]).toEqual([0, ""]);
  expect(JSON.parse(offline.stdout)).toEqual(JSON.parse((await pgship(["status", "--json"], { cwd: tempDir() })).stdout));

  // The poison works: a command that runs SQL loads the module and fails.
  const up = poisonedRun(["up"], env);
  expect(up.code).not.toBe(0);
  expect(up.stderr).toContain("the SQL module was loaded");
}, 120_000);

test("status sends no parameterised query: each would cost a describe round trip more", async () => {
  const db = await createDb("startup_rtt");
  dbs.push(db);
  const env = { DATABASE_URL: db.url };
  expect((await pgship(["up", "--quiet"], { env })).code).toBe(0);
  // Every statement of this database's sessions goes to the server log; the extended protocol logs a "parse" step.
  await db.sql.unsafe(`alter database "${db.name}" set log_min_duration_statement = 0`);
  await db.sql.end();
  const logFile = join(dirname((await cluster()).dataDir), "log");
  const before = readFileSync(logFile, "utf8").length;
  const r = await pgship(["status"], { env, cwd: tempDir() });
  expect(r.code).toBe(0);
  const logged = readFileSync(logFile, "utf8").slice(before);
  expect(logged).toContain("pgship\".migrations"); // the log does see status's queries
  expect(logged.split("\n").filter((l) => /duration: .* (parse|bind) /.test(l))).toEqual([]);
}, 60_000);
