// `init` in an app repository of any language, and pgship.json read by new, dump
// and check: the real binary in temporary directories.

import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Ajv2020 from "ajv/dist/2020";
import { parse as parseYaml } from "yaml";
import { BUN, ensureBinary, noStackTrace, pgship, ROOT, tempDir, testWithPgDump, useDatabases } from "../harness/env.ts";
import { Terminal, useTerminals } from "../harness/tmux.ts";
import { missing } from "../harness/tools.ts";

const db = useDatabases("init");
const ajv = new Ajv2020({ allErrors: true, strict: false });
for (const f of ["init", "error"]) ajv.addSchema(JSON.parse(readFileSync(join(ROOT, "docs/json", `${f}.schema.json`), "utf8")), `${f}.schema.json`);
const expectInitSchema = (stdout: string) => expect(ajv.validate("init.schema.json", JSON.parse(stdout)) || ajv.errorsText()).toBe(true);
const REPO = ["--release-repository", "acme/myapp"];

/** A directory named `name` (the default binary name comes from it). */
function appDir(name = "myapp"): string {
  const dir = join(tempDir(), name);
  mkdirSync(dir);
  return dir;
}

// Without shellcheck the generated install.sh is checked with sh -n only (the hint is printed; CI=true requires it).
const shellcheck = !missing("shellcheck");

