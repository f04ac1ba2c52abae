// Repairs only against the exact schema of the database's version. A role
// without CREATEDB (the kind the wizard creates) on a database behind the head:
// verify compares with the model of ITS version (shipped for every version), so
// the pending migrations' objects are not drift, --fix adds nothing, and the
// next `up` succeeds. Without an exact model there is no comparison and no repair.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { BUN, cleanEnv, cluster, createDb, migrationsDir, pgship, FIXTURE, ROOT, schemaOf, tempDir, type TestDb } from "../harness/env.ts";

const VERSIONS = readdirSync(join(FIXTURE, "migrations")).sort().map((f) => f.slice(0, 14));
const HEAD = VERSIONS.at(-1)!;
/** Two migrations behind: the next ones add instances.slug and an index. */
const BEHIND = VERSIONS.at(-3)!;

const dbs: TestDb[] = [];
afterAll(async () => {
  for (const d of dbs) await d.sql.end();
});

/** A database owned by a fresh role without CREATEDB; returns the role's URL. */
async function ownedByPlainRole(): Promise<{ d: TestDb; url: string }> {
  const d = await createDb("vv");
  dbs.push(d);
  const role = `plain_${d.name}`;
  await d.sql.unsafe(`create role ${role} login password 'plain-pw' nocreatedb nocreaterole; alter database ${d.name} owner to ${role}`);
  const c = await cluster();
  return { d, url: c.url(d.name, role, "plain-pw") };
}

const run = (url: string, args: string[]) => pgship(args, { env: { DATABASE_URL: url } });
type F = { kind: string; type: string; name: string; attribute?: string };
const short = (fs: F[]) => fs.map((f) => `${f.kind} ${f.type} ${f.name}${f.attribute ? ` ${f.attribute}` : ""}`).sort();
const hasSlug = async (d: TestDb) => (await d.sql`select 1 from information_schema.columns where table_name = 'instances' and column_name = 'slug'`).length > 0;

describe("verify at a version behind the head, as a role without CREATEDB", () => {
  test("pending migrations are not drift: verify is clean, --fix --yes changes nothing, up succeeds", async () => {
    const { d, url } = await ownedByPlainRole();
    expect((await run(url, ["install", "--to", BEHIND])).code).toBe(0);
    const before = await schemaOf(d);

    const r = await run(url, ["verify", "--json"]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.findings).toEqual([]);
    expect(out.version).toBe(BEHIND);
    expect(out.comparedWith).toMatchObject({ version: BEHIND, source: "model file" });
    expect(out.pending).toEqual(VERSIONS.slice(-2));
    const text = await run(url, ["verify"]);
    expect(text.stdout).toContain("2 migrations pending (not drift): run 'pgship up'");

    const fixed = await run(url, ["verify", "--fix", "--yes"]);
    expect(fixed.code).toBe(0);
    expect(await schemaOf(d)).toBe(before);
    expect(await hasSlug(d)).toBe(false);

    const up = await run(url, ["up"]);
    expect(up.stderr).not.toContain("already exists");
    expect(up.code).toBe(0);
    const after = await run(url, ["verify", "--json"]);
    expect(after.code).toBe(0);
    expect(JSON.parse(after.stdout)).toMatchObject({ version: HEAD, findings: [], pending: [] });
  });

  test("real drift at an old version is found and repaired against that version's model; up still succeeds", async () => {
    const { d, url } = await ownedByPlainRole();
    expect((await run(url, ["install", "--to", BEHIND])).code).toBe(0);
    await d.sql`alter table users drop column csrf_token`;
    await d.sql`drop index instances_user_id_idx`;

    const r = await run(url, ["verify", "--json"]);
    expect(r.code).toBe(4);
    expect(short(JSON.parse(r.stdout).findings)).toEqual(["missing column public.users.csrf_token", "missing index public.instances.instances_user_id_idx"]);

    const fixed = await run(url, ["verify", "--fix", "--yes", "--json"]);
    expect(fixed.code).toBe(0);
    const repaired: string[] = JSON.parse(fixed.stdout).repaired;
    expect(repaired).toHaveLength(2);
    expect(repaired.join("\n")).not.toContain("slug");
    expect(await hasSlug(d)).toBe(false);

    expect((await run(url, ["up"])).code).toBe(0);
    expect((await run(url, ["verify"])).code).toBe(0);
  });

  test("doctor with migrations pending recommends the update, not a repair", async () => {
    const { d, url } = await ownedByPlainRole();
    expect((await run(url, ["install", "--to", BEHIND])).code).toBe(0);
    let doc = JSON.parse((await run(url, ["doctor", "--json"])).stdout);
    expect(doc.pending).toBe(2);
    expect(doc.checks.find((c: { name: string }) => c.name === "drift")).toMatchObject({ status: "ok", detail: `schema matches ${BEHIND}` });
    await d.sql`drop index instances_user_id_idx`;
    const r = await run(url, ["doctor", "--json"]);
    expect(r.code).toBe(4);
    doc = JSON.parse(r.stdout);
    expect(doc.checks.find((c: { name: string }) => c.name === "drift")).toMatchObject({ status: "fail", fix: "pgship up first (2 migrations pending), then pgship verify" });
  });
});

