// Backup and restore end to end with the compiled binary, a real PostgreSQL and
// the real pg_dump / pg_restore: data compared table by table (rows and
// sequences), the swap with a client connected, --into, the in-place restore
// of a role without CREATEDB, and the schema version check afterwards.

import { afterAll, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import postgres from "postgres";
import { cluster, createDb, pgship, tempDir, type TestDb, describeWithPgDump } from "../harness/env.ts";
import { APP_DATA, databaseNames, filesIn, fingerprint, manifestOf, mode, seed, sha256 } from "../harness/backup.ts";

const dbs: TestDb[] = [];
async function db(): Promise<TestDb> {
  const d = await createDb("bk");
  dbs.push(d);
  return d;
}
afterAll(async () => {
  for (const d of dbs) await d.sql.end();
});

const json = (text: string) => JSON.parse(text);

describeWithPgDump("backup then restore", () => {
  test("the round trip gives back every row and sequence; the old database is kept until --drop-old", async () => {
    const d = await db();
    await seed(d);
    const dir = join(tempDir(), "backups");
    const env = { DATABASE_URL: d.url };
    const before = await fingerprint(d.url, APP_DATA);

    const b = await pgship(["backup", "--dir", dir, "--json"], { env });
    expect(b.stderr).toBe("");
    expect(b.code).toBe(0);
    const out = json(b.stdout);
    expect(out).toMatchObject({ ok: true, database: d.name, schemaVersion: "20250415120000", encryption: null, compression: "gzip" });
    // The manifest beside the archive says what restore will check.
    const m = manifestOf(out.file);
    expect(m).toMatchObject({ format: "pgship-backup/1", app: "pgship", database: d.name, schemaVersion: "20250415120000", encryption: null });
    expect(m.archive.sha256).toBe(sha256(out.file));
    expect(m.archive.bytes).toBe(readFileSync(out.file).length);
    const major = (await cluster()).major;
    expect(Math.floor(m.server.versionNum / 10000)).toBe(major);
    expect(m.pgDump.major).toBeGreaterThanOrEqual(major);
    expect(m.verified[0].how).toBe("readback");
    // Backups are private: the directory 0700, the files 0600; no temporary files are left.
    expect(mode(dir)).toBe(0o700);
    expect(mode(out.file)).toBe(0o600);
    expect(mode(out.manifest)).toBe(0o600);
    expect(filesIn(dir)).toEqual([out.file.split("/").pop(), out.manifest.split("/").pop()].sort());

    // Change everything: rows, a sequence, a new table.
    await d.sql.unsafe(`delete from api_keys where id % 2 = 0; update users set display_name = 'changed'; select nextval('invoice_numbers');
                        create table scratch_notes (id int); alter sequence users_id_seq restart with 9000`);
    expect(await fingerprint(d.url, APP_DATA)).not.toEqual(before);

    const r = await pgship(["restore", out.file, "--yes", "--json"], { env });
    expect(r.code).toBe(0);
    const res = json(r.stdout);
    expect(res).toMatchObject({ ok: true, mode: "swap", database: d.name, dropped: false });
    expect(await fingerprint(d.url, APP_DATA)).toEqual(before);

    // The replaced database is kept under a dated name, with the data as it was before the restore.
    const kept = res.kept as string;
    expect(kept).toMatch(new RegExp(`^${d.name}_before_restore_\\d{8}t\\d{6}z$`));
    expect(await databaseNames()).toContain(kept);
    const c = await cluster();
    const old = await fingerprint(c.url(kept));
    expect(old.tables["public.scratch_notes"]).toEqual({ rows: 0, md5: "" });

    // The restore is on record in the restored database's history.
    const [h] = await d.sql`select command, result, from_version, to_version from pgship.history order by id desc limit 1`;
    expect(h).toEqual({ command: "restore", result: "ok", from_version: "20250415120000", to_version: "20250415120000" });

    // Later: drop what restores kept (asks first; --yes answers).
    const refuse = await pgship(["restore", "--drop-old"], { env });
    expect(refuse.code).toBe(2);
    expect(refuse.stderr).toContain("--yes");
    const drop = await pgship(["restore", "--drop-old", "--yes", "--json"], { env });
    expect(drop.code).toBe(0);
    expect(json(drop.stdout).dropped).toEqual([kept]);
    expect(await databaseNames()).not.toContain(kept);
  });

  test("the swap ends a connected client's session; reconnecting shows the restored data", async () => {
    const d = await db();
    await seed(d, 50);
    const dir = tempDir();
    const env = { DATABASE_URL: d.url };
    const b = json((await pgship(["backup", "--dir", dir, "--json"], { env })).stdout);
    await d.sql`delete from users where id > 10`;

    const client = postgres(d.url, { max: 1, onnotice: () => {}, connection: { application_name: "the-app" } });
    expect((await client`select count(*)::int as n from users`)[0]!.n).toBe(10);

    // Without a terminal and without --yes nothing happens.
    const asked = await pgship(["restore", b.file], { env });
    expect(asked.code).toBe(2);
    expect(asked.stderr).toContain("confirmation needed");
    expect(asked.stderr).toContain("--yes");
    expect((await client`select count(*)::int as n from users`)[0]!.n).toBe(10);

    const dry = await pgship(["restore", b.file, "--dry-run"], { env });
    expect(dry.code).toBe(0);
    // The harness's own connection counts too.
    expect(dry.stdout).toMatch(/end \d other sessions \(.*the-app.*\)/);

    const r = await pgship(["restore", b.file, "--yes", "--drop-old", "--json"], { env });
    expect(r.code).toBe(0);
    const res = json(r.stdout);
    expect(res.endedSessions).toBeGreaterThanOrEqual(1);
    expect(res.dropped).toBe(true);
    expect(res.kept).toBeNull();
    // The old session was ended; postgres.js reconnects, now to the restored database.
    const again = await client`select count(*)::int as n from users`.catch(() => client`select count(*)::int as n from users`);
    expect(again[0]!.n).toBe(50);
    await client.end();
    expect((await databaseNames()).filter((n) => n.startsWith(d.name))).toEqual([d.name]);
  });

  test("--into restores beside the live database and leaves it alone; --dry-run changes nothing", async () => {
    const d = await db();
    await seed(d, 40);
    const env = { DATABASE_URL: d.url };
    const b = json((await pgship(["backup", "--dir", tempDir(), "--json"], { env })).stdout);
    await d.sql`delete from instances`;
    const live = await fingerprint(d.url);
    const names = await databaseNames();

    const dry = await pgship(["restore", b.file, "--dry-run", "--json"], { env });
    expect(dry.code).toBe(0);
    expect(json(dry.stdout)).toMatchObject({ ok: true, dryRun: true, mode: "swap", checks: "passed" });
    expect(await databaseNames()).toEqual(names);

    const copy = `${d.name}_copy`;
    const r = await pgship(["restore", b.file, "--into", copy, "--json"], { env });
    expect(r.code).toBe(0);
    expect(json(r.stdout)).toMatchObject({ mode: "into", database: copy });
    expect(await fingerprint(d.url)).toEqual(live);
    const c = await cluster();
    expect((await fingerprint(c.url(copy))).tables["public.instances"]!.rows).toBe(80);
    // Recorded in the restored copy's history, as the swap and the in-place restore are.
    const copySql = postgres(c.url(copy), { max: 1, onnotice: () => {} });
    const [h] = await copySql`select command, args, result, from_version, to_version from pgship.history order by id desc limit 1`;
    await copySql.end();
    expect(h).toMatchObject({ command: "restore", result: "ok", from_version: null, to_version: "20250415120000" });
    expect(h!.args).toContain(b.file.split("/").pop());
    const again = await pgship(["restore", b.file, "--into", copy], { env });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`database "${copy}" already exists`);
  });

  test("a manifest edited to name another database: restored as asked, with a warning naming both", async () => {
    const d = await db();
    await seed(d, 10);
    const env = { DATABASE_URL: d.url };
    const b = json((await pgship(["backup", "--dir", tempDir(), "--json"], { env })).stdout);
    const manifestFile = b.manifest as string;
    const m = JSON.parse(readFileSync(manifestFile, "utf8"));
    writeFileSync(manifestFile, JSON.stringify({ ...m, database: "billing" }));
    const r = await pgship(["restore", b.file, "--yes", "--drop-old"], { env });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`is a backup of database "billing" (its manifest says so), not of "${d.name}"`);
    expect(r.stderr).toContain(`names database "billing", but the archive was dumped from "${d.name}"`);
    // The unedited manifest: not a word.
    writeFileSync(manifestFile, JSON.stringify(m));
    const quiet = await pgship(["restore", b.file, "--yes", "--drop-old"], { env });
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).toBe("");
  });

  test("a database that does not exist yet is created from the backup", async () => {
    const d = await db();
    await seed(d, 20);
    const before = await fingerprint(d.url, APP_DATA);
    const b = json((await pgship(["backup", "--dir", tempDir(), "--json"], { env: { DATABASE_URL: d.url } })).stdout);
    const c = await cluster();
    const fresh = `${d.name}_new`;
    const r = await pgship(["restore", b.file, "--json"], { env: { DATABASE_URL: c.url(fresh) } });
    expect(r.code).toBe(0);
    expect(json(r.stdout)).toMatchObject({ mode: "create", database: fresh });
    expect(await fingerprint(c.url(fresh), APP_DATA)).toEqual(before);
  });
});

