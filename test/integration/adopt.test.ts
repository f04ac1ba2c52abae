// Adopting a database dbmate, golang-migrate, Prisma or Alembic migrated:
// baseline --from, up --adopt, baseline --drop-source, and every refusal,
// through the compiled binary against a real PostgreSQL. The foreign installs
// are real schemas at a middle version (pgship's tracking schema dropped, or the
// real dbmate) plus the other tool's table as that tool writes it.

import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { copyFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, migrationsDir, noStackTrace, pgship, FIXTURE, ROOT, tempDir, type TestDb, useDatabases } from "../harness/env.ts";

const db = useDatabases("adopt");

const MIGRATIONS = readdirSync(join(FIXTURE, "migrations")).sort();
const VERSIONS = MIGRATIONS.map((f) => f.slice(0, 14));
const MID = VERSIONS[4]!;
const json = (s: string) => JSON.parse(s);
const run = (d: TestDb, args: string[]) => pgship([...args, "--database-url", d.url]);

/** The schema at `to` as another tool would have left it: installed, then pgship's tracking schema dropped. */
async function foreignSchema(d: TestDb, to = MID): Promise<void> {
  const r = await run(d, ["install", "--to", to]);
  expect(r.code).toBe(0);
  await d.sql`drop schema pgship cascade`;
}

const recorded = async (d: TestDb) => {
  const [t] = await d.sql`select to_regclass('pgship.migrations') is not null as ok`;
  return t!.ok ? (await d.sql`select version, applied_via from pgship.migrations order by version`).map((r) => `${r.version}/${r.applied_via}`) : [];
};

const refusal = (r: { code: number; stdout: string; stderr: string }) => ({ code: r.code, error: json(r.stdout).error?.code });

