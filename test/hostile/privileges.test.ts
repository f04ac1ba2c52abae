// Least privilege (issue 13, item 4; status --exit-code on an unmanaged database,
// item 10): roles with exactly the privileges described, against a real cluster.
// Every refusal is exit 1 with one message naming the GRANT, never "unexpected failure".

import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import postgres from "postgres";
import { cluster, migrationsDir, pgship, tempDir, useDatabases, type RunResult, type TestDb, testWithPgDump } from "../harness/env.ts";

const newDb = useDatabases("priv");
const PW = "least-privilege-pw";
let n = 0;

/** A login role with nothing but what `grants` gives it (CONNECT and TEMP come from PUBLIC). */
async function role(db: TestDb, grants: (r: string) => string = () => ""): Promise<{ name: string; url: string }> {
  const c = await cluster();
  const name = `r${process.pid}_${++n}`;
  await db.sql.unsafe(`create role ${name} login password '${PW}' nocreatedb nocreaterole`);
  const g = grants(name);
  if (g) await db.sql.unsafe(g);
  return { name, url: c.url(db.name, name, PW) };
}

async function installed(): Promise<TestDb> {
  const d = await newDb();
  const r = await pgship(["up"], { env: { DATABASE_URL: d.url } });
  expect(r.code).toBe(0);
  return d;
}

const run = (url: string, ...args: string[]) => pgship(args, { env: { DATABASE_URL: url } });
const out = (r: RunResult) => r.stdout + r.stderr;

/** Exit 1, no "unexpected failure", and the output names every expected fragment. */
function refused(r: RunResult, ...fragments: string[]) {
  expect(out(r)).not.toContain("unexpected failure");
  for (const f of fragments) expect(out(r)).toContain(f);
  expect(r.code).toBe(1);
}

const historyRows = async (d: TestDb) => Number((await d.sql`select count(*)::int as n from pgship.history`)[0]!.n);

describe("a role with DML on the tracking tables but no CREATE on the database", () => {
  let d: TestDb;
  beforeAll(async () => {
    d = await installed();
  });

  test("runs 'up' with nothing pending (exit 0) and records the run", async () => {
    const r0 = await role(d, (r) => `revoke create on database ${d.name} from public;
      grant usage on schema pgship to ${r}; grant select, insert, update on pgship.migrations, pgship.history to ${r};
      grant usage on sequence pgship.history_id_seq to ${r}`);
    const [row] = await d.sql`select has_database_privilege(${r0.name}, current_database(), 'CREATE') as c`;
    expect(row!.c).toBe(false);
    const before = await historyRows(d);
    for (const cmd of ["up", "update"]) {
      const r = await run(r0.url, cmd);
      expect(out(r)).not.toContain("unexpected failure");
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("Already up to date");
    }
    expect(await historyRows(d)).toBe(before + 2);
    const [last] = await d.sql`select command, result from pgship.history order by id desc limit 1`;
    expect(last).toEqual({ command: "update", result: "ok" });
  });

  test("a read-only role (USAGE + SELECT) runs 'up' and 'status' with nothing pending; the no-op is not recorded", async () => {
    const r0 = await role(d, (r) => `grant usage on schema pgship to ${r}; grant select on pgship.migrations, pgship.history to ${r}`);
    const before = await historyRows(d);
    const up = await pgship(["up", "--verbose"], { env: { DATABASE_URL: r0.url } });
    expect(out(up)).not.toContain("unexpected failure");
    expect(up.code).toBe(0);
    expect(up.stderr).toContain("not recorded in pgship.history");
    expect(await historyRows(d)).toBe(before);
    const st = await run(r0.url, "status", "--exit-code");
    expect(st.code).toBe(0);
  });

  test("with a migration pending, it is told which tracking GRANT it lacks before anything runs", async () => {
    const r0 = await role(d, (r) => `grant usage on schema pgship to ${r}; grant select on pgship.migrations, pgship.history to ${r}`);
    const dir = migrationsDir({ "20991231000000_more.sql": "-- migrate:up\nselect 1;\n" }, true);
    const r = await pgship(["up", "--migrations-dir", dir], { env: { DATABASE_URL: r0.url } });
    refused(r, `role "${r0.name}" cannot write pgship.migrations and pgship.history`, `GRANT INSERT, UPDATE ON pgship.migrations TO ${r0.name};`, `GRANT INSERT, UPDATE ON pgship.history TO ${r0.name};`, `GRANT USAGE ON SEQUENCE pgship.history_id_seq TO ${r0.name};`);
    expect(await d.sql`select 1 from pgship.migrations where version = '20991231000000'`).toHaveLength(0);
    // doctor names the GRANT before 'pgship up'.
    const doc = await pgship(["doctor", "--migrations-dir", dir], { env: { DATABASE_URL: r0.url } });
    expect(out(doc)).not.toContain("unexpected failure");
    expect(doc.stdout).toContain(`fix: GRANT INSERT, UPDATE ON pgship.migrations TO ${r0.name};`);
    expect(doc.stdout).toContain("then pgship up");
  });
});

