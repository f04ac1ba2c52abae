// restore refuses damaged, foreign and too-new files before touching
// anything: the live database keeps its data and no database is created.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { createHash } from "node:crypto";
import { createDb, noStackTrace, pgship, tempDir, type TestDb, describeWithPgDump, PG_DUMP_USABLE } from "../harness/env.ts";
import { ageKeyPair, databaseNames, fingerprint, flipByte, manifestOf, seed, truncate, type Fingerprint } from "../harness/backup.ts";

let d: TestDb;
let plainBackup: string;
let encBackup: string;
let identity: string;
let live: Fingerprint;
let names: string[];
const env = () => ({ DATABASE_URL: d.url });

beforeAll(async () => {
  if (!PG_DUMP_USABLE) return; // every test here is skipped
  d = await createDb("ref");
  await seed(d, 100);
  const dir = tempDir();
  const keys = await ageKeyPair();
  identity = keys.identityFile;
  plainBackup = JSON.parse((await pgship(["backup", "--dir", dir, "--json"], { env: env() })).stdout).file;
  encBackup = JSON.parse((await pgship(["backup", "--dir", dir, "--encrypt-to", keys.recipient, "--json"], { env: env() })).stdout).file;
  await d.sql`update users set display_name = 'after the backup'`;
  live = await fingerprint(d.url);
  names = await databaseNames();
});
afterAll(async () => d?.sql.end());

/** A copy of a backup (archive + manifest) in a new directory, to damage. */
function copyOf(archive: string): string {
  const dir = tempDir();
  const to = join(dir, basename(archive));
  copyFileSync(archive, to);
  const m = archive.replace(/\.dump(\.age)?$/, ".manifest.json");
  copyFileSync(m, join(dir, basename(m)));
  return to;
}

/** Rewrites a copy's manifest so that it matches the (changed) archive: only the content is wrong then. */
function resign(archive: string): void {
  const m = manifestOf(archive);
  const bytes = readFileSync(archive);
  const hash = createHash("sha256").update(bytes).digest("hex");
  m.archive = { ...m.archive, bytes: bytes.length, sha256: hash, plainBytes: bytes.length, plainSha256: hash };
  writeFileSync(archive.replace(/\.dump(\.age)?$/, ".manifest.json"), JSON.stringify(m));
}

async function expectRefused(args: string[], code: number, ...messages: (string | RegExp)[]) {
  const r = await pgship(["restore", ...args, "--yes"], { env: env() });
  expect(r.code).toBe(code);
  for (const m of messages) {
    if (typeof m === "string") expect(r.stderr).toContain(m);
    else expect(r.stderr).toMatch(m);
  }
  expect(noStackTrace(r.stderr)).toBe(true);
  expect(await fingerprint(d.url)).toEqual(live);
  expect(await databaseNames()).toEqual(names);
}

