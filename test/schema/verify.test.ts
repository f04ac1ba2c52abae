// Drift: every kind the seed apps met is detected with the right report and,
// where additive, repaired in one transaction; verify needs neither pg_dump nor
// CREATEDB.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cluster, createDb, pgship, type TestDb } from "../harness/env.ts";

const dbs: TestDb[] = [];
async function installed(): Promise<TestDb> {
  const d = await createDb("v");
  dbs.push(d);
  const r = await pgship(["up"], { env: { DATABASE_URL: d.url } });
  expect(r.code).toBe(0);
  return d;
}
afterAll(async () => {
  for (const d of dbs) await d.sql.end();
});

const verify = (d: TestDb, ...args: string[]) => pgship(["verify", "--json", ...args], { env: { DATABASE_URL: d.url } });
type F = { kind: string; type: string; name: string; attribute?: string };
const findingsOf = (stdout: string): F[] => JSON.parse(stdout).findings;
const short = (fs: F[]) => fs.map((f) => `${f.kind} ${f.type} ${f.name}${f.attribute ? ` ${f.attribute}` : ""}`).sort();

// Each scenario: the drift injected by hand, what verify must report, and whether --fix clears it.
const SCENARIOS: { name: string; drift: string; expect: string[]; repaired: boolean; data?: string }[] = [
  {
    name: "the seed's case: two columns dropped by hand",
    drift: "alter table api_keys drop column webhook_url, drop column webhook_headers",
    expect: [
      "missing column public.api_keys.webhook_headers",
      "missing column public.api_keys.webhook_url",
      "missing constraint public.api_keys.api_keys_webhook_headers_check",
      "missing constraint public.api_keys.api_keys_webhook_url_check",
    ],
    repaired: true,
  },
  { name: "a dropped index", drift: "drop index instances_user_id_idx", expect: ["missing index public.instances.instances_user_id_idx"], repaired: true },
  {
    name: "an INVALID index",
    drift: "update pg_index set indisvalid = false where indexrelid = 'api_keys_user_id_idx'::regclass",
    expect: ["invalid index public.api_keys.api_keys_user_id_idx"],
    repaired: true,
  },
  { name: "a changed default", drift: "alter table users alter column display_name set default 'someone'", expect: ["changed column public.users.display_name default"], repaired: true },
  { name: "a dropped NOT NULL", drift: "alter table users alter column email drop not null", expect: ["changed column public.users.email notNull"], repaired: true },
  { name: "an extra table", drift: "create table scratch_notes (id int)", expect: ["extra table public.scratch_notes"], repaired: false },
  {
    name: "a changed function body",
    drift: "create or replace function set_updated_at() returns trigger language plpgsql as $$ begin return new; end; $$",
    expect: ["changed function public.set_updated_at() definition"],
    repaired: true,
  },
  { name: "a dropped trigger", drift: "drop trigger users_set_updated_at on users", expect: ["missing trigger public.users.users_set_updated_at"], repaired: true },
  {
    name: "a missing enum value",
    drift: "delete from pg_enum where enumtypid = 'instance_status'::regtype and enumlabel = 'disconnected'",
    expect: ["missing enum value public.instance_status.'disconnected'"],
    repaired: true,
  },
  { name: "a dropped foreign key", drift: "alter table instances drop constraint instances_user_id_fkey", expect: ["missing constraint public.instances.instances_user_id_fkey"], repaired: true },
];

describe("verify detects and --fix repairs drift", () => {
  test("a freshly installed database has no drift", async () => {
    const d = await installed();
    const r = await verify(d);
    expect(r.code).toBe(0);
    expect(findingsOf(r.stdout)).toEqual([]);
    expect(JSON.parse(r.stdout).comparedWith.source).toBe("model file");
  });

  for (const s of SCENARIOS) {
    test(s.name, async () => {
      const d = await installed();
      await d.sql`insert into users (email, password_hash) values ('a@example.com', 'x')`;
      await d.sql.unsafe(s.drift);
      const r = await verify(d);
      expect(r.code).toBe(4);
      expect(short(findingsOf(r.stdout))).toEqual(s.expect);

      const fixed = await pgship(["verify", "--fix", "--yes"], { env: { DATABASE_URL: d.url } });
      expect(fixed.code).toBe(s.repaired ? 0 : 4);
      const again = await verify(d);
      if (s.repaired) {
        expect(again.code).toBe(0);
        expect(fixed.stdout).toContain("Verified again: no drift.");
      } else {
        expect(short(findingsOf(again.stdout))).toEqual(s.expect);
        expect(fixed.stderr).toContain("DROP TABLE public.scratch_notes;");
        expect(await d.sql`select 1 from pg_tables where tablename = 'scratch_notes'`).toHaveLength(1);
      }
      // Data survives every repair.
      expect((await d.sql`select email from users`).map((u) => u.email)).toEqual(["a@example.com"]);
    });
  }

  test("a NOT NULL that rows violate is not forced: it is left for a person, with the reason", async () => {
    const d = await installed();
    await d.sql`alter table users alter column email drop not null`;
    await d.sql`insert into users (email, password_hash) values (null, 'x')`;
    const r = await pgship(["verify", "--fix", "--yes"], { env: { DATABASE_URL: d.url } });
    expect(r.code).toBe(4);
    expect(r.stdout).toContain("some rows have NULL in email");
    expect((await d.sql`select count(*)::int as n from users`)[0]!.n).toBe(1);
  });

  test("--fix --dry-run prints the SQL and changes nothing; the repair is recorded in the history", async () => {
    const d = await installed();
    await d.sql`alter table api_keys drop column webhook_url`;
    const dry = await pgship(["verify", "--fix", "--dry-run"], { env: { DATABASE_URL: d.url } });
    expect(dry.code).toBe(4);
    expect(dry.stderr).toContain("ALTER TABLE public.api_keys ADD COLUMN webhook_url text;");
    expect(dry.stdout).toContain("Dry run: nothing changed.");
    expect(await d.sql`select 1 from information_schema.columns where column_name = 'webhook_url'`).toHaveLength(0);
    const noTty = await pgship(["verify", "--fix"], { env: { DATABASE_URL: d.url } });
    expect(noTty.code).toBe(2);
    expect(noTty.stderr).toContain("pass --yes");
    expect((await pgship(["verify", "--fix", "--yes"], { env: { DATABASE_URL: d.url } })).code).toBe(0);
    const [h] = await d.sql`select command, result from pgship.history order by id desc limit 1`;
    expect(h).toEqual({ command: "verify --fix", result: "ok" });
  });

  test("up warns about drift after migrating, and --fail-on-drift makes it exit 4", async () => {
    const d = await installed();
    await d.sql`drop index instances_user_id_idx`;
    const warn = await pgship(["up"], { env: { DATABASE_URL: d.url } });
    expect(warn.code).toBe(0);
    expect(warn.stderr).toContain("the schema differs from the expected one");
    expect((await pgship(["up", "--fail-on-drift"], { env: { DATABASE_URL: d.url } })).code).toBe(4);
    expect((await pgship(["up", "--fail-on-drift", "--no-verify"], { env: { DATABASE_URL: d.url } })).code).toBe(0);
  });
});