describe("a role without USAGE on the tracking schema", () => {
  let d: TestDb;
  let r0: { name: string; url: string };
  beforeAll(async () => {
    d = await installed();
    r0 = await role(d, (r) => `grant select on all tables in schema public to ${r}`);
  });

  for (const args of [["status"], ["status", "--exit-code"], ["verify"], ["up"], ["update"], ["install"], ["down"], ["up", "--dry-run"], ["down", "--dry-run"], ["baseline", "20250415120000"], ["verify", "--fix", "--yes"]]) {
    test(`${args.join(" ")}: exit 1 naming the GRANT`, async () => {
      const r = await run(r0.url, ...args);
      refused(r, `role "${r0.name}" cannot read pgship.migrations`, `GRANT USAGE ON SCHEMA pgship TO ${r0.name};`, `GRANT SELECT ON pgship.migrations, pgship.history TO ${r0.name};`);
    });
  }

  test("--json: one document with the GRANT in the message", async () => {
    const r = await run(r0.url, "status", "--json");
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout);
    expect(doc.error.code).toBe("insufficient_privilege");
    expect(doc.error.message).toContain(`GRANT USAGE ON SCHEMA pgship TO ${r0.name};`);
  });

  test("doctor: a failing check whose fix is the GRANT", async () => {
    const r = await run(r0.url, "doctor");
    expect(out(r)).not.toContain("unexpected failure");
    expect(r.stdout).toMatch(/FAIL\s+privileges\s+role "r\d+_\d+" cannot read pgship\.migrations/);
    expect(r.stdout).toContain(`fix: GRANT USAGE ON SCHEMA pgship TO ${r0.name}; GRANT SELECT ON pgship.migrations, pgship.history TO ${r0.name};`);
    expect(r.code).toBe(1);
  });

  test("backup: pg_dump's tables are checked first, naming the GRANT", async () => {
    const dir = tempDir();
    const r = await run(r0.url, "backup", "--dir", dir);
    // The tables are readable, the sequences behind their ids are not: both schemas are named.
    refused(r, "that pg_dump must read (pgship.history, pgship.history_id_seq, pgship.migrations, public.api_keys_id_seq, public.instances_id_seq and 1 more)", `GRANT USAGE ON SCHEMA pgship TO ${r0.name};`, `GRANT SELECT ON ALL TABLES IN SCHEMA pgship TO ${r0.name};`, `GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO ${r0.name};`);
    expect(out(r)).not.toContain("TABLES IN SCHEMA public");
    expect(existsSync(dir) ? readdirSync(dir) : []).toEqual([]);
  });
});

describe("a role with USAGE on the tracking schema but no SELECT on its tables", () => {
  test("status, verify, doctor, up, down: exit 1 naming GRANT SELECT", async () => {
    const d = await installed();
    const r0 = await role(d, (r) => `grant usage on schema pgship to ${r}`);
    for (const cmd of ["status", "verify", "up", "down"]) {
      const r = await run(r0.url, cmd);
      refused(r, `role "${r0.name}" cannot read pgship.migrations: GRANT SELECT ON pgship.migrations, pgship.history TO ${r0.name};`);
      expect(out(r)).not.toContain("GRANT USAGE");
    }
    const doc = await run(r0.url, "doctor");
    expect(doc.stdout).toContain(`fix: GRANT SELECT ON pgship.migrations, pgship.history TO ${r0.name};`);
    expect(doc.code).toBe(1);
    // SELECT on migrations only: history is named.
    await d.sql.unsafe(`grant select on pgship.migrations to ${r0.name}`);
    const st = await run(r0.url, "status");
    refused(st, `role "${r0.name}" cannot read pgship.history: GRANT SELECT ON pgship.history TO ${r0.name};`);
  });

  testWithPgDump("backup: the app tables it cannot read are named, with the GRANT", async () => {
    const d = await installed();
    const r0 = await role(d, (r) => `grant usage on schema pgship to ${r}; grant select on all tables in schema pgship to ${r}; grant select on all sequences in schema pgship to ${r}`);
    const dir = tempDir();
    const r = await run(r0.url, "backup", "--dir", dir);
    refused(r, "public.api_keys", "public.instances", "and ", `GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${r0.name};`, `GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO ${r0.name};`);
    expect(out(r)).not.toContain("GRANT USAGE ON SCHEMA public");
    // With the GRANTs it names, the backup works.
    await d.sql.unsafe(`grant select on all tables in schema public to ${r0.name}; grant select on all sequences in schema public to ${r0.name}`);
    const ok = await run(r0.url, "backup", "--dir", dir);
    expect(out(ok)).not.toContain("unexpected failure");
    expect(ok.code).toBe(0);
  });
});