/** Asserts the generated files parse: the workflow as YAML with the jobs CI needs, install.sh with sh -n and shellcheck. */
function expectGeneratedFilesValid(app: string, name: string, installSh = "db/install.sh"): void {
  const wf = parseYaml(readFileSync(join(app, ".github/workflows/db.yml"), "utf8"));
  expect(Object.keys(wf.jobs)).toEqual(["check", "release"]);
  expect(wf.on.pull_request).toBeDefined();
  expect(wf.on.push.tags).toEqual(["v*"]);
  const check = wf.jobs.check.steps.map((s: { run?: string }) => s.run ?? "").join("\n");
  expect(check).toContain("pgship check");
  expect(check).toContain("pgship dump --check");
  expect(wf.jobs.check.services.postgres.image).toMatch(/^postgres:\d+$/);
  const release = wf.jobs.release.steps.map((s: { run?: string }) => s.run ?? "").join("\n");
  expect(release).toContain("pgship pack --from");
  for (const p of ["linux-x64", "linux-x64-musl", "linux-arm64", "linux-arm64-musl", "darwin-x64", "darwin-arm64"]) expect(release).toContain(p);
  expect(release).toContain("gh release create");
  if (shellcheck) {
    // Every step's script, as the runner's bash runs it.
    for (const job of Object.values<{ steps: { name?: string; run?: string }[] }>(wf.jobs)) {
      for (const step of job.steps.filter((s) => s.run)) {
        const file = join(tempDir(), "step.sh");
        writeFileSync(file, `#!/bin/bash\nset -eo pipefail\n${step.run}`);
        const r = spawnSync("shellcheck", [file], { encoding: "utf8" });
        expect({ step: step.name, out: r.stdout + r.stderr }).toEqual({ step: step.name, out: "" });
      }
    }
  }
  const script = join(app, installSh);
  expect(statSync(script).mode & 0o111).not.toBe(0);
  const text = readFileSync(script, "utf8");
  expect(text).toContain(`\nBINARY_NAME="${name}"\n`);
  expect(text).toContain(`\nRELEASE_REPOSITORY="acme/myapp"\n`);
  const n = spawnSync("sh", ["-n", script], { encoding: "utf8" });
  expect(n.stderr).toBe("");
  expect(n.status).toBe(0);
  if (shellcheck) {
    const r = spawnSync("shellcheck", ["-s", "sh", script], { encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  }
  // The branded installer names its own assets.
  const dry = spawnSync("sh", [script, "--dry-run", "--version", "1.0.0", "--dir", join(app, "bin")], { encoding: "utf8", env: { ...process.env, PGSHIP_PLATFORM: "linux-arm64" } });
  expect(dry.stdout).toContain(`asset=${name}-linux-arm64\n`);
  expect(dry.stdout).toContain(`url=https://github.com/acme/myapp/releases/download/v1.0.0/${name}-linux-arm64\n`);
}

describe("init", () => {
  test("in an empty directory: a first migration, pgship.json, the workflow and install.sh; the next commands", async () => {
    const app = appDir("shop");
    const r = await pgship(["init", ...REPO], { cwd: app });
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
    const [first, ...more] = readdirSync(join(app, "db/migrations"));
    expect(more).toEqual([]);
    expect(first).toMatch(/^\d{14}_initial_schema\.sql$/);
    // The template `new` writes.
    const newed = appDir();
    await pgship(["new", "x"], { cwd: newed });
    expect(readFileSync(join(app, "db/migrations", first!), "utf8")).toBe(readFileSync(join(newed, "migrations", readdirSync(join(newed, "migrations"))[0]!), "utf8"));
    expect(JSON.parse(readFileSync(join(app, "pgship.json"), "utf8"))).toEqual({
      name: "shop-db",
      displayName: "shop-db",
      trackingSchema: "shop_db",
      releaseRepository: "acme/myapp",
      migrationsDir: "db/migrations",
      schemaFile: "db/schema.sql",
    });
    expect(r.stdout).toContain(`db/migrations/${first}`);
    expect(r.stdout).toContain("1. pgship dump");
    expect(r.stdout).toContain("2. pgship check");
    expect(r.stdout).toContain("3. git add pgship.json db .github/workflows/db.yml");
    expectGeneratedFilesValid(app, "shop-db");
  });

  test("in a Python repository: takes the name from the directory and the release repository from the origin remote", async () => {
    const app = appDir("Billing_Service");
    writeFileSync(join(app, "pyproject.toml"), '[project]\nname = "billing"\n');
    mkdirSync(join(app, "billing"));
    writeFileSync(join(app, "billing", "__init__.py"), "");
    expect(spawnSync("git", ["init", "-q"], { cwd: app }).status).toBe(0);
    expect(spawnSync("git", ["remote", "add", "origin", "git@github.com:acme/myapp.git"], { cwd: app }).status).toBe(0);
    const r = await pgship(["init", "--json"], { cwd: app });
    expect(r.code).toBe(0);
    expectInitSchema(r.stdout);
    const out = JSON.parse(r.stdout);
    expect(out.project).toMatchObject({ name: "billing_service-db", trackingSchema: "billing_service_db", releaseRepository: "acme/myapp" });
    expect(out.files).toContain("pgship.json");
    expect(readFileSync(join(app, "pyproject.toml"), "utf8")).toContain("billing");
    expectGeneratedFilesValid(app, "billing_service-db");
  });

  test("flags set the project; --migrations-dir places the migrations, the schema file and install.sh", async () => {
    const app = appDir();
    const r = await pgship(["init", ...REPO, "--name", "acme-db", "--display-name", "Acme database", "--tracking-schema", "acme", "--migrations-dir", "sql/migrations"], { cwd: app });
    expect(r.code).toBe(0);
    expect(JSON.parse(readFileSync(join(app, "pgship.json"), "utf8"))).toEqual({
      name: "acme-db",
      displayName: "Acme database",
      trackingSchema: "acme",
      releaseRepository: "acme/myapp",
      migrationsDir: "sql/migrations",
      schemaFile: "sql/schema.sql",
    });
    expect(readFileSync(join(app, "sql/install.sh"), "utf8")).toContain('\nDISPLAY_NAME="Acme database"\n');
    expect(r.stdout).toContain("3. git add pgship.json sql .github/workflows/db.yml && git commit");
    expectGeneratedFilesValid(app, "acme-db", "sql/install.sh");
  });

  test("refuses to overwrite (one message listing the files, exit 1, nothing written); --force overwrites and keeps the migrations", async () => {
    const app = appDir();
    expect((await pgship(["init", ...REPO], { cwd: app })).code).toBe(0);
    const migrations = readdirSync(join(app, "db/migrations"));
    writeFileSync(join(app, "pgship.json"), "{}");
    const again = await pgship(["init", ...REPO, "--name", "other-db"], { cwd: app });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("already there: pgship.json, .github/workflows/db.yml, db/install.sh, db/migrations/");
    expect(again.stderr).toContain("--force");
    expect(noStackTrace(again.stderr)).toBe(true);
    expect(readFileSync(join(app, "pgship.json"), "utf8")).toBe("{}");
    const json = await pgship(["init", ...REPO, "--json"], { cwd: app });
    expect(JSON.parse(json.stdout).error).toMatchObject({ code: "project_exists", exitCode: 1 });
    expectInitSchema(json.stdout);
    // Only one of the files there is enough to refuse.
    const one = appDir();
    mkdirSync(join(one, ".github/workflows"), { recursive: true });
    writeFileSync(join(one, ".github/workflows/db.yml"), "mine");
    const r1 = await pgship(["init", ...REPO], { cwd: one });
    expect(r1.code).toBe(1);
    expect(r1.stderr).toContain("already there: .github/workflows/db.yml;");
    expect(existsSync(join(one, "pgship.json"))).toBe(false);
    expect(existsSync(join(one, "db"))).toBe(false);

    const forced = await pgship(["init", ...REPO, "--name", "other-db", "--force"], { cwd: app });
    expect(forced.code).toBe(0);
    expect(JSON.parse(readFileSync(join(app, "pgship.json"), "utf8")).name).toBe("other-db");
    expect(readdirSync(join(app, "db/migrations"))).toEqual(migrations);
    expectGeneratedFilesValid(app, "other-db");
  });

  const { terminals } = useTerminals();
  test.skipIf(missing("tmux"))("on a terminal it asks for what no flag gave; Enter takes the default", async () => {
    const app = appDir("shop");
    const term = new Terminal([ensureBinary(), "init", "--display-name", "Shop"], { cwd: app, env: { PATH: process.env.PATH!, HOME: app, LANG: "C.UTF-8", TERM: "xterm-256color", NO_COLOR: "1" } });
    terminals.push(term);
    await term.waitFor("Name of the app's database binary [shop-db]: ");
    term.send("Enter");
    // No origin remote, so no default repository is offered.
    await term.waitFor("GitHub repository the releases are published in (owner/repo): ");
    term.type("acme/shop");
    term.send("Enter");
    expect(await term.exitCode()).toBe(0);
    expect(term.screen()).not.toContain("Display name");
    expect(JSON.parse(readFileSync(join(app, "pgship.json"), "utf8"))).toMatchObject({ name: "shop-db", displayName: "Shop", releaseRepository: "acme/shop" });
  });

  test("bad names and repositories: one message, exit 2, nothing written", async () => {
    const app = appDir();
    for (const [args, message] of [
      [["--name", "My App"], "is not a safe binary name"],
      [["--name", "../evil"], "is not a safe binary name"],
      [["--name", "a;rm -rf"], "is not a safe binary name"],
      [["--tracking-schema", "Bad-Schema"], "--tracking-schema"],
      [["--display-name", 'say "hi"'], "--display-name"],
      [["--release-repository", "not a repo"], "is not a GitHub repository"],
    ] as const) {
      const r = await pgship(["init", ...REPO, ...args], { cwd: app });
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toContain(message);
      expect(noStackTrace(r.stderr)).toBe(true);
    }
    // No GitHub origin and no flag: there is nothing to put in install.sh.
    const none = await pgship(["init"], { cwd: app });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("--release-repository OWNER/REPO");
    // A directory name that makes no binary name.
    const odd = appDir("___");
    const r = await pgship(["init", ...REPO], { cwd: odd });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("pass --name");
    expect(readdirSync(app)).toEqual([]);
    expect(readdirSync(odd)).toEqual([]);
  });
});

describe("pgship.json", () => {
  /** A project with its migrations under db/ and the given pgship.json. */
  function project(json: unknown): string {
    const app = appDir();
    writeFileSync(join(app, "pgship.json"), typeof json === "string" ? json : JSON.stringify(json));
    mkdirSync(join(app, "db/migrations"), { recursive: true });
    writeFileSync(join(app, "db/migrations/20300101000000_things.sql"), "-- migrate:up\ncreate table things (id int);\n-- migrate:down\ndrop table things;\n");
    return app;
  }

  test("the build takes the name, brand and sources from it (--project), and refuses a bad one", () => {
    const app = project({ name: "myapp-db", displayName: "MyApp", trackingSchema: "myapp_db", migrationsDir: "db/migrations", schemaFile: "db/schema.sql" });
    const out = join(app, "out");
    const b = spawnSync(BUN, ["scripts/build.ts", "--project", app, "--outfile", out], { cwd: ROOT, encoding: "utf8" });
    expect({ status: b.status, stderr: b.stderr }).toMatchObject({ status: 0 });
    expect(b.stdout).toContain("with 1 migrations (head 20300101000000, snapshot none)");
    expect(b.stderr).toContain("db/schema.sql: fresh installs will replay every migration");
    expect(spawnSync(out, ["--version"], { encoding: "utf8" }).stdout).toStartWith("myapp-db ");
    const help = spawnSync(out, ["--help"], { encoding: "utf8" }).stdout;
    expect(help).toContain("MyApp's tracking tables");
    writeFileSync(join(app, "pgship.json"), JSON.stringify({ name: "myapp-db", schemaDir: "x" }));
    const bad = spawnSync(BUN, ["scripts/build.ts", "--project", app, "--outfile", out], { cwd: ROOT, encoding: "utf8" });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('pgship.json: unknown key "schemaDir"');
    expect(noStackTrace(bad.stderr)).toBe(true);
  }, 120_000);

  test("new writes into its migrationsDir", async () => {
    const app = project({ name: "myapp-db", migrationsDir: "db/migrations" });
    const r = await pgship(["new", "add_x"], { cwd: app });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Created db/migrations/");
    expect(readdirSync(join(app, "db/migrations"))).toHaveLength(2);
    expect(existsSync(join(app, "migrations"))).toBe(false);
    // A flag still wins.
    expect((await pgship(["new", "add_y", "--migrations-dir", "elsewhere"], { cwd: app })).code).toBe(0);
    expect(readdirSync(join(app, "elsewhere"))).toHaveLength(1);
  });

  testWithPgDump("dump writes its schemaFile (and the model beside it), dump --check and check read them", async () => {
    const d = await db();
    const app = project({ name: "myapp-db", trackingSchema: "myapp_db", migrationsDir: "db/migrations", schemaFile: "db/snapshot.sql" });
    const env = { DATABASE_URL: d.url };
    const r = await pgship(["dump"], { cwd: app, env, timeoutMs: 120_000 });
    expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
    expect(r.stdout).toContain("Wrote db/snapshot.sql");
    expect(readFileSync(join(app, "db/snapshot.sql"), "utf8")).toStartWith("-- pgship snapshot: 20300101000000\n");
    expect(readFileSync(join(app, "db/snapshot.model.json"), "utf8")).toContain("20300101000000");
    expect(existsSync(join(app, "schema.sql"))).toBe(false);
    expect((await pgship(["dump", "--check"], { cwd: app, env })).code).toBe(0);
    const c = await pgship(["check", "--json"], { cwd: app, env, timeoutMs: 120_000 });
    expect({ code: c.code, stderr: c.stderr }).toMatchObject({ code: 0 });
    expect(JSON.parse(c.stdout).migrations).toBe(1);
    // A new migration makes the configured snapshot stale: check reads it from pgship.json.
    writeFileSync(join(app, "db/migrations/20300102000000_more.sql"), "-- migrate:up\ncreate table more (id int);\n-- migrate:down\ndrop table more;\n");
    expect((await pgship(["dump", "--check"], { cwd: app, env })).code).toBe(4);
    expect((await pgship(["check"], { cwd: app, env, timeoutMs: 120_000 })).code).toBe(4);
  }, 180_000);

  test("bad JSON, an unknown key, a bad name or schema: one message naming the file, exit 2", async () => {
    for (const [json, message] of [
      ["{ not json", "pgship.json: not valid JSON"],
      [{ name: "myapp-db", migrationDir: "db" }, 'pgship.json: unknown key "migrationDir"'],
      [{ displayName: "x" }, '"name" is missing'],
      [{ name: "My App" }, '"name": "My App" is not a safe binary name'],
      [{ name: "myapp-db", trackingSchema: "drop table" }, '"trackingSchema": "drop table" is not a safe schema name'],
      [{ name: "myapp-db", releaseRepository: "x" }, '"releaseRepository"'],
      [[1], "one JSON object"],
      [{ name: "myapp-db", displayName: "a $(x)" }, '"displayName": "a $(x)" may not'],
    ] as const) {
      const app = project(json);
      for (const command of [["new", "x"], ["check"], ["dump", "--check"]]) {
        const r = await pgship([...command, "--database-url", "postgres://nobody@127.0.0.1:1/x"], { cwd: app });
        expect({ json, command, code: r.code }).toEqual({ json, command, code: 2 });
        expect(r.stderr).toContain(message);
        expect(noStackTrace(r.stderr)).toBe(true);
      }
      const j = JSON.parse((await pgship(["new", "x", "--json"], { cwd: app })).stdout);
      expect(j.error.code).toBe("project_invalid");
    }
  });

  // root reads any file.
  test.skipIf(process.getuid?.() === 0)("an unreadable pgship.json is a file error", async () => {
    const app = project({ name: "myapp-db" });
    chmodSync(join(app, "pgship.json"), 0);
    const r = await pgship(["new", "x"], { cwd: app });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("pgship.json: permission denied");
  });
});