describeWithPgDump("in place, for a role without CREATEDB", () => {
  test("replaces everything in one transaction; a failure part-way changes nothing", async () => {
    const c = await cluster();
    const admin = postgres(c.url("postgres"), { max: 1, onnotice: () => {} });
    const role = `app_${process.pid}`;
    const name = `inplace_${process.pid}`;
    await admin.unsafe(`create role ${role} login password 'app-pw' nocreatedb`);
    await admin.unsafe(`create database ${name} owner ${role}`);
    const url = c.url(name, role, "app-pw");
    const d: TestDb = { name, url, sql: postgres(url, { max: 1, onnotice: () => {} }) };
    dbs.push(d);
    await seed(d, 60);
    const env = { DATABASE_URL: url };
    const before = await fingerprint(url, APP_DATA);
    const b = json((await pgship(["backup", "--dir", tempDir(), "--json"], { env })).stdout);

    await d.sql.unsafe("delete from users where id > 5; create table later_migration (id int); create schema extra; create table extra.t (x int)");
    const r = await pgship(["restore", b.file, "--yes", "--json"], { env });
    expect(r.stderr).toContain("cannot create databases: restoring in place, in one transaction");
    expect(r.code).toBe(0);
    expect(json(r.stdout)).toMatchObject({ mode: "in-place", kept: null, wayBack: { kind: "safety-backup" } });
    // Exactly the backup: the table and schema made after it are gone.
    expect(await fingerprint(url, APP_DATA)).toEqual(before);
    expect(await d.sql`select 1 from pg_namespace where nspname = 'extra'`).toHaveLength(0);

    // A schema the role does not own cannot be dropped: the restore fails part-way and everything rolls back.
    await d.sql`delete from api_keys`;
    await admin.end();
    const su = postgres(c.url(name), { max: 1, onnotice: () => {} });
    await su.unsafe("create schema zz_admin; create table zz_admin.audit (id int)");
    await su.end();
    const changed = await fingerprint(c.url(name), APP_DATA);
    // The safety backup cannot read that schema either: refused before anything changes.
    const noSafety = await pgship(["restore", b.file, "--yes"], { env });
    expect(noSafety.code).toBe(1);
    expect(noSafety.stderr).toContain(`cannot take the safety backup of "${name}"`);
    expect(noSafety.stderr).toContain("--no-safety-backup");
    expect(await fingerprint(c.url(name), APP_DATA)).toEqual(changed);
    const fail = await pgship(["restore", b.file, "--yes", "--no-safety-backup"], { env });
    expect(fail.code).toBe(1);
    expect(fail.stderr).toContain("restore failed, nothing was changed");
    expect(fail.stderr).toContain("must be owner");
    expect(await fingerprint(c.url(name), APP_DATA)).toEqual(changed);
  });
});