describe("verify without privileges or tools", () => {
  let d: TestDb;
  let url: string;
  beforeAll(async () => {
    d = await installed();
    const c = await cluster();
    const role = `verifier_${process.pid}`;
    await d.sql.unsafe(`create role ${role} login password 'v3rify-pw' nocreatedb nocreaterole`);
    await d.sql.unsafe(`grant usage on schema pgship to ${role}; grant select on all tables in schema pgship to ${role}`);
    url = c.url(d.name, role, "v3rify-pw");
  });

  test("a role without CREATEDB and no pg_dump on PATH verifies with the shipped model", async () => {
    const emptyPath = mkdtempSync(join(tmpdir(), "pgship-nopath-"));
    const clean = await pgship(["verify", "--json"], { env: { DATABASE_URL: url, PATH: emptyPath } });
    expect(clean.code).toBe(0);
    await d.sql`alter table users drop column csrf_token`;
    const drift = await pgship(["verify"], { env: { DATABASE_URL: url, PATH: emptyPath } });
    expect(drift.code).toBe(4);
    expect(drift.stdout).toContain("missing column csrf_token: text");
  });

  test("between versions, without CREATEDB, it compares with the shipped model of that version", async () => {
    const older = await createDb("v");
    dbs.push(older);
    await pgship(["up", "--to", "20250305093000"], { env: { DATABASE_URL: older.url } });
    const c = await cluster();
    const role = `verifier2_${process.pid}`;
    await older.sql.unsafe(`create role ${role} login password 'v3rify-pw' nocreatedb; grant usage on schema pgship to ${role}; grant select on all tables in schema pgship to ${role}`);
    const r = await pgship(["verify", "--json"], { env: { DATABASE_URL: c.url(older.name, role, "v3rify-pw") } });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.comparedWith).toMatchObject({ version: "20250305093000", source: "model file" });
    expect(out.pending).toHaveLength(3);
    expect(await older.sql`select datname from pg_database where datname like 'pgship_scratch_%'`).toHaveLength(0);
  });

  test("a changed function body is shown as a diff of the changed lines, not two bodies to compare by eye", async () => {
    const changed = await installed();
    await changed.sql.unsafe("create or replace function set_updated_at() returns trigger language plpgsql as $$\nbegin\n  new.updated_at := clock_timestamp();\n  return new;\nend;\n$$");
    const r = await pgship(["verify"], { env: { DATABASE_URL: changed.url } });
    expect(r.code).toBe(4);
    expect(r.stdout).toContain("changed function: the body differs");
    expect(r.stdout).toMatch(/\n\s+--- expected\n\s+\+\+\+ found\n\s+@@ [^\n]+ @@\n/);
    expect(r.stdout).toMatch(/\n\s+-\s+new\.updated_at := now\(\);\n\s+\+\s+new\.updated_at := clock_timestamp\(\);\n/);
    expect(r.stdout).not.toMatch(/^\s+[-+]\s+return new;/m);
  });

  test("the number of catalog queries does not grow with the schema", async () => {
    const small = JSON.parse((await verify(d)).stdout).queries;
    for (let i = 0; i < 40; i++) await d.sql.unsafe(`create table extra_${i} (id int primary key, v text default 'x' check (v <> '')); create index on extra_${i} (v)`);
    const big = await verify(d);
    expect(findingsOf(big.stdout).length).toBeGreaterThanOrEqual(40);
    expect(JSON.parse(big.stdout).queries).toBe(small);
  });
});
