// `backups` lists a directory (what each backup is, whether it is sound), and
// `backups verify` checks sha256, decrypts, and test-restores into a scratch
// database; retention keeps the right set, only after a verified backup.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { createDb, pgship, tempDir, type TestDb, describeWithPgDump } from "../harness/env.ts";
import { ageKeyPair, databaseNames, filesIn, flipByte, manifestOf, seed } from "../harness/backup.ts";

let d: TestDb;
const env = () => ({ DATABASE_URL: d.url });
const json = (t: string) => JSON.parse(t);
beforeAll(async () => {
  d = await createDb("list");
  await seed(d, 30);
});
afterAll(async () => d?.sql.end());

describeWithPgDump("backups", () => {
  test("lists what a directory holds: good, encrypted, broken, foreign and interrupted files", async () => {
    const dir = tempDir();
    const { identityFile, recipient } = await ageKeyPair();
    const plain = json((await pgship(["backup", "--dir", dir, "--json"], { env: env() })).stdout);
    const enc = json((await pgship(["backup", "--dir", dir, "--encrypt-to", recipient, "--json"], { env: env() })).stdout);
    // A damaged copy, an archive without manifest, and a leftover of an interrupted backup.
    const broken = join(dir, "list-20000101T000000Z.dump");
    copyFileSync(plain.file, broken);
    writeFileSync(join(dir, "list-20000101T000000Z.manifest.json"), JSON.stringify({ ...manifestOf(plain.file), archive: { ...manifestOf(plain.file).archive, file: basename(broken), bytes: 1, plainBytes: 1 } }));
    writeFileSync(join(dir, "someone-else.dump"), "not ours");
    writeFileSync(join(dir, `.${basename(plain.file)}.partial-123-abcd`), "half");

    const r = await pgship(["backups", "--dir", dir, "--json"]);
    expect(r.code).toBe(0);
    const list = json(r.stdout);
    const byFile = Object.fromEntries(list.backups.map((b: { file: string }) => [basename(b.file), b]));
    expect(byFile[basename(plain.file)]).toMatchObject({ status: "ok", encrypted: false, schemaVersion: "20250415120000", database: d.name, verified: { how: "readback" } });
    expect(byFile[basename(enc.file)]).toMatchObject({ status: "ok", encrypted: true, encryption: { mode: "recipients", recipients: [recipient] } });
    expect(byFile["list-20000101T000000Z.dump"]).toMatchObject({ status: "broken" });
    expect(byFile["list-20000101T000000Z.dump"].problems[0]).toContain("the manifest says 1");
    expect(byFile["someone-else.dump"]).toMatchObject({ status: "no-manifest" });
    expect(list.partials.map((p: string) => basename(p))).toEqual([`.${basename(plain.file)}.partial-123-abcd`]);

    const text = await pgship(["backups", "--dir", dir]);
    expect(text.stdout).toContain("CREATED (UTC)");
    expect(text.stdout).toMatch(/ok\s+readback \d{4}-\d\d-\d\d\s+list_/);
    expect(text.stdout).toContain("4 backups, 2 ok, 2 not restorable as they are.");
    expect(text.stdout).toContain("1 partial file left by interrupted backups (safe to delete)");

    // verify: checksum, decrypt, test restore into a scratch database that is dropped afterwards.
    const names = await databaseNames();
    const v = await pgship(["backups", "verify", enc.file, "--identity", identityFile, "--json"], { env: env() });
    expect(v.stderr).toBe("");
    expect(v.code).toBe(0);
    expect(json(v.stdout)).toMatchObject({ ok: true, how: "test-restore", schemaVersion: "20250415120000" });
    expect(json(v.stdout).detail).toMatch(/test-restored into a scratch database .*: \d+ tables, schema 20250415120000/);
    expect(await databaseNames()).toEqual(names);
    expect(manifestOf(enc.file).verified.at(-1).how).toBe("test-restore");
    const after = json((await pgship(["backups", "--dir", dir, "--json"])).stdout);
    expect(after.backups.find((b: { file: string }) => b.file === enc.file).verified.how).toBe("test-restore");

    const noDb = await pgship(["backups", "verify", plain.file, "--no-restore", "--json"]);
    expect(noDb.code).toBe(0);
    expect(json(noDb.stdout).how).toBe("readback");

    const damaged = join(tempDir(), basename(plain.file));
    copyFileSync(plain.file, damaged);
    copyFileSync(plain.manifest, join(damaged, "..", basename(plain.manifest)));
    flipByte(damaged, readFileSync(damaged).length - 10);
    const bad = await pgship(["backups", "verify", damaged], { env: env() });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/does not match the checksum|does not match its manifest|restore failed/);
    expect(await databaseNames()).toEqual(names);

    expect((await pgship(["backups", "verify"])).code).toBe(2);
    expect((await pgship(["backups", "frobnicate"])).code).toBe(2);
    expect((await pgship(["backups", "--dir", join(dir, "missing")])).stderr).toContain("does not exist");
  });
});

