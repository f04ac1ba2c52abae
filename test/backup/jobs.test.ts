// backup --jobs N / restore --jobs N with the compiled binary, a real
// PostgreSQL and the real pg_dump / pg_restore: a parallel directory-format
// dump stored as one tar stream (encrypted too), restored in parallel, in one
// stream, in place, without its manifest, and test-restored by `backups
// verify`; a custom-format backup restored with --jobs; bad values refused;
// an interrupted parallel restore leaves no temporary directory behind.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { cluster, createDb, describeWithPgDump, noStackTrace, pgship, PG_DUMP_USABLE, spawnPgship, tempDir, until, type TestDb } from "../harness/env.ts";
import { addBulk, ageKeyPair, APP_DATA, childrenNamed, databaseNames, fingerprint, flipByte, manifestOf, mode, seed, sha256 } from "../harness/backup.ts";

let d: TestDb;
let before: Awaited<ReturnType<typeof fingerprint>>;
const env = (extra: Record<string, string> = {}) => ({ DATABASE_URL: d.url, ...extra });
const json = (text: string) => JSON.parse(text);

beforeAll(async () => {
  if (!PG_DUMP_USABLE) return; // every test here is skipped
  d = await createDb("jobs");
  await seed(d, 60);
  await addBulk(d, 20_000); // a second big table, so two workers have work
  before = await fingerprint(d.url, APP_DATA);
}, 120_000);
afterAll(async () => d?.sql.end());

/** A fresh TMPDIR, so a test sees exactly the temporary directories pgship made. */
function tmp(): string {
  const t = join(tempDir(), "tmp");
  mkdirSync(t);
  return t;
}

async function copyOf(name: string) {
  return fingerprint((await cluster()).url(name), APP_DATA);
}