describe("dbmate", () => {
  test("the real dbmate's database: up names the commands, baseline --from records the history, verify stays clean, up applies the rest, --drop-source drops the table", async () => {
    const d = await db();
    const dir = migrationsDir({});
    for (const f of MIGRATIONS.slice(0, 5)) copyFileSync(join(FIXTURE, "migrations", f), join(dir, f));
    const dm = spawnSync(join(ROOT, "node_modules", ".bin", "dbmate"), ["--url", `${d.url}?sslmode=disable`, "--migrations-dir", dir, "--no-dump-schema", "up"], { encoding: "utf8" });
    expect({ status: dm.status, stderr: dm.stderr }).toMatchObject({ status: 0 });
    expect((await d.sql`select version from schema_migrations order by 1`).map((r) => r.version)).toEqual(VERSIONS.slice(0, 5));

    const refused = await run(d, ["up"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`migrated by dbmate, which recorded version ${MID}`);
    expect(refused.stderr).toContain("'pgship up --adopt'");
    expect(refused.stderr).toContain("'pgship baseline --from dbmate'");

    const b = await run(d, ["baseline", "--from", "dbmate", "--json"]);
    expect({ code: b.code, stderr: b.stderr }).toMatchObject({ code: 0 });
    expect(json(b.stdout)).toEqual({
      ok: true,
      version: MID,
      recorded: 5,
      adopted: { tool: "dbmate", table: "public.schema_migrations", sourceVersion: MID, version: MID, drift: 0, forced: false },
    });
    expect(await recorded(d)).toEqual(VERSIONS.slice(0, 5).map((v) => `${v}/baseline`));
    expect(await d.sql`select table_schema, table_name, tool, version, forced from pgship.adopted`).toEqual([
      { table_schema: "public", table_name: "schema_migrations", tool: "dbmate", version: MID, forced: false },
    ] as never);
    const [h] = await d.sql`select command, result, args from pgship.history order by id desc limit 1`;
    expect(h).toMatchObject({ command: "baseline", result: "ok" });
    expect(h!.args).toContain("--from dbmate");
    // Readable by everyone, like the history.
    const [grant] = await d.sql`select has_table_privilege('public', 'pgship.adopted', 'select') as ok`;
    expect(grant!.ok).toBe(true);

    // dbmate's table is adopted history, not an extra table.
    const v = await run(d, ["verify", "--json"]);
    expect({ code: v.code, findings: json(v.stdout).findings }).toEqual({ code: 0, findings: [] });

    const up = await run(d, ["up", "--json"]);
    expect(up.code).toBe(0);
    expect(json(up.stdout).steps.map((s: { version: string }) => s.version)).toEqual(VERSIONS.slice(5));
    expect(json(up.stdout).drift).toBe(0);
    expect((await run(d, ["verify"])).code).toBe(0);
    // Kept until asked: dbmate could still roll back.
    expect(await d.sql`select 1 from schema_migrations`).toHaveLength(5);

    const drop = await run(d, ["baseline", "--drop-source", "--json"]);
    expect({ code: drop.code, stderr: drop.stderr }).toMatchObject({ code: 0 });
    expect(json(drop.stdout)).toEqual({ ok: true, version: VERSIONS.at(-1), recorded: 0, dropped: ["public.schema_migrations"] });
    const [gone] = await d.sql`select to_regclass('public.schema_migrations') is null as ok`;
    expect(gone!.ok).toBe(true);
    expect(await d.sql`select * from pgship.adopted`).toHaveLength(0);
    expect((await run(d, ["verify"])).code).toBe(0);
    const again = await run(d, ["baseline", "--drop-source", "--json"]);
    expect(refusal(again)).toEqual({ code: 1, error: "adopt_source_missing" });
  }, 60_000);

  test("without adoption the table shows as drift; baseline V alone does not adopt it", async () => {
    const d = await db();
    await foreignSchema(d);
    await d.sql`create table schema_migrations (version varchar(128) primary key)`;
    for (const v of VERSIONS.slice(0, 5)) await d.sql`insert into schema_migrations values (${v})`;
    expect((await run(d, ["baseline", MID])).code).toBe(0);
    const v = await run(d, ["verify", "--json"]);
    expect(v.code).toBe(4);
    expect(json(v.stdout).findings.map((f: { name: string }) => f.name)).toContain("public.schema_migrations");
  }, 60_000);

  test("drift: exit 4 with the report and nothing recorded; --force records it as forced", async () => {
    const d = await db();
    await foreignSchema(d);
    await d.sql`create table schema_migrations (version varchar(128) primary key)`;
    for (const v of VERSIONS.slice(0, 5)) await d.sql`insert into schema_migrations values (${v})`;
    await d.sql`alter table users add column nickname text`;

    const r = await run(d, ["baseline", "--from", "dbmate"]);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("extra column nickname");
    expect(r.stderr).toContain("nothing was recorded");
    expect(r.stderr).toContain("--force");
    expect(noStackTrace(r.stderr)).toBe(true);
    expect(refusal(await run(d, ["baseline", "--from", "dbmate", "--json"]))).toEqual({ code: 4, error: "adopt_drift" });
    expect(await recorded(d)).toEqual([]);
    const [none] = await d.sql`select to_regnamespace('pgship') is null as ok`;
    expect(none!.ok).toBe(true);
    // up --adopt refuses the same way.
    expect(refusal(await run(d, ["up", "--adopt", "--json"]))).toEqual({ code: 4, error: "adopt_drift" });
    expect(await recorded(d)).toEqual([]);

    const forced = await run(d, ["baseline", "--from", "dbmate", "--force", "--json"]);
    expect({ code: forced.code, stderr: forced.stderr }).toMatchObject({ code: 0 });
    expect(json(forced.stdout).adopted).toMatchObject({ tool: "dbmate", version: MID, forced: true, drift: 1 });
    expect(forced.stderr).toContain("--force");
    expect(await recorded(d)).toHaveLength(5);
    const [row] = await d.sql`select forced, drift from pgship.adopted`;
    expect(row).toEqual({ forced: true, drift: 1 } as never);
    // verify reports the column, not dbmate's table.
    const v = await run(d, ["verify", "--json"]);
    expect(v.code).toBe(4);
    expect(json(v.stdout).findings.map((f: { name: string }) => f.name)).toEqual(["public.users.nickname"]);
  }, 60_000);

  test("a version this binary does not know is refused, and so is the wrong --from", async () => {
    const d = await db();
    await foreignSchema(d);
    await d.sql`create table schema_migrations (version varchar(128) primary key)`;
    for (const v of [...VERSIONS.slice(0, 5), "20990101000000"]) await d.sql`insert into schema_migrations values (${v})`;
    const r = await run(d, ["baseline", "--from", "dbmate"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("20990101000000");
    expect(refusal(await run(d, ["baseline", "--from", "dbmate", "--json"]))).toEqual({ code: 1, error: "adopt_unknown_version" });
    expect(refusal(await run(d, ["baseline", "--from", "prisma", "--json"]))).toEqual({ code: 1, error: "adopt_source_missing" });
    const golang = await run(d, ["baseline", "--from", "golang-migrate", "--json"]);
    expect(refusal(golang)).toEqual({ code: 1, error: "adopt_source_missing" });
    expect(json(golang.stdout).error.message).toContain("it is dbmate's");
    expect(refusal(await run(d, ["baseline", "--from", "flyway", "--json"]))).toEqual({ code: 2, error: "usage" });
    expect(refusal(await run(d, ["baseline", MID, "--from", "dbmate", "--json"]))).toEqual({ code: 2, error: "usage" });
    expect(refusal(await run(d, ["baseline", "--force", "--json"]))).toEqual({ code: 2, error: "usage" });
    expect(refusal(await run(d, ["baseline", "--json"]))).toEqual({ code: 2, error: "usage" });
    expect(refusal(await run(d, ["up", "--adopt", "--dry-run", "--json"]))).toEqual({ code: 2, error: "usage" });
    expect(await recorded(d)).toEqual([]);
  }, 60_000);
});

describe("golang-migrate", () => {
  const golang = async (d: TestDb, version: string, dirty: boolean) => {
    await d.sql`create table if not exists schema_migrations (version bigint not null primary key, dirty boolean not null)`;
    await d.sql`insert into schema_migrations values (${version}, ${dirty})`;
  };

  test("up --adopt records its version and applies what is pending", async () => {
    const d = await db();
    await foreignSchema(d);
    await golang(d, MID, false);
    const refused = await run(d, ["up"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("migrated by golang-migrate");
    expect(refused.stderr).toContain("'pgship baseline --from golang-migrate'");
    const up = await run(d, ["up", "--adopt", "--json"]);
    expect({ code: up.code, stderr: up.stderr }).toMatchObject({ code: 0 });
    const out = json(up.stdout);
    expect(out.adopted).toEqual({ tool: "golang-migrate", table: "public.schema_migrations", sourceVersion: MID, version: MID, drift: 0, forced: false });
    expect(out).toMatchObject({ action: "update", from: MID, to: VERSIONS.at(-1), drift: 0 });
    expect(out.steps.map((s: { version: string }) => s.version)).toEqual(VERSIONS.slice(5));
    expect(await recorded(d)).toEqual([...VERSIONS.slice(0, 5).map((v) => `${v}/baseline`), ...VERSIONS.slice(5).map((v) => `${v}/migration`)]);
    expect((await run(d, ["verify"])).code).toBe(0);
    // Once managed, --adopt changes nothing.
    const again = await run(d, ["up", "--adopt", "--json"]);
    expect(again.code).toBe(0);
    expect(json(again.stdout).action).toBe("none");
    expect(json(again.stdout).adopted).toBeUndefined();
  }, 60_000);

  test("a dirty state is refused", async () => {
    const d = await db();
    await foreignSchema(d);
    await golang(d, MID, true);
    const r = await run(d, ["baseline", "--from", "golang-migrate"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`left version ${MID} dirty`);
    expect(noStackTrace(r.stderr)).toBe(true);
    expect(refusal(await run(d, ["up", "--adopt", "--json"]))).toEqual({ code: 1, error: "adopt_dirty" });
    expect(refusal(await run(d, ["baseline", "--from", "dbmate", "--json"]))).toEqual({ code: 1, error: "adopt_source_missing" });
    expect(await recorded(d)).toEqual([]);
  }, 60_000);
});

describe("Prisma", () => {
  const prisma = async (d: TestDb, rows: { name: string; finished: boolean; rolledBack?: boolean }[]) => {
    await d.sql.unsafe(`create table if not exists "_prisma_migrations" (
      "id" varchar(36) primary key not null, "checksum" varchar(64) not null, "finished_at" timestamptz,
      "migration_name" varchar(255) not null, "logs" text, "rolled_back_at" timestamptz,
      "started_at" timestamptz not null default now(), "applied_steps_count" integer not null default 0)`);
    for (const r of rows) {
      await d.sql`insert into _prisma_migrations (id, checksum, finished_at, migration_name, rolled_back_at, applied_steps_count)
        values (${crypto.randomUUID()}, ${"0".repeat(64)}, ${r.finished ? new Date() : null}, ${r.name}, ${r.rolledBack ? new Date() : null}, ${r.finished ? 1 : 0})`;
    }
  };
  const names = MIGRATIONS.map((f) => f.replace(/\.sql$/, ""));

  test("its migrations are adopted (one rolled back and applied again counts), its table dropped with --drop-source", async () => {
    const d = await db();
    await foreignSchema(d);
    await prisma(d, [...names.slice(0, 3).map((name) => ({ name, finished: true })), { name: names[3]!, finished: false, rolledBack: true }, ...names.slice(3, 5).map((name) => ({ name, finished: true }))]);
    // Adopted and dropped in one go.
    const b = await run(d, ["baseline", "--from", "prisma", "--drop-source", "--json"]);
    expect({ code: b.code, stderr: b.stderr }).toMatchObject({ code: 0 });
    expect(json(b.stdout).adopted).toEqual({ tool: "prisma", table: "public._prisma_migrations", sourceVersion: names[4], version: MID, drift: 0, forced: false });
    expect(json(b.stdout).dropped).toEqual(["public._prisma_migrations"]);
    expect(await recorded(d)).toHaveLength(5);
    const [gone] = await d.sql`select to_regclass('public._prisma_migrations') is null as ok`;
    expect(gone!.ok).toBe(true);
    expect((await run(d, ["verify"])).code).toBe(0);
  }, 60_000);

  test("a failed migration is refused", async () => {
    const d = await db();
    await foreignSchema(d);
    await prisma(d, [...names.slice(0, 5).map((name) => ({ name, finished: true })), { name: names[5]!, finished: false }]);
    const r = await run(d, ["baseline", "--from", "prisma"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(names[5]!);
    expect(refusal(await run(d, ["baseline", "--from", "prisma", "--json"]))).toEqual({ code: 1, error: "adopt_failed_migration" });
    expect(refusal(await run(d, ["up", "--adopt", "--json"]))).toEqual({ code: 1, error: "adopt_failed_migration" });
    expect(await recorded(d)).toEqual([]);
  }, 60_000);
});

describe("Alembic", () => {
  const REV = "ae1027a6acf";
  const alembic = async (d: TestDb) => {
    await foreignSchema(d);
    await d.sql`create table alembic_version (version_num varchar(32) not null, constraint alembic_version_pkc primary key (version_num))`;
    await d.sql`insert into alembic_version values (${REV})`;
  };

  test("a revision without a mapping is refused", async () => {
    const d = await db();
    await alembic(d);
    const r = await run(d, ["baseline", "--from", "alembic"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`Alembic revision ${REV} has no pgship version`);
    expect(r.stderr).toContain('"adopt": { "alembic"');
    expect(refusal(await run(d, ["up", "--adopt", "--json"]))).toEqual({ code: 1, error: "adopt_unmapped" });
    expect(await recorded(d)).toEqual([]);
  }, 60_000);

  test("with the map in package.json (embedded by the build), it is adopted; a bad map fails the build", async () => {
    const work = tempDir();
    const pkg = json(spawnSync("cat", [join(ROOT, "package.json")], { encoding: "utf8" }).stdout);
    pkg.pgship.adopt = { alembic: { [REV]: MID } };
    writeFileSync(join(work, "package.json"), JSON.stringify(pkg));
    const bin = join(work, "mapped");
    const built = spawnSync(BUN, ["scripts/build.ts", "--package-json", join(work, "package.json"), "--migrations-dir", join(FIXTURE, "migrations"), "--schema-file", join(FIXTURE, "schema.sql"), "--outfile", bin], { cwd: ROOT, encoding: "utf8" });
    expect({ status: built.status, stderr: built.stderr }).toMatchObject({ status: 0 });

    const d = await db();
    await alembic(d);
    const b = spawnSync(bin, ["baseline", "--from", "alembic", "--json", "--database-url", d.url], { encoding: "utf8" });
    expect({ status: b.status, stderr: b.stderr }).toMatchObject({ status: 0 });
    expect(json(b.stdout).adopted).toEqual({ tool: "alembic", table: "public.alembic_version", sourceVersion: REV, version: MID, drift: 0, forced: false });
    expect(await recorded(d)).toEqual(VERSIONS.slice(0, 5).map((v) => `${v}/baseline`));
    expect((await run(d, ["verify"])).code).toBe(0);

    pkg.pgship.adopt = { alembic: { [REV]: "20990101000000", other: "nope" } };
    writeFileSync(join(work, "package.json"), JSON.stringify(pkg));
    const bad = spawnSync(BUN, ["scripts/build.ts", "--package-json", join(work, "package.json"), "--migrations-dir", join(FIXTURE, "migrations"), "--schema-file", join(FIXTURE, "schema.sql"), "--outfile", join(work, "bad")], { cwd: ROOT, encoding: "utf8" });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain("pgship.adopt.alembic.other");
    expect(bad.stderr).toContain(`pgship.adopt.alembic.${REV}: 20990101000000 is not a migration`);
  }, 60_000);
});