describe("an empty database owned by another role", () => {
  let d: TestDb;
  let r0: { name: string; url: string };
  beforeAll(async () => {
    d = await newDb();
    r0 = await role(d);
  });

  for (const cmd of ["install", "up"]) {
    test(`${cmd}: says which GRANT (or the owner change) it needs, and changes nothing`, async () => {
      const r = await run(r0.url, cmd);
      refused(r, `role "${r0.name}" cannot create objects in database "${d.name}": GRANT CREATE ON DATABASE ${d.name} TO ${r0.name}`, `(or make ${r0.name} the owner: ALTER DATABASE ${d.name} OWNER TO ${r0.name})`);
      expect(await d.sql`select 1 from pg_namespace where nspname = 'pgship'`).toHaveLength(0);
    });
  }

  test("doctor: a failing check with that fix, not 'pgship up'", async () => {
    const r = await run(r0.url, "doctor");
    expect(out(r)).not.toContain("unexpected failure");
    expect(r.stdout).toMatch(/FAIL\s+install\s+the database is empty, and role "r\d+_\d+" cannot create objects in database/);
    expect(r.stdout).toContain(`fix: GRANT CREATE ON DATABASE ${d.name} TO ${r0.name}`);
    expect(r.stdout).not.toContain("fix: pgship up");
    expect(r.code).toBe(1);
  });

  test("status --exit-code still says 3 (install pending), and the owner change makes install work", async () => {
    expect((await run(r0.url, "status", "--exit-code")).code).toBe(3);
    const c = await cluster();
    const admin = postgres(c.url("postgres"), { max: 1, onnotice: () => {} });
    await admin.unsafe(`alter database ${d.name} owner to ${r0.name}`);
    await admin.end();
    const r = await run(r0.url, "install");
    expect(out(r)).not.toContain("unexpected failure");
    expect(r.code).toBe(0);
  });
});

describe("status --exit-code on an unmanaged database", () => {
  test("non-empty, not managed: exit 4 with the way to adopt it", async () => {
    const d = await newDb();
    await d.sql`create table legacy (id int)`;
    const r = await run(d.url, "status", "--exit-code");
    expect(r.code).toBe(4);
    expect(r.stdout).toContain("adopt it with 'pgship baseline VERSION'");
    expect((await run(d.url, "status")).code).toBe(0);
  });

  test("empty: exit 3 (install pending)", async () => {
    const d = await newDb();
    expect((await run(d.url, "status", "--exit-code")).code).toBe(3);
  });
});

describe("leftover permission errors", () => {
  test("a server permission error the checks cannot foresee is one clear message naming the object", async () => {
    const d = await installed();
    const r0 = await role(d, (r) => `grant usage on schema pgship to ${r}; grant select, insert, update on pgship.migrations, pgship.history to ${r};
      grant usage on sequence pgship.history_id_seq to ${r}`);
    // Row-level security without a policy: the privileges are there, the insert is still refused.
    await d.sql`alter table pgship.history enable row level security`;
    const r = await run(r0.url, "up", "--json");
    expect(out(r)).not.toContain("unexpected failure");
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout);
    expect(doc.error.code).toBe("insufficient_privilege");
    expect(doc.error.message).toContain('row-level security policy for table "history"');
  });

  test("a role without CONNECT is told the GRANT", async () => {
    const d = await newDb();
    await d.sql.unsafe(`revoke connect on database ${d.name} from public`);
    const r0 = await role(d);
    const r = await run(r0.url, "status");
    refused(r, `role "${r0.name}" may not connect to database "${d.name}"`, `GRANT CONNECT ON DATABASE ${d.name} TO ${r0.name};`);
  });
});