describeWithPgDump("backup --jobs / restore --jobs", () => {
  test("backup --jobs 2 stores a directory-format dump as one tar file; restore --jobs 2 gives back every row", async () => {
    const dir = join(tempDir(), "backups");
    const b = await pgship(["backup", "--dir", dir, "--jobs", "2", "--json"], { env: env() });
    expect(b.stderr).toBe("");
    expect(b.code).toBe(0);
    const out = json(b.stdout);
    const m = manifestOf(out.file);
    expect(m.archive.format).toBe("directory");
    expect(m.archive.sha256).toBe(sha256(out.file));
    expect(mode(out.file)).toBe(0o600);
    // A tar stream whose first member is pg_dump -Fd's table of contents; pg_dump's directory is gone.
    const head = readFileSync(out.file).subarray(0, 512);
    expect(head.subarray(257, 262).toString()).toBe("ustar");
    expect(head.subarray(0, 7).toString()).toBe("toc.dat");
    expect(readdirSync(dir).sort()).toEqual([out.file.split("/").pop(), out.manifest.split("/").pop()].sort());

    const t = tmp();
    // A dry run reads it all (unpacked, pg_restore reads every file) and changes nothing.
    const names = await databaseNames();
    const dry = await pgship(["restore", out.file, "--dry-run", "--json"], { env: env({ TMPDIR: t }) });
    expect(dry.code).toBe(0);
    expect(json(dry.stdout)).toMatchObject({ dryRun: true, checks: "passed" });
    expect(await databaseNames()).toEqual(names);
    expect(readdirSync(t)).toEqual([]);

    const copy = `${d.name}_j2`;
    const r = await pgship(["restore", out.file, "--into", copy, "--jobs", "2", "--json"], { env: env({ TMPDIR: t }) });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(await copyOf(copy)).toEqual(before);
    expect(readdirSync(t)).toEqual([]);

    // Without --jobs it is restored too (unpacked, one pg_restore); in place through one transaction as well.
    const one = `${d.name}_j1`;
    expect((await pgship(["restore", out.file, "--into", one], { env: env({ TMPDIR: t }) })).code).toBe(0);
    expect(await copyOf(one)).toEqual(before);
    await d.sql`delete from api_keys`;
    const inPlace = await pgship(["restore", out.file, "--in-place", "--no-safety-backup", "--jobs", "2", "--yes"], { env: env({ TMPDIR: t }) });
    expect(inPlace.code).toBe(0);
    expect(inPlace.stderr).toContain("--jobs 2 is ignored");
    expect(await fingerprint(d.url, APP_DATA)).toEqual(before);
    expect(readdirSync(t)).toEqual([]);

    // `backups verify` test-restores it into a scratch database.
    const v = await pgship(["backups", "verify", out.file, "--json"], { env: env() });
    expect(v.code).toBe(0);
    expect(json(v.stdout)).toMatchObject({ ok: true });

    // Without its manifest, the tar is recognised and restored.
    rmSync(out.manifest);
    const bare = `${d.name}_bare`;
    const nm = await pgship(["restore", out.file, "--no-manifest", "--into", bare, "--jobs", "2"], { env: env({ TMPDIR: t }) });
    expect(nm.stderr).toBe("");
    expect(nm.code).toBe(0);
    expect(await copyOf(bare)).toEqual(before);
  }, 120_000);

  test("encrypted: backup --jobs 2 --encrypt-to, restore --jobs 2 --identity; a damaged file is refused and leaves nothing", async () => {
    const { identityFile, recipient } = await ageKeyPair();
    const dir = tempDir();
    const b = await pgship(["backup", "--dir", dir, "--jobs", "2", "--encrypt-to", recipient, "--json"], { env: env() });
    expect(b.code).toBe(0);
    const out = json(b.stdout);
    expect(out.file).toEndWith(".dump.age");
    expect(manifestOf(out.file).archive.format).toBe("directory");
    const t = tmp();
    const copy = `${d.name}_enc`;
    const r = await pgship(["restore", out.file, "--identity", identityFile, "--into", copy, "--jobs", "2"], { env: env({ TMPDIR: t }) });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(await copyOf(copy)).toEqual(before);
    expect(readdirSync(t)).toEqual([]);

    // Past the table of contents: caught by age's authentication or the sha256, before the copy is kept.
    flipByte(out.file, statSync(out.file).size - 2000);
    const names = await databaseNames();
    const bad = await pgship(["restore", out.file, "--identity", identityFile, "--into", `${d.name}_bad`, "--jobs", "2"], { env: env({ TMPDIR: t }) });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/does not match its manifest|is damaged/);
    expect(await databaseNames()).toEqual(names);
    expect(readdirSync(t)).toEqual([]);
  }, 120_000);

  test("a custom-format backup restores with --jobs 2 (unpacked to a file pg_restore -j can seek in)", async () => {
    const out = json((await pgship(["backup", "--dir", tempDir(), "--json"], { env: env() })).stdout);
    expect(manifestOf(out.file).archive.format).toBe("custom");
    const t = tmp();
    const copy = `${d.name}_cj`;
    const r = await pgship(["restore", out.file, "--into", copy, "--jobs", "2"], { env: env({ TMPDIR: t }) });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(await copyOf(copy)).toEqual(before);
    expect(readdirSync(t)).toEqual([]);
  }, 120_000);

  test("--jobs 0 and --jobs x: one message, exit 2; not with --docker-container", async () => {
    for (const bad of ["0", "x"]) {
      for (const args of [["backup", "--dir", tempDir()], ["restore", "nothing.dump", "--into", "nothing"]]) {
        const r = await pgship([...args, "--jobs", bad], { env: env() });
        expect(r.code).toBe(2);
        expect(r.stderr.trim()).toBe(`error: --jobs "${bad}" must be a whole number of at least 1`);
        expect(noStackTrace(r.stderr)).toBe(true);
      }
    }
    // pg_dump in a container could not write pgship's directory.
    const docker = await pgship(["backup", "--dir", tempDir(), "--jobs", "2", "--docker-container", "db"], { env: env() });
    expect(docker.code).toBe(2);
    expect(docker.stderr).toContain("--jobs cannot be combined with --docker-container");
    // The parallel dump is a local directory first: not straight to S3 (a local --dir with --copy-to is).
    const s3 = await pgship(["backup", "--dir", "s3://bucket/app", "--jobs", "2"], { env: { ...env(), AWS_ACCESS_KEY_ID: "k", AWS_SECRET_ACCESS_KEY: "s" } });
    expect({ code: s3.code, err: s3.stderr.split("\n")[0] }).toEqual({ code: 2, err: "error: --jobs needs a local --dir" });
    expect(s3.stderr).toContain("--copy-to s3://bucket/app");
  }, 120_000);

  test("an interrupted restore --jobs removes its temporary directory and changes nothing", async () => {
    const out = json((await pgship(["backup", "--dir", tempDir(), "--jobs", "2", "--json"], { env: env() })).stdout);
    const t = tmp();
    const copy = `${d.name}_int`;
    const child = spawnPgship(["restore", out.file, "--into", copy, "--jobs", "2"], { env: env({ TMPDIR: t }) });
    let stderr = "";
    child.stderr!.on("data", (c) => (stderr += c));
    const done = new Promise<number>((resolve) => child.on("close", (code, signal) => resolve(code ?? (signal ? 128 : 1))));
    // Caught while pg_restore -j works from the unpacked directory.
    await until(async () => childrenNamed(child.pid!, "pg_restore").length > 0 && readdirSync(t).some((n) => n.startsWith("pgship-restore-")), 20_000, "the parallel pg_restore");
    const unpacked = join(t, readdirSync(t).find((n) => n.startsWith("pgship-restore-"))!);
    expect(mode(unpacked)).toBe(0o700);
    child.kill("SIGINT");
    expect(await done).toBe(130);
    expect(stderr).toContain("interrupted");
    expect(existsSync(unpacked)).toBe(false);
    expect(readdirSync(t)).toEqual([]);
    await until(async () => childrenNamed(child.pid!, "pg_restore").length === 0, 5000, "pg_restore to be gone");
    expect(await databaseNames()).not.toContain(copy);
  }, 120_000);
});