describeWithPgDump("in place, where public belongs to the bootstrap superuser (PostgreSQL 13 and 14)", () => {
  test("the role's objects in public are dropped, not the schema it may not drop", async () => {
    const c = await cluster();
    const admin = postgres(c.url("postgres"), { max: 1, onnotice: () => {} });
    const role = `app14_${process.pid}`;
    const name = `inplace14_${process.pid}`;
    await admin.unsafe(`create role ${role} login password 'app-pw' nocreatedb`);
    await admin.unsafe(`create database ${name} owner ${role}`);
    await admin.end();
    // What initdb gives before 15 (and what this server has on 13 and 14): public owned by
    // the bootstrap superuser, CREATE granted to everyone.
    const su = postgres(c.url(name), { max: 1, onnotice: () => {} });
    await su.unsafe("alter schema public owner to postgres; grant all on schema public to public");
    await su.end();
    const url = c.url(name, role, "app-pw");
    const d: TestDb = { name, url, sql: postgres(url, { max: 1, onnotice: () => {} }) };
    dbs.push(d);
    await seed(d, 30);
    const env = { DATABASE_URL: url };
    const before = await fingerprint(url, APP_DATA);
    const b = json((await pgship(["backup", "--dir", tempDir(), "--json"], { env })).stdout);

    await d.sql.unsafe("delete from users where id > 5; create table later_migration (id int); create view later_view as select 1 as x");
    const r = await pgship(["restore", b.file, "--yes", "--json"], { env });
    expect(r.stderr).not.toContain("error");
    expect(r.code).toBe(0);
    expect(json(r.stdout)).toMatchObject({ mode: "in-place" });
    expect(await fingerprint(url, APP_DATA)).toEqual(before);
    expect(await d.sql`select 1 from pg_class where relname in ('later_migration', 'later_view')`).toHaveLength(0);
    expect((await d.sql`select pg_get_userbyid(nspowner) as owner from pg_namespace where nspname = 'public'`)[0]!.owner).toBe("postgres");
  });
});