describe("the model shipped for every version", () => {
  test("verify without CREATEDB is clean at every version: the shipped model equals a replay there", async () => {
    for (const v of VERSIONS) {
      const { url } = await ownedByPlainRole();
      expect((await run(url, ["up", "--to", v])).code).toBe(0);
      const r = await run(url, ["verify", "--json"]);
      expect({ v, code: r.code, findings: JSON.parse(r.stdout).findings }).toEqual({ v, code: 0, findings: [] });
      expect(JSON.parse(r.stdout).comparedWith).toMatchObject({ version: v, source: "model file" });
    }
  }, 120_000);

  test("check fails when one version's model in the file is wrong", async () => {
    const admin = await createDb("vvchk");
    dbs.push(admin);
    const dir = migrationsDir({}, true);
    copyFileSync(join(FIXTURE, "schema.sql"), join(dirname(dir), "schema.sql"));
    const file = readFileSync(join(FIXTURE, "schema.model.json"), "utf8");
    // Forget that 20250221110000 added csrf_token_rotated_at.
    const broken = file.split("\n").filter((l) => !l.includes('"csrf_token_rotated_at"],"to"')).join("\n").replace(/("csrf_token"\],"to":\{[^\n]*\}\}),\n/, "$1\n");
    expect(broken).not.toBe(file);
    writeFileSync(join(dirname(dir), "schema.model.json"), broken);
    const r = await pgship(["check", "--json", "--skip-stairway", "--migrations-dir", dir], { env: { DATABASE_URL: admin.url }, timeoutMs: 120_000 });
    expect(r.code).toBe(4);
    const problems = JSON.parse(r.stdout).problems as { check: string; message: string }[];
    expect(problems.filter((p) => p.check === "model current").map((p) => p.message)).toEqual([
      expect.stringContaining("schema.model.json does not match the migrations at 5 version(s) (20250221110000, ...)"),
    ]);
  }, 120_000);
});

describe("without an exact model for the database's version", () => {
  let oldBin: string;
  beforeAll(() => {
    // A binary built with a model file from before per-version models: it describes the head only.
    const work = tempDir();
    copyFileSync(join(FIXTURE, "schema.sql"), join(work, "schema.sql"));
    const full = JSON.parse(readFileSync(join(FIXTURE, "schema.model.json"), "utf8"));
    writeFileSync(join(work, "schema.model.json"), JSON.stringify({ model: full.model, version: full.version }, null, 1));
    oldBin = join(work, "pgship-old");
    const b = spawnSync(BUN, ["scripts/build.ts", "--project", FIXTURE, "--schema-file", join(work, "schema.sql"), "--outfile", oldBin], { cwd: ROOT, encoding: "utf8" });
    expect(b.status).toBe(0);
  });

  const runOld = (url: string, args: string[]) => {
    const r = spawnSync(oldBin, args, { cwd: FIXTURE, env: cleanEnv({ DATABASE_URL: url }), encoding: "utf8", timeout: 60_000 });
    return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
  };

  test("verify compares nothing and --fix refuses (exit 1), saying why and what to do", async () => {
    const { d, url } = await ownedByPlainRole();
    expect((await run(url, ["install", "--to", BEHIND])).code).toBe(0);
    const before = await schemaOf(d);
    const r = await runOld(url, ["verify", "--json"]);
    expect(r.code).toBe(1);
    const err = JSON.parse(r.stdout);
    expect(err).toMatchObject({ ok: false, error: { code: "model_unavailable", exitCode: 1 } });
    expect(err.error.message).toContain(`no exact model of the schema at ${BEHIND}`);
    expect(err.error.message).toContain("never compares with, or repairs against, the schema of another version");
    expect(err.error.hint).toContain("run 'pgship up'");

    const fixed = await runOld(url, ["verify", "--fix", "--yes"]);
    expect(fixed.code).toBe(1);
    expect(fixed.stderr).toContain("cannot compare");
    expect(await schemaOf(d)).toBe(before);
    expect((await run(url, ["up"])).code).toBe(0);
    // At the head the old file's model applies.
    expect((await runOld(url, ["verify"])).code).toBe(0);
  });

  test("with CREATEDB it builds the exact model in a scratch database instead", async () => {
    const d = await createDb("vv");
    dbs.push(d);
    expect((await run(d.url, ["install", "--to", BEHIND])).code).toBe(0);
    const r = await runOld(d.url, ["verify", "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).comparedWith).toMatchObject({ version: BEHIND, source: "scratch replay" });
  });
});