describeWithPgDump("restore refuses, and the live database is untouched", () => {
  test("a truncated archive", async () => {
    const f = copyOf(plainBackup);
    truncate(f, Math.floor(readFileSync(f).length / 2));
    await expectRefused([f], 1, "cannot be restored", "the manifest says", "truncated");
  });

  test("a truncated archive whose manifest was rewritten to match (pg_restore finds the end missing)", async () => {
    const f = copyOf(plainBackup);
    truncate(f, readFileSync(f).length - 100);
    resign(f);
    await expectRefused([f], 1, /does not read back|restore failed/);
  });

  test("a pg_dump -Fc archive missing its last 5,000 bytes (no manifest): the dry run reads it to the end and refuses it", async () => {
    const f = join(tempDir(), "t.dump");
    copyFileSync(plainBackup, f);
    expect(readFileSync(f).length).toBeGreaterThan(20_000);
    // Whole, it passes: the check is not a refusal of every archive without a manifest.
    const whole = await pgship(["restore", f, "--no-manifest", "--dry-run"], { env: env() });
    expect(whole.stderr).toBe("");
    expect(whole.code).toBe(0);
    expect(whole.stdout).toContain("reads it to the end");
    truncate(f, readFileSync(f).length - 5000);
    // pg_restore --list reads only the table of contents, which is whole.
    const dry = await pgship(["restore", f, "--no-manifest", "--dry-run"], { env: env() });
    expect(dry.code).toBe(1);
    expect(dry.stderr).toContain("t.dump is truncated or damaged: pg_restore cannot read it to the end");
    expect(dry.stdout).not.toContain("reads it");
    expect(noStackTrace(dry.stderr)).toBe(true);
    await expectRefused([f, "--no-manifest"], 1, "is truncated or damaged");
    const verify = await pgship(["backups", "verify", f, "--no-manifest", "--no-restore"], { env: env() });
    expect(verify.code).toBe(1);
    expect(verify.stderr).toContain("is truncated or damaged");
    const verifyRestore = await pgship(["backups", "verify", f, "--no-manifest"], { env: env() });
    expect(verifyRestore.code).toBe(1);
    expect(await databaseNames()).toEqual(names);
  });

  test("a bit flipped in the middle of an archive", async () => {
    const f = copyOf(plainBackup);
    flipByte(f, Math.floor(readFileSync(f).length / 2));
    await expectRefused([f], 1, "does not match its manifest", "sha256");
  });

  test("a bit flipped in an encrypted archive (caught by the checksum, and by age's authentication)", async () => {
    const f = copyOf(encBackup);
    flipByte(f, readFileSync(f).length - 500);
    await expectRefused([f, "--identity", identity], 1, /does not match its manifest|damaged/);
    resign(f);
    await expectRefused([f, "--identity", identity], 1, "is damaged", "does not decrypt");
  });

  test("an encrypted archive cut short", async () => {
    const f = copyOf(encBackup);
    truncate(f, readFileSync(f).length - 1000);
    resign(f);
    await expectRefused([f, "--identity", identity], 1, "is damaged");
  });

  test("the wrong key", async () => {
    await expectRefused([encBackup, "--identity", (await ageKeyPair()).identityFile], 1, "none of the given keys can decrypt it");
  });

  test("a foreign file: no manifest", async () => {
    const f = join(tempDir(), "notes.dump");
    writeFileSync(f, "--\n-- PostgreSQL database dump\n--\nCREATE TABLE x (id int);\n");
    await expectRefused([f], 1, "has no manifest", "--no-manifest");
    await expectRefused([f, "--no-manifest"], 1, "is not a pg_dump archive", "plain SQL script");
    const random = join(tempDir(), "random.bin");
    writeFileSync(random, new Uint8Array(4096).map((_, i) => (i * 7919) % 251));
    await expectRefused([random, "--no-manifest"], 1, "not a pg_dump custom-format archive");
  });

  test("a foreign file: another app's backup, a manifest that is not ours, a missing archive", async () => {
    const other = copyOf(plainBackup);
    const m = manifestOf(other);
    writeFileSync(other.replace(/\.dump$/, ".manifest.json"), JSON.stringify({ ...m, app: "otherapp" }));
    await expectRefused([other], 1, "is a backup of otherapp's database", "--other-app");

    const garbled = copyOf(plainBackup);
    writeFileSync(garbled.replace(/\.dump$/, ".manifest.json"), '{"format": "something-else"}');
    await expectRefused([garbled], 1, "cannot be restored", "not a pgship backup manifest");

    const orphan = copyOf(plainBackup);
    const manifest = orphan.replace(/\.dump$/, ".manifest.json");
    writeFileSync(orphan + ".moved", readFileSync(orphan));
    truncate(orphan, 0);
    await expectRefused([manifest], 1, "cannot be restored");
  });

  test("an archive newer than the pg_restore available: names the version needed", async () => {
    // The header of a pg_dump 17 archive: format 1.16, whose compression is one byte (1 = gzip)
    // where 1.14 has a 5-byte integer, and "17.x" as the pg_dump version.
    const f = copyOf(plainBackup);
    const old = readFileSync(f);
    expect([old[5], old[6]]).toEqual([1, 14]);
    const b = Buffer.concat([old.subarray(0, 11), Buffer.from([1]), old.subarray(16)]);
    b[6] = 16;
    // The header ends with the server's version, then pg_dump's ("15.14" or "15.14 (Debian ...)"):
    // the last version number in it is pg_dump's.
    const header = b.subarray(0, 512).toString("latin1");
    const dumpVersion = [...header.matchAll(/(?<![\d.])1\d\.\d+(?![\d.-])/g)].at(-1)!;
    b.write("17", dumpVersion.index!, "latin1");
    writeFileSync(f, b);
    resign(f);
    await expectRefused([f], 1, "archive format 1.16", /pg_restore 1[5-6]\.\d+ here reads archive formats up to 1\.1[45]/, "postgresql-client-17");
  });

  test("a missing file and a directory are usage-level mistakes with a hint", async () => {
    await expectRefused([join(tempDir(), "nope.dump")], 1, "does not exist", "pgship backups --dir");
    await expectRefused([tempDir()], 1, "is a directory");
  });
});