describeWithPgDump("retention", () => {
  /** Copies of one real backup, dated over the past months, as backups written then would be. */
  function history(dir: string, source: { file: string }, dates: string[]): string[] {
    const m = manifestOf(source.file);
    return dates.map((iso) => {
      const stem = `${d.name}-${iso.replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z")}`;
      copyFileSync(source.file, join(dir, `${stem}.dump`));
      writeFileSync(join(dir, `${stem}.manifest.json`), JSON.stringify({ ...m, createdAt: iso, archive: { ...m.archive, file: `${stem}.dump` } }));
      return `${stem}.dump`;
    });
  }

  test("keeps the right set after a verified backup; --dry-run only shows it; a failed backup deletes nothing", async () => {
    const dir = tempDir();
    const first = json((await pgship(["backup", "--dir", dir, "--json"], { env: env() })).stdout);
    // Fixed dates in the past (this test assumes the clock is past July 2025).
    const dates = ["2025-06-30", "2025-06-29", "2025-06-28", "2025-06-20", "2025-06-10", "2025-05-31", "2025-05-15", "2025-04-30", "2025-03-01", "2024-12-31"].map((day) => `${day}T02:00:00.000Z`);
    const old = history(dir, first, dates);
    // Another database's backups and a broken one are never candidates.
    const foreignDir = tempDir();
    const other = json((await pgship(["backup", "--dir", foreignDir, "--json"], { env: env() })).stdout);
    const m = manifestOf(other.file);
    copyFileSync(other.file, join(dir, "otherdb-20200101T000000Z.dump"));
    writeFileSync(join(dir, "otherdb-20200101T000000Z.manifest.json"), JSON.stringify({ ...m, database: "otherdb", createdAt: "2020-01-01T00:00:00.000Z", archive: { ...m.archive, file: "otherdb-20200101T000000Z.dump" } }));
    writeFileSync(join(dir, "orphan-20200101T000000Z.dump"), "no manifest");
    const policy = ["--keep-last", "2", "--keep-daily", "3", "--keep-weekly", "2", "--keep-monthly", "3"];

    const filesBefore = filesIn(dir);
    const dry = await pgship(["backup", "--dir", dir, ...policy, "--dry-run", "--json"], { env: env() });
    expect(dry.code).toBe(0);
    const planned = json(dry.stdout).retention;
    expect(filesIn(dir)).toEqual(filesBefore);
    expect(planned.dryRun).toBe(true);

    const r = await pgship(["backup", "--dir", dir, ...policy, "--json"], { env: env() });
    expect(r.code).toBe(0);
    const out = json(r.stdout);
    const ret = out.retention;
    const kept = ret.kept.map((k: { file: string }) => k.file).sort();
    const deleted = ret.deleted.map((k: { file: string }) => k.file).sort();
    // Newest first: the new backup, `first` (both today), then 06-30 (a Monday), 06-29, 06-28 … 2024-12-31.
    // last 2: new, first. daily 3: new, 06-30, 06-29. weekly 2: new, 06-30. monthly 3: new, 06-30, 05-31.
    expect(kept).toEqual([basename(out.file), basename(first.file), old[0], old[1], old[5]].sort());
    expect(deleted).toEqual([old[2], old[3], old[4], old[6], old[7], old[8], old[9]].sort());
    expect(ret.kept.find((k: { file: string }) => k.file === old[5]).reasons).toEqual(["monthly 2025-05"]);
    // The dry run predicted exactly this (with the new backup standing in for the one written now).
    expect(planned.deleted.map((k: { file: string }) => k.file).sort()).toEqual(deleted);
    for (const f of deleted) {
      expect(filesIn(dir)).not.toContain(f);
      expect(filesIn(dir)).not.toContain(f.replace(/\.dump$/, ".manifest.json"));
    }
    for (const f of kept) expect(filesIn(dir)).toContain(f);
    expect(filesIn(dir)).toContain("otherdb-20200101T000000Z.dump");
    expect(filesIn(dir)).toContain("orphan-20200101T000000Z.dump");
    expect(ret.ignored.map((i: { file: string }) => i.file).sort()).toEqual(["orphan-20200101T000000Z.dump", "otherdb-20200101T000000Z.dump"]);

    // A backup that fails runs no retention at all.
    const remaining = filesIn(dir);
    const fail = await pgship(["backup", "--dir", dir, "--keep-last", "1", "--pg-bin", tempDir()], { env: env() });
    expect(fail.code).toBe(1);
    expect(filesIn(dir)).toEqual(remaining);

    expect((await pgship(["backup", "--dir", dir, "--keep-last", "0"], { env: env() })).code).toBe(2);
    expect((await pgship(["backup", "--dir", dir, "--dry-run"], { env: env() })).code).toBe(2);
    expect((await pgship(["backup"], { env: env() })).stderr).toContain("--dir is required");
  });
});
