// Every restore leaves a way back, says so, and `restore --undo` takes it: the
// swap keeps the old database (swapped back in), the in-place restore of a role
// without CREATEDB takes a verified safety backup first (restored in place).
// Real binary, real cluster, real pg_dump / pg_restore.

import { afterAll, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import postgres from "postgres";
import { cluster, createDb, pgship, tempDir, type TestDb, describeWithPgDump } from "../harness/env.ts";
import { ageKeyPair, APP_DATA, databaseNames, fingerprint, manifestOf, seed } from "../harness/backup.ts";

const dbs: TestDb[] = [];
afterAll(async () => {
  for (const d of dbs) await d.sql.end();
});
const json = (text: string) => JSON.parse(text);
const lastHistory = async (d: TestDb) => (await d.sql`select command, args, result from pgship.history order by id desc limit 1`)[0]!;

describeWithPgDump("restore --undo", () => {
  test("after a swap: the kept database is named, --undo swaps it back (recorded), again goes forward; once dropped, nothing to undo", async () => {
    const d = await createDb("undo");
    dbs.push(d);
    await seed(d, 40);
    const env = { DATABASE_URL: d.url };
    const b = json((await pgship(["backup", "--dir", tempDir(), "--json"], { env })).stdout);
    const atBackup = await fingerprint(d.url, APP_DATA);
    await d.sql.unsafe("delete from users where id > 10; create table made_later (id int)");
    const beforeRestore = await fingerprint(d.url, APP_DATA);

    // The dry run says what will be kept, before anything is touched.
    const dry = json((await pgship(["restore", b.file, "--dry-run", "--json"], { env })).stdout);
    expect(dry.restorePlan).toMatchObject({ mode: "swap" });
    expect(dry.restorePlan.keeps).toMatch(new RegExp(`^${d.name}_before_restore_`));

    const text = await pgship(["restore", b.file, "--yes"], { env });
    expect(text.code).toBe(0);
    const kept = /kept as "([^"]+)"/.exec(text.stdout)![1]!;
    expect(text.stdout).toContain("go back with 'pgship restore --undo'");
    expect(await fingerprint(d.url, APP_DATA)).toEqual(atBackup);
    expect((await lastHistory(d)).args).toContain(`(kept as "${kept}")`);

    const undoDry = await pgship(["restore", "--undo", "--dry-run"], { env });
    expect(undoDry.code).toBe(0);
    expect(undoDry.stdout).toContain(`Swap "${kept}"`);
    expect(await fingerprint(d.url, APP_DATA)).toEqual(atBackup);
    const asked = await pgship(["restore", "--undo"], { env });
    expect(asked.code).toBe(2);

    const u = await pgship(["restore", "--undo", "--yes", "--json"], { env });
    expect(u.stderr).toBe("");
    expect(u.code).toBe(0);
    const res = json(u.stdout);
    expect(res).toMatchObject({ ok: true, undo: true, mode: "swap", database: d.name, restored: kept, wayBack: { kind: "kept-database" } });
    // The data as it was just before the restore, and the undo is on record in it.
    expect(await fingerprint(d.url, APP_DATA)).toEqual(beforeRestore);
    const h = await lastHistory(d);
    expect(h).toMatchObject({ command: "restore", result: "ok" });
    expect(h.args).toContain(`--undo: swapped back "${kept}"`);
    const names = await databaseNames();
    expect(names).not.toContain(kept);
    expect(names).toContain(res.kept);

    // --undo again goes forward again: the restored data is back.
    const redo = await pgship(["restore", "--undo", "--yes"], { env });
    expect(redo.code).toBe(0);
    expect(await fingerprint(d.url, APP_DATA)).toEqual(atBackup);

    // Once the kept databases are dropped there is nothing to go back to.
    expect((await pgship(["restore", "--drop-old", "--yes"], { env })).code).toBe(0);
    expect((await databaseNames()).filter((n) => n.startsWith(`${d.name}_`))).toEqual([]);
    const none = await pgship(["restore", "--undo", "--yes", "--json"], { env });
    expect(none.code).toBe(1);
    expect(json(none.stdout).error.code).toBe("nothing_to_undo");
    const noneText = await pgship(["restore", "--undo", "--yes"], { env });
    expect(noneText.stderr).toContain("nothing to undo");
    expect(noneText.stderr).toContain("is gone");
    expect(await fingerprint(d.url, APP_DATA)).toEqual(atBackup);
  }, 90_000);

  test("in place (no CREATEDB): a verified safety backup is taken first, named, and --undo restores it", async () => {
    const c = await cluster();
    const admin = postgres(c.url("postgres"), { max: 1, onnotice: () => {} });
    const role = `undo_app_${process.pid}`;
    const name = `undo_inplace_${process.pid}`;
    await admin.unsafe(`create role ${role} login password 'app-pw' nocreatedb`);
    await admin.unsafe(`create database ${name} owner ${role}`);
    await admin.end();
    const url = c.url(name, role, "app-pw");
    const d: TestDb = { name, url, sql: postgres(url, { max: 1, onnotice: () => {} }) };
    dbs.push(d);
    await seed(d, 30);
    const env = { DATABASE_URL: url };
    const b = json((await pgship(["backup", "--dir", tempDir(), "--json"], { env })).stdout);
    const atBackup = await fingerprint(url, APP_DATA);
    await d.sql.unsafe("delete from instances where id % 3 = 0; create table made_later (id int); insert into made_later values (1)");
    const beforeRestore = await fingerprint(url, APP_DATA);
    const safetyDir = join(tempDir(), "safety");

    const dry = json((await pgship(["restore", b.file, "--dry-run", "--safety-dir", safetyDir, "--json"], { env })).stdout);
    expect(dry.restorePlan).toEqual({ mode: "in-place", safetyBackup: safetyDir });
    expect(dry.plan).toContain(`safety backup of "${name}" is written to ${safetyDir}`);
    expect(existsSync(safetyDir)).toBe(false);

    const r = await pgship(["restore", b.file, "--yes", "--safety-dir", safetyDir, "--json"], { env });
    expect(r.code).toBe(0);
    const res = json(r.stdout);
    expect(res.mode).toBe("in-place");
    expect(dirname(res.safetyBackup)).toBe(safetyDir);
    expect(res.wayBack).toEqual({ kind: "safety-backup", file: res.safetyBackup });
    expect(existsSync(res.safetyBackup)).toBe(true);
    // Verified as any backup is: read back when written.
    expect(manifestOf(res.safetyBackup)).toMatchObject({ database: name, verified: [{ how: "readback" }] });
    expect(await fingerprint(url, APP_DATA)).toEqual(atBackup);
    expect((await lastHistory(d)).args).toContain(`(safety backup ${res.safetyBackup})`);

    const u = await pgship(["restore", "--undo", "--yes"], { env });
    expect(u.code).toBe(0);
    expect(u.stdout).toContain(`Restored ${res.safetyBackup.split("/").pop()}`);
    // The undo itself took a safety backup (of the restored state), in the same directory.
    expect(u.stdout).toContain(`safety backup of the previous contents: ${safetyDir}/`);
    expect(await fingerprint(url, APP_DATA)).toEqual(beforeRestore);
    const h = await lastHistory(d);
    expect(h.args).toContain("restore --undo: ");

    // With --no-safety-backup there is no way back, and --undo says so.
    const bare = await pgship(["restore", b.file, "--yes", "--no-safety-backup"], { env });
    expect(bare.code).toBe(0);
    expect(bare.stderr).toContain("no copy of the current database is kept (--no-safety-backup)");
    expect(bare.stdout).toContain("no copy of the previous contents was kept");
    const none = await pgship(["restore", "--undo", "--yes", "--json"], { env });
    expect(none.code).toBe(1);
    expect(json(none.stdout).error).toMatchObject({ code: "nothing_to_undo" });
    expect(json(none.stdout).error.message).toContain("kept no way back");
  }, 90_000);

  test("restoring an encrypted backup in place: the safety backup is encrypted the same way, and --undo needs the key", async () => {
    const d = await createDb("undo");
    dbs.push(d);
    await seed(d, 15);
    const env = { DATABASE_URL: d.url };
    const keys = await ageKeyPair();
    const b = json((await pgship(["backup", "--dir", tempDir(), "--encrypt-to", keys.recipient, "--json"], { env })).stdout);
    await d.sql`delete from api_keys`;
    const beforeRestore = await fingerprint(d.url, APP_DATA);
    const r = await pgship(["restore", b.file, "--in-place", "--yes", "--identity", keys.identityFile, "--json"], { env });
    expect(r.code).toBe(0);
    const safety = json(r.stdout).safetyBackup as string;
    expect(safety).toEndWith(".dump.age");
    expect(manifestOf(safety).encryption).toMatchObject({ mode: "recipients", recipients: [keys.recipient] });
    const noKey = await pgship(["restore", "--undo", "--yes"], { env });
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain("--identity");
    const u = await pgship(["restore", "--undo", "--yes", "--identity", keys.identityFile], { env });
    expect(u.code).toBe(0);
    expect(await fingerprint(d.url, APP_DATA)).toEqual(beforeRestore);
  }, 90_000);

  test("a database never restored: nothing to undo, exit 1, one clear message", async () => {
    const d = await createDb("undo");
    dbs.push(d);
    const env = { DATABASE_URL: d.url };
    expect((await pgship(["up"], { env })).code).toBe(0);
    const r = await pgship(["restore", "--undo", "--yes"], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`nothing to undo: no restore of "${d.name}" is recorded`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const j = await pgship(["restore", "--undo", "--json"], { env });
    expect(j.code).toBe(1);
    expect(json(j.stdout).error.code).toBe("nothing_to_undo");
    const usage = await pgship(["restore", "x.dump", "--undo"], { env });
    expect(usage.code).toBe(2);
  }, 30_000);
});
