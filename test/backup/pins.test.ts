// Pinned backups: retention never deletes one; `up --backup` / `update --backup`
// pin the backup taken before the update and release the previous pre-update
// pin only once the new update succeeded; `backups pin|unpin FILE`.

import { afterAll, expect, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { createDb, describeWithPgDump, migrationsDir, noStackTrace, pgship, tempDir, type TestDb } from "../harness/env.ts";
import { manifestOf, seed } from "../harness/backup.ts";

const dbs: TestDb[] = [];
afterAll(async () => {
  for (const d of dbs) await d.sql.end();
});
const json = (t: string) => JSON.parse(t);

describeWithPgDump("pinned backups", () => {
  test("retention keeps a pinned backup whatever --keep-* says; unpinned, it goes", async () => {
    const d = await createDb("pins");
    dbs.push(d);
    await seed(d, 10);
    const env = { DATABASE_URL: d.url };
    const dir = tempDir();
    const first = json((await pgship(["backup", "--dir", dir, "--json"], { env })).stdout);
    expect(first.pinned).toBeNull();
    const pin = await pgship(["backups", "pin", first.file, "--json"]);
    expect(pin.code).toBe(0);
    expect(json(pin.stdout)).toMatchObject({ ok: true, file: first.file, manifest: first.manifest, pinned: { reason: "manual" }, changed: true });
    expect(manifestOf(first.file).pinned.reason).toBe("manual");
    const again = await pgship(["backups", "pin", first.manifest]);
    expect(again.stdout).toContain(`${basename(first.file)}: already pinned`);

    await pgship(["backup", "--dir", dir], { env });
    const third = await pgship(["backup", "--dir", dir, "--keep-last", "1", "--json"], { env });
    expect(third.code).toBe(0);
    const r = json(third.stdout).retention;
    expect(r.deleted).toHaveLength(1);
    expect(r.deleted[0].file).not.toBe(basename(first.file));
    expect(r.kept.find((k: { file: string }) => k.file === basename(first.file)).reasons).toEqual(["pinned (manual)"]);
    expect(existsSync(first.file)).toBe(true);

    const list = await pgship(["backups", "--dir", dir, "--json"]);
    const rows = json(list.stdout).backups;
    expect(rows.map((b: { pinned: unknown }) => b.pinned && (b.pinned as { reason: string }).reason)).toEqual(["manual", null]);
    const text = await pgship(["backups", "--dir", dir]);
    expect(text.stdout).toMatch(/PINNED/);
    expect(text.stdout).toMatch(new RegExp(`${basename(first.file).replace(/\./g, "\\.")}\\s+manual`));

    const unpin = await pgship(["backups", "unpin", first.file]);
    expect(unpin.code).toBe(0);
    expect(unpin.stdout).toContain("unpinned; retention may delete it again");
    expect(manifestOf(first.file).pinned).toBeUndefined();
    json((await pgship(["backup", "--dir", dir, "--keep-last", "1", "--json"], { env })).stdout);
    expect(existsSync(first.file)).toBe(false);
  });

  test("update --backup pins its backup; a failed update keeps the earlier pin; the next successful one releases both", async () => {
    const d = await createDb("pins");
    dbs.push(d);
    const env = { DATABASE_URL: d.url };
    const dir = tempDir();
    expect((await pgship(["install", "--to", "20250305093000"], { env })).code).toBe(0);
    // A manual pin in the same directory is never released by an update.
    const manual = json((await pgship(["backup", "--dir", dir, "--json"], { env })).stdout);
    expect((await pgship(["backups", "pin", manual.file])).code).toBe(0);

    const a = await pgship(["update", "--to", "20250318160000", "--backup", dir, "--json"], { env });
    expect(a.code).toBe(0);
    const first = json(a.stdout).backup;
    expect(first).toMatchObject({ pinned: { reason: "pre-update" }, unpinned: [] });
    expect(manifestOf(first.file).pinned.reason).toBe("pre-update");

    // The next update fails: its own backup is pinned, and so is the earlier one still.
    const bad = migrationsDir({ "20250501000000_broken.sql": "-- migrate:up\nselect 1 / 0;\n" }, true);
    const failed = await pgship(["up", "--backup", dir, "--migrations-dir", bad, "--json"], { env });
    expect(failed.code).toBe(1);
    expect(json(failed.stdout).error.code).toBe("migration_failed");
    const afterFailure = json((await pgship(["backups", "--dir", dir, "--json"])).stdout).backups;
    expect(afterFailure.map((b: { pinned: { reason: string } | null }) => b.pinned?.reason ?? null)).toEqual(["manual", "pre-update", "pre-update"]);
    const failedBackup = afterFailure[2].file as string;

    // A successful update: its backup is the pre-update pin now; the two earlier ones are released.
    const good = migrationsDir({ "20250502000000_notes.sql": "-- migrate:up\ncreate table notes (id int);\n-- migrate:down\ndrop table notes;\n" }, true);
    const ok = await pgship(["up", "--backup", dir, "--migrations-dir", good, "--json"], { env });
    expect(ok.code).toBe(0);
    const last = json(ok.stdout).backup;
    expect(last.pinned.reason).toBe("pre-update");
    expect([...last.unpinned].sort()).toEqual([basename(first.file), basename(failedBackup)].sort());
    const rows = json((await pgship(["backups", "--dir", dir, "--json"])).stdout).backups;
    expect(Object.fromEntries(rows.map((b: { file: string; pinned: { reason: string } | null }) => [basename(b.file), b.pinned?.reason ?? null]))).toEqual({
      [basename(manual.file)]: "manual",
      [basename(first.file)]: null,
      [basename(failedBackup)]: null,
      [basename(last.file)]: "pre-update",
    });
  });
});

test("pin / unpin: a missing file, a file that is not a backup, no FILE: one message and an exit code", async () => {
  const dir = tempDir();
  const stray = join(dir, "notes.dump");
  writeFileSync(stray, "not a backup");
  const cases: [string[], number, string][] = [
    [["backups", "pin", join(dir, "nope.dump")], 1, "backup_missing"],
    [["backups", "unpin", dir], 1, "backup_missing"],
    [["backups", "pin", stray], 1, "backup_no_manifest"],
    [["backups", "unpin"], 2, "usage"],
  ];
  for (const [args, code, errorCode] of cases) {
    const r = await pgship([...args, "--json"]);
    expect({ args, code: r.code }).toEqual({ args, code });
    expect(json(r.stdout).error.code).toBe(errorCode);
    expect(r.stderr.split("\n").filter((l) => l.startsWith("error:"))).toHaveLength(1);
    expect(noStackTrace(r.stderr)).toBe(true);
  }
  const r = await pgship(["backups", "pin", stray]);
  expect(r.stderr).toContain(`error: cannot pin ${stray}: it has no manifest`);
});