describeWithPgDump("schema version after a restore", () => {
  test("an older backup is reported as behind; --update brings it to this binary's head", async () => {
    const d = await db();
    const env = { DATABASE_URL: d.url };
    expect((await pgship(["up", "--to", "20250305093000"], { env })).code).toBe(0);
    const b = json((await pgship(["backup", "--dir", tempDir(), "--json"], { env })).stdout);
    expect(b.schemaVersion).toBe("20250305093000");
    expect((await pgship(["up"], { env })).code).toBe(0);

    const r = await pgship(["restore", b.file, "--yes", "--json"], { env });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("the backup is at schema 20250305093000, 3 migrations behind this binary (20250415120000): run 'pgship update'");
    expect(json(r.stdout).after).toMatchObject({ schemaVersion: "20250305093000", pending: 3, update: null });

    const u = await pgship(["restore", b.file, "--yes", "--update", "--drop-old", "--json"], { env });
    expect(u.stderr).not.toContain("error");
    expect(u.code).toBe(0);
    expect(json(u.stdout).after).toMatchObject({ schemaVersion: "20250415120000", pending: 0, update: { action: "update", to: "20250415120000" } });
    const s = json((await pgship(["status", "--json"], { env })).stdout);
    expect(s.counts.pending).toBe(0);
    await pgship(["restore", "--drop-old", "--yes"], { env });
  });
});

describeWithPgDump("ownership and privileges", () => {
  test("by default the restoring role owns everything and no grants are replayed; --keep-owner --keep-acl keep them", async () => {
    const d = await db();
    const c = await cluster();
    const owner = `own_${process.pid}`;
    const reader = `rd_${process.pid}`;
    await d.sql.unsafe(`create role ${owner}; create role ${reader}`);
    await d.sql.unsafe(`create table ledger (id int primary key, amount numeric); insert into ledger values (1, 9.99);
                        alter table ledger owner to ${owner}; grant select on ledger to ${reader}`);
    const b = json((await pgship(["backup", "--dir", tempDir(), "--json"], { env: { DATABASE_URL: d.url } })).stdout);
    const inspect = async (database: string) => {
      const sql = postgres(c.url(database), { max: 1, onnotice: () => {} });
      try {
        const [t] = await sql`select tableowner, has_table_privilege(${reader}, 'public.ledger', 'select') as readable from pg_tables where tablename = 'ledger'`;
        return t;
      } finally {
        await sql.end();
      }
    };
    expect(await inspect(d.name)).toEqual({ tableowner: owner, readable: true });
    const plain = `${d.name}_plain`;
    expect((await pgship(["restore", b.file, "--into", plain], { env: { DATABASE_URL: d.url } })).code).toBe(0);
    expect(await inspect(plain)).toEqual({ tableowner: "postgres", readable: false });
    const kept = `${d.name}_kept`;
    expect((await pgship(["restore", b.file, "--into", kept, "--keep-owner", "--keep-acl"], { env: { DATABASE_URL: d.url } })).code).toBe(0);
    expect(await inspect(kept)).toEqual({ tableowner: owner, readable: true });
  });
});

