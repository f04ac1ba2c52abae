// Backups in S3-compatible storage, end to end: the compiled binary, a real
// PostgreSQL with the real pg_dump / pg_restore, and a real S3 server process
// on loopback (s3rver, see test/harness/s3.ts). What is stored is read from the
// server's own files, not through pgship's client.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cluster, createDb, noStackTrace, pgship, spawnPgship, tempDir, type TestDb, describeWithPgDump, until, ROOT } from "../harness/env.ts";
import { addBulk, ageKeyPair, APP_DATA, childrenNamed, filesIn, fingerprint, seed, secretFile } from "../harness/backup.ts";
import { startS3, type S3Server } from "../harness/s3.ts";
import { spawnSync } from "node:child_process";
import { createServer } from "node:net";

// s3rver checks the access key id, not the signature: any secret is accepted, so a distinctive one shows where it leaks.
const SECRET = "pgship-test-Secret-Zq8v2LkPw4";
const dbs: TestDb[] = [];
let s3: S3Server;
beforeAll(async () => {
  s3 = await startS3(["backups", "other"]);
});
afterAll(async () => {
  for (const d of dbs) await d.sql.end();
  await s3?.stop();
});
async function db(rows = 60): Promise<TestDb> {
  const d = await createDb("s3");
  dbs.push(d);
  await seed(d, rows);
  return d;
}
const envFor = (d: TestDb, extra: Record<string, string> = {}) => ({ DATABASE_URL: d.url, ...s3.env, AWS_SECRET_ACCESS_KEY: SECRET, ...extra });
const json = (t: string) => JSON.parse(t);

const stored = (bucket: string, prefix: string) => s3.stored(bucket, prefix);
const storedNames = (bucket: string, prefix: string) => [...stored(bucket, prefix).keys()].sort();
/** Unfinished multipart uploads in s3rver's store. */
const openUploads = (bucket: string) => (existsSync(join(s3.dir, bucket, "._S3rver_uploads")) ? readdirSync(join(s3.dir, bucket, "._S3rver_uploads")) : []);
const objectPath = (bucket: string, key: string) => join(s3.dir, bucket, `${key}._S3rver_object`);

describeWithPgDump("backups in S3", () => {
  test("backup streams a multipart upload (> 3 parts), lists, keeps the newest by --keep-last, restores every row", async () => {
    const d = await db(400);
    const env = envFor(d, { PGSHIP_S3_PART_SIZE: String(16 * 1024) });
    const before = await fingerprint(d.url, APP_DATA);
    const outs = [];
    for (let i = 0; i < 3; i++) {
      const b = await pgship(["backup", "--dir", "s3://backups/rt", "--compress", "none", "--keep-last", "2", "--json"], { env });
      expect(b.stderr).toBe("");
      expect(b.code).toBe(0);
      outs.push(json(b.stdout));
    }
    const last = outs[2];
    expect(last.file).toStartWith("s3://backups/rt/");
    expect(last.upload.parts).toBeGreaterThan(3);
    expect(last.upload.partBytes).toBe(16 * 1024);
    expect(last.retention.deleted.map((x: { file: string }) => x.file)).toEqual([outs[0].file.split("/").pop()]);
    // What the server holds: two archives, each with its manifest; the bytes are what the manifest says.
    const names = storedNames("backups", "rt");
    expect(names).toEqual([outs[1], outs[2]].flatMap((o) => [o.file.split("/").pop(), o.manifest.split("/").pop()]).sort());
    const objects = stored("backups", "rt");
    const m = JSON.parse(objects.get(last.manifest.split("/").pop())!.toString());
    const archive = objects.get(m.archive.file)!;
    expect(archive.length).toBe(m.archive.bytes);
    expect(new Bun.CryptoHasher("sha256").update(archive).digest("hex")).toBe(m.archive.sha256);
    expect(m.verified[0].detail).toContain("size checked by HEAD, sha256 re-read from S3");
    expect(m.verified[0].detail).toContain("listed by pg_restore");
    expect(JSON.stringify(m)).not.toContain(SECRET);

    const l = await pgship(["backups", "--dir", "s3://backups/rt", "--json"], { env });
    expect(l.code).toBe(0);
    const listing = json(l.stdout);
    expect(listing.backups.map((b: { file: string; status: string }) => [b.file, b.status])).toEqual([
      [outs[1].file, "ok"],
      [outs[2].file, "ok"],
    ]);
    expect(listing.partials).toEqual([]);
    const text = await pgship(["backups", "--dir", "s3://backups/rt"], { env });
    expect(text.stdout).toContain("2 backups, 2 ok.");
    // --dry-run applies --keep-* to the remote listing and changes nothing.
    const dry = await pgship(["backup", "--dir", "s3://backups/rt", "--keep-last", "1", "--dry-run", "--json"], { env });
    expect(dry.code).toBe(0);
    expect(json(dry.stdout).retention.deleted.map((x: { file: string }) => x.file).sort()).toEqual([outs[1], outs[2]].map((o) => o.file.split("/").pop()).sort());
    expect(storedNames("backups", "rt")).toEqual(names);

    await d.sql.unsafe("delete from api_keys; update users set display_name = 'changed'");
    const r = await pgship(["restore", last.file, "--yes", "--json"], { env });
    expect(r.stderr).not.toContain("error");
    expect(r.code).toBe(0);
    expect(json(r.stdout)).toMatchObject({ ok: true, mode: "swap" });
    expect(await fingerprint(d.url, APP_DATA)).toEqual(before);

    // backups verify: a test restore from S3, recorded in the manifest there.
    const v = await pgship(["backups", "verify", last.file, "--json"], { env });
    expect(v.code).toBe(0);
    expect(json(v.stdout)).toMatchObject({ ok: true, how: "test-restore" });
    const m2 = JSON.parse(stored("backups", "rt").get(last.manifest.split("/").pop())!.toString());
    expect(m2.verified.map((x: { how: string }) => x.how)).toEqual(["readback", "test-restore"]);
    const v2 = await pgship(["backups", "verify", last.file, "--no-restore"], { env });
    expect(v2.code).toBe(0);
    expect(v2.stdout).toContain("OK, sha256 checked");
  }, 180_000);

  test("encrypted to a recipient: read back with a throwaway key, restored with the identity; a damaged object is refused before anything changes", async () => {
    const d = await db();
    const env = envFor(d);
    const { identityFile, recipient } = await ageKeyPair();
    const fullGets = () => s3.requests().filter((l) => l.startsWith("GET /backups/enc/") && l.endsWith(" -"));
    const gotBefore = fullGets().length;
    const b = await pgship(["backup", "--dir", "s3://backups/enc", "--encrypt-to", recipient, "--json"], { env });
    expect(b.code).toBe(0);
    const out = json(b.stdout);
    // The read-back downloads the uploaded object once: decrypted as far as pg_restore --list reads, hashed to the end.
    expect(fullGets().length - gotBefore).toBe(1);
    expect(out.file).toEndWith(".dump.age");
    expect(out.encryption).toMatchObject({ mode: "recipients", recipients: [recipient] });
    expect(stored("backups", "enc").get(out.file.split("/").pop())!.subarray(0, 21).toString()).toBe("age-encryption.org/v1");

    const into = `${d.name}_from_s3`;
    // Downloaded once (its sha256 checked on the way) into a private file under TMPDIR, which the
    // listing and the restore then read; the file is gone afterwards.
    const tmp = tempDir();
    const key = `/backups/enc/${out.file.split("/").pop()}`;
    const gets = () => s3.requests().filter((l) => l.startsWith(`GET ${key} `));
    const before = gets().length;
    const r = await pgship(["restore", out.file, "--identity", identityFile, "--into", into, "--json"], { env: { ...env, TMPDIR: tmp } });
    expect(r.stderr).not.toContain("error");
    expect(r.code).toBe(0);
    // The age header's first 4 KiB (which key it needs), then the whole object once.
    expect(gets().slice(before)).toEqual([`GET ${key} bytes=0-4095`, `GET ${key} -`]);
    expect(readdirSync(tmp)).toEqual([]);
    const c = await cluster();
    expect(await fingerprint(c.url(into), APP_DATA)).toEqual(await fingerprint(d.url, APP_DATA));

    // Without the identity: refused before any download of the whole object, exit 2.
    const noKey = await pgship(["restore", out.file, "--into", `${d.name}_x`], { env });
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain("--identity");

    // One byte changed in the stored object: the checksum fails, nothing is created.
    const p = objectPath("backups", `enc/${out.file.split("/").pop()}`);
    const bytes = readFileSync(p);
    bytes[bytes.length - 100] = bytes[bytes.length - 100]! ^ 0x40;
    writeFileSync(p, bytes);
    const bad = await pgship(["restore", out.file, "--identity", identityFile, "--into", `${d.name}_bad`, "--json"], { env: { ...env, TMPDIR: tmp } });
    expect(bad.code).toBe(1);
    expect(json(bad.stdout).error.code).toBe("backup_corrupt");
    expect(readdirSync(tmp)).toEqual([]);
    const names = await d.sql<{ n: number }[]>`select count(*)::int as n from pg_database where datname = ${`${d.name}_bad`}`;
    expect(names[0]!.n).toBe(0);
  }, 120_000);

  test("--copy-to: the local backup stays, a verified copy goes to S3, each place keeps its own --keep-last; a failed upload fails the backup and says where the local one is", async () => {
    const d = await db();
    const env = envFor(d);
    const dir = join(tempDir(), "local");
    const pass = secretFile("a long passphrase for the copies");
    const outs = [];
    for (let i = 0; i < 2; i++) {
      const b = await pgship(["backup", "--dir", dir, "--copy-to", "s3://other/copies", "--passphrase-file", pass, "--keep-last", "1", "--json"], { env });
      expect(b.stderr).toBe("");
      expect(b.code).toBe(0);
      outs.push(json(b.stdout));
    }
    const last = outs[1];
    expect(last.copy.file).toBe(`s3://other/copies/${last.file.split("/").pop()}`);
    expect(last.copy.verified).toContain("listed by pg_restore");
    expect(last.copy.retention.deleted.map((x: { file: string }) => x.file)).toEqual([outs[0].file.split("/").pop()]);
    expect(filesIn(dir)).toEqual([last.file.split("/").pop(), last.manifest.split("/").pop()].sort());
    expect(storedNames("other", "copies")).toEqual(filesIn(dir));
    const copyManifest = JSON.parse(stored("other", "copies").get(last.manifest.split("/").pop())!.toString());
    expect(copyManifest.archive.sha256).toBe(last.sha256);
    expect(copyManifest.verified.at(-1).detail).toContain(`copied from ${last.file}`);

    // The copy restores on its own.
    const into = `${d.name}_copy`;
    const r = await pgship(["restore", last.copy.file, "--passphrase-file", pass, "--into", into, "--json"], { env });
    expect(r.code).toBe(0);

    // The S3 server is gone: the backup fails (exit 1), the local one stays and is named.
    const down = await pgship(["backup", "--dir", dir, "--copy-to", "s3://other/copies", "--passphrase-file", pass, "--json"], { env: { ...env, AWS_ENDPOINT_URL: "http://127.0.0.1:9" } });
    expect(down.code).toBe(1);
    const err = json(down.stdout).error;
    expect(err.code).toBe("s3_unreachable");
    expect(err.message).toContain("the backup was written and kept (");
    const kept = /kept \(([^)]+)\)/.exec(err.message)![1]!;
    expect(existsSync(kept)).toBe(true);
    expect(filesIn(dir)).toContain(kept.split("/").pop()!);
  }, 120_000);

  test("killed (SIGKILL) mid-upload: nothing is listed, the stale upload is reported and --clean-partials aborts it; credentials never in a child's argv", async () => {
    const d = await db(20);
    await addBulk(d, 40_000);
    const env = envFor(d, { PGSHIP_S3_PART_SIZE: String(64 * 1024) });
    const child = spawnPgship(["backup", "--dir", "s3://backups/killed", "--compress", "none"], { env });
    const parts = await until(async () => {
      for (const id of openUploads("backups")) {
        const dir = join(s3.dir, "backups", "._S3rver_uploads", id);
        if (existsSync(join(dir, "2"))) return id;
      }
      return null;
    }, 30_000, "a multipart upload in progress");
    expect(parts).toBeTruthy();
    // The command lines of pgship and of its pg_dump hold no credentials.
    for (const pid of [child.pid!, ...childrenNamed(child.pid!, "pg_dump")]) {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      expect(cmdline).not.toContain(SECRET);
      expect(cmdline).not.toContain("S3RVER");
    }
    expect(childrenNamed(child.pid!, "pg_dump").length).toBe(1);
    // pg_dump does not even inherit the secret in its environment.
    for (const pid of childrenNamed(child.pid!, "pg_dump")) expect(readFileSync(`/proc/${pid}/environ`, "utf8")).not.toContain(SECRET);
    child.kill("SIGKILL");
    await new Promise((r) => child.once("close", r));

    const l = await pgship(["backups", "--dir", "s3://backups/killed", "--json"], { env });
    expect(l.code).toBe(0);
    const listing = json(l.stdout);
    expect(listing.backups).toEqual([]);
    expect(listing.partials).toHaveLength(1);
    expect(listing.partials[0]).toContain("unfinished multipart upload");
    const t = await pgship(["backups", "--dir", "s3://backups/killed"], { env });
    expect(t.stdout).toContain("--clean-partials");

    const c = await pgship(["backups", "--dir", "s3://backups/killed", "--clean-partials", "--json"], { env });
    expect(c.code).toBe(0);
    expect(json(c.stdout).cleaned).toHaveLength(1);
    expect(openUploads("backups")).toEqual([]);
    expect(json((await pgship(["backups", "--dir", "s3://backups/killed", "--json"], { env })).stdout).partials).toEqual([]);
  }, 120_000);

  test("killed (SIGKILL) after the upload completed, before the manifest: nothing is listed as a backup, the temporary object is a partial and --clean-partials deletes it (backup and --copy-to)", async () => {
    const d = await db(20);
    // The hidden test hook: the process waits after the upload was verified, before it is copied to its name.
    const env = envFor(d, { PGSHIP_TEST_PAUSE_BEFORE_PUBLISH_MS: "60000" });
    const dir = join(tempDir(), "local-paused");
    for (const [prefix, args] of [
      ["paused", ["backup", "--dir", "s3://backups/paused", "--compress", "none"]],
      ["pausedcp", ["backup", "--dir", dir, "--copy-to", "s3://backups/pausedcp", "--compress", "none"]],
    ] as const) {
      const child = spawnPgship([...args], { env });
      // The temporary object exists once its upload completed; it is verified (pg_restore --list) before the pause.
      const tmp = await until(async () => {
        const t = storedNames("backups", prefix).find((n) => n.startsWith("."));
        return t && !childrenNamed(child.pid!, "pg_restore").length && !childrenNamed(child.pid!, "pg_dump").length ? t : null;
      }, 30_000, "the uploaded temporary object");
      await Bun.sleep(300);
      expect(child.exitCode).toBe(null);
      child.kill("SIGKILL");
      await new Promise((r) => child.once("close", r));
      expect(tmp).toMatch(/^\..+\.dump\.partial-\d+-[0-9a-f]+$/);
      // Nothing under a final name: only the temporary object, and no unfinished upload.
      expect(storedNames("backups", prefix)).toEqual([tmp]);
      expect(openUploads("backups")).toEqual([]);
      const l = await pgship(["backups", "--dir", `s3://backups/${prefix}`, "--json"], { env });
      expect(l.code).toBe(0);
      const listing = json(l.stdout);
      expect(listing.backups).toEqual([]);
      expect(listing.partials).toEqual([`s3://backups/${prefix}/${tmp}`]);
      expect((await pgship(["backups", "--dir", `s3://backups/${prefix}`], { env })).stdout).toContain("--clean-partials");
      const c = await pgship(["backups", "--dir", `s3://backups/${prefix}`, "--clean-partials", "--json"], { env });
      expect(c.code).toBe(0);
      expect(json(c.stdout).cleaned).toEqual([`s3://backups/${prefix}/${tmp}`]);
      expect(storedNames("backups", prefix)).toEqual([]);
    }
    // --copy-to: the local backup was complete before the copy started, and stays.
    expect(filesIn(dir).filter((n) => !n.startsWith("."))).toHaveLength(2);
  }, 120_000);

  test("interrupted (SIGINT) after the upload was verified, before it was published: exit 130, the temporary object is deleted, nothing is stored", async () => {
    const d = await db(20);
    const env = envFor(d, { PGSHIP_TEST_PAUSE_BEFORE_PUBLISH_MS: "60000" });
    const child = spawnPgship(["backup", "--dir", "s3://backups/pausedint", "--compress", "none"], { env });
    let stderr = "";
    child.stderr!.on("data", (c) => (stderr += c));
    await until(async () => storedNames("backups", "pausedint").some((n) => n.startsWith(".")) && !childrenNamed(child.pid!, "pg_restore").length && !childrenNamed(child.pid!, "pg_dump").length, 30_000, "the uploaded temporary object");
    await Bun.sleep(300);
    child.kill("SIGINT");
    const code = await new Promise((r) => child.once("close", r));
    expect(code).toBe(130);
    expect(stderr).toContain("no backup was written");
    expect(storedNames("backups", "pausedint")).toEqual([]);
  }, 120_000);

  test("above the one-request copy limit the archive is published by a multipart copy (UploadPartCopy); no temporary object or upload stays", async () => {
    const d = await db(200);
    const env = envFor(d, { PGSHIP_S3_COPY_LIMIT: "4096" });
    const b = await pgship(["backup", "--dir", "s3://backups/mpcopy", "--compress", "none", "--json"], { env });
    expect(b.stderr).toBe("");
    expect(b.code).toBe(0);
    const out = json(b.stdout);
    const objects = stored("backups", "mpcopy");
    expect([...objects.keys()].sort()).toEqual([out.file.split("/").pop(), out.manifest.split("/").pop()].sort());
    const m = JSON.parse(objects.get(out.manifest.split("/").pop())!.toString());
    const archive = objects.get(m.archive.file)!;
    expect(archive.length).toBeGreaterThan(3 * 4096);
    expect(archive.length).toBe(m.archive.bytes);
    expect(new Bun.CryptoHasher("sha256").update(archive).digest("hex")).toBe(m.archive.sha256);
    expect(openUploads("backups")).toEqual([]);
    const v = await pgship(["backups", "verify", out.file, "--no-restore"], { env });
    expect(v.code).toBe(0);
  }, 120_000);

  test("interrupted (SIGINT) mid-upload: exit 130, the multipart upload is aborted, nothing is stored", async () => {
    const d = await db(20);
    await addBulk(d, 40_000);
    const env = envFor(d, { PGSHIP_S3_PART_SIZE: String(64 * 1024) });
    const child = spawnPgship(["backup", "--dir", "s3://backups/int", "--compress", "none"], { env });
    let stderr = "";
    child.stderr!.on("data", (x) => (stderr += x));
    await until(async () => openUploads("backups").some((id) => existsSync(join(s3.dir, "backups", "._S3rver_uploads", id, "2"))), 30_000, "a multipart upload in progress");
    child.kill("SIGINT");
    const code = await new Promise((r) => child.once("close", r));
    expect(code).toBe(130);
    expect(stderr).toContain("interrupted");
    expect(openUploads("backups")).toEqual([]);
    expect(storedNames("backups", "int")).toEqual([]);
  }, 120_000);

  test("--copy-to interrupted (SIGINT) mid-upload: exit 130, the local backup stays and is named, the upload is aborted", async () => {
    const d = await db(20);
    await addBulk(d, 40_000);
    const env = envFor(d, { PGSHIP_S3_PART_SIZE: String(64 * 1024) });
    const dir = join(tempDir(), "local");
    const child = spawnPgship(["backup", "--dir", dir, "--copy-to", "s3://backups/cpint", "--compress", "none"], { env });
    let stderr = "";
    child.stderr!.on("data", (x) => (stderr += x));
    await until(async () => openUploads("backups").some((id) => existsSync(join(s3.dir, "backups", "._S3rver_uploads", id, "2"))), 60_000, "the copy's multipart upload");
    child.kill("SIGINT");
    const code = await new Promise((r) => child.once("close", r));
    expect(code).toBe(130);
    expect(stderr).toContain("the backup was written and kept (");
    expect(stderr).toContain("interrupted during the copy to S3");
    expect(filesIn(dir).filter((f) => f.endsWith(".dump"))).toHaveLength(1);
    expect(openUploads("backups")).toEqual([]);
    expect(storedNames("backups", "cpint")).toEqual([]);
  }, 120_000);

  test("clear errors: server unreachable, wrong credentials, missing bucket, missing credentials; never the secret", async () => {
    const d = await db(5);
    const cases: [Record<string, string>, string, string, number, string][] = [
      [{ AWS_ENDPOINT_URL: "http://127.0.0.1:9" }, "s3://backups/x", "s3_unreachable", 1, "cannot reach the S3 server http://127.0.0.1:9"],
      [{ AWS_ACCESS_KEY_ID: "WRONGKEYID" }, "s3://backups/x", "s3_denied", 1, "refused access"],
      [{}, "s3://no-such-bucket/x", "s3_no_bucket", 1, 'S3 bucket "no-such-bucket" does not exist'],
      [{ AWS_ACCESS_KEY_ID: "" }, "s3://backups/x", "s3_credentials", 2, "AWS_ACCESS_KEY_ID is not set"],
    ];
    for (const [extra, dir, code, exit, message] of cases) {
      for (const args of [["backup", "--dir", dir], ["backups", "--dir", dir], ["restore", `${dir}/a.dump`, "--yes"]]) {
        const r = await pgship([...args, "--json"], { env: envFor(d, extra) });
        expect([args.join(" "), r.code]).toEqual([args.join(" "), exit]);
        const err = json(r.stdout).error;
        expect(err.code).toBe(code);
        expect(err.message).toContain(message);
        expect(r.stdout + r.stderr).not.toContain(SECRET);
        const t = await pgship(args, { env: envFor(d, extra) });
        expect(t.stderr).toContain(message);
        expect(noStackTrace(t.stderr)).toBe(true);
        expect(t.stdout + t.stderr).not.toContain(SECRET);
      }
    }
    // A server that accepts connections and never answers: a clear error after the timeout, not a hang.
    const silent = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", () => r()));
    try {
      const port = (silent.address() as { port: number }).port;
      const hung = await pgship(["backups", "--dir", "s3://backups/x"], { env: envFor(d, { AWS_ENDPOINT_URL: `http://127.0.0.1:${port}`, PGSHIP_S3_TIMEOUT_MS: "1500" }) });
      expect(hung.code).toBe(1);
      expect(hung.stderr).toContain(`the S3 server http://127.0.0.1:${port} did not answer within 2 s`);
    } finally {
      silent.close();
    }
    const denied = await pgship(["backup", "--dir", "s3://backups/x"], { env: envFor(d, { AWS_ACCESS_KEY_ID: "WRONGKEYID" }) });
    expect(denied.stderr).toContain("check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY");
    // Nothing reached the bucket.
    expect(storedNames("backups", "x")).toEqual([]);
  }, 120_000);

  test("up --backup s3://…: the backup before migrating goes to S3 and its restore command names the object; without credentials nothing runs", async () => {
    const d = await createDb("s3up");
    dbs.push(d);
    const env = envFor(d);
    expect((await pgship(["up", "--to", "20250305093000"], { env })).code).toBe(0);
    const none = await pgship(["up", "--backup", "s3://backups/up"], { env: { ...env, AWS_SECRET_ACCESS_KEY: "" } });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("AWS_SECRET_ACCESS_KEY is not set");
    expect(storedNames("backups", "up")).toEqual([]);
    const rows = await d.sql<{ v: string }[]>`select max(version) as v from pgship.migrations where state = 'applied'`;
    expect(rows[0]!.v).toBe("20250305093000");
    const ok = await pgship(["up", "--backup", "s3://backups/up", "--json"], { env });
    expect(ok.code).toBe(0);
    expect(json(ok.stdout).backup.restore).toMatch(/^pgship restore s3:\/\/backups\/up\/\S+\.dump --yes$/);
    expect(storedNames("backups", "up")).toHaveLength(2);
  }, 60_000);

  test("pins in S3: up --backup pins its backup in the stored manifest, the next update releases it, retention keeps a pinned one; backups pin/unpin s3://…", async () => {
    const d = await createDb("s3pin");
    dbs.push(d);
    const env = envFor(d);
    const manifests = () => [...stored("backups", "pin")].filter(([k]) => k.endsWith(".json")).map(([, v]) => JSON.parse(v.toString()));
    expect((await pgship(["up", "--to", "20250203140000"], { env })).code).toBe(0);
    const first = await pgship(["up", "--to", "20250305093000", "--backup", "s3://backups/pin", "--json"], { env });
    expect(first.code).toBe(0);
    expect(json(first.stdout).backup.pinned).toMatchObject({ reason: "pre-update" });
    expect(manifests().map((m) => m.pinned?.reason)).toEqual(["pre-update"]);
    const firstFile = manifests()[0].archive.file as string;
    const second = await pgship(["up", "--backup", "s3://backups/pin", "--json"], { env });
    expect(second.code).toBe(0);
    expect(json(second.stdout).backup.unpinned).toEqual([firstFile]);
    const byFile = () => Object.fromEntries(manifests().map((m) => [m.archive.file, m.pinned?.reason ?? null]));
    expect(byFile()[firstFile]).toBeNull();
    expect(Object.values(byFile()).filter((r) => r === "pre-update")).toHaveLength(1);
    // A manual pin on the older one: --keep-last 1 keeps both (the newest, and the pinned one).
    const pin = await pgship(["backups", "pin", `s3://backups/pin/${firstFile}`, "--json"], { env });
    expect(pin.code).toBe(0);
    expect(json(pin.stdout)).toMatchObject({ changed: true, pinned: { reason: "manual" } });
    expect(byFile()[firstFile]).toBe("manual");
    expect((await pgship(["backup", "--dir", "s3://backups/pin", "--keep-last", "1"], { env })).code).toBe(0);
    expect(Object.keys(byFile())).toContain(firstFile);
    const unpin = await pgship(["backups", "unpin", `s3://backups/pin/${firstFile}`, "--json"], { env });
    expect(json(unpin.stdout)).toMatchObject({ changed: true, pinned: null });
    expect((await pgship(["backup", "--dir", "s3://backups/pin", "--keep-last", "1"], { env })).code).toBe(0);
    expect(Object.keys(byFile())).not.toContain(firstFile);
    const missing = await pgship(["backups", "pin", "s3://backups/pin/nothing-here.dump"], { env });
    expect(missing.code).toBe(1);
    expect(noStackTrace(missing.stderr)).toBe(true);
  }, 120_000);

  test("--s3-endpoint beats AWS_ENDPOINT_URL; other schemes and s3: without // are usage errors that create nothing", async () => {
    const d = await db(5);
    const ok = await pgship(["backups", "--dir", "s3://backups/none", "--s3-endpoint", s3.endpoint], { env: envFor(d, { AWS_ENDPOINT_URL: "http://127.0.0.1:9" }) });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("No backups in s3://backups/none.");
    const cwd = tempDir();
    for (const dir of ["gs://bucket/x", "s3:bucket/x", "s3://Bad_Bucket/x"]) {
      const r = await pgship(["backup", "--dir", dir], { env: envFor(d), cwd });
      expect(r.code).toBe(2);
      expect(noStackTrace(r.stderr)).toBe(true);
    }
    const copy = await pgship(["backup", "--dir", join(cwd, "b"), "--copy-to", "/tmp/elsewhere"], { env: envFor(d), cwd });
    expect(copy.code).toBe(2);
    expect(copy.stderr).toContain("--copy-to");
    expect(readdirSync(cwd)).toEqual([]);
  }, 60_000);
});

describeWithPgDump("a server without ListMultipartUploads / AbortMultipartUpload (s3rver as shipped)", () => {
  test("killed mid-upload: nothing listed, and the listing says it cannot see unfinished uploads instead of failing", async () => {
    const plain = await startS3(["backups"], { asIs: true });
    try {
      const d = await db(20);
      await addBulk(d, 20_000);
      const env = { ...envFor(d), ...plain.env, AWS_SECRET_ACCESS_KEY: SECRET, PGSHIP_S3_PART_SIZE: String(64 * 1024) };
      const uploads = join(plain.dir, "backups", "._S3rver_uploads");
      const child = spawnPgship(["backup", "--dir", "s3://backups/k", "--compress", "none"], { env });
      await until(async () => existsSync(uploads) && readdirSync(uploads).some((id) => existsSync(join(uploads, id, "2"))), 30_000, "a multipart upload in progress");
      child.kill("SIGKILL");
      await new Promise((r) => child.once("close", r));
      const l = await pgship(["backups", "--dir", "s3://backups/k", "--json"], { env });
      expect(l.code).toBe(0);
      const listing = json(l.stdout);
      expect(listing.backups).toEqual([]);
      expect(listing.partials).toEqual([]);
      expect(listing.partialsUnknown).toContain("the server did not list unfinished multipart uploads");
      expect(listing.partialsUnknown).toContain("NotImplemented");
      const t = await pgship(["backups", "--dir", "s3://backups/k"], { env });
      expect(t.stdout).toContain("No backups in s3://backups/k.\nNote: the server did not list unfinished multipart uploads");
      // Without UploadPartCopy a copy above the one-request limit fails clearly, and leaves no object behind.
      const big = await pgship(["backup", "--dir", "s3://backups/nocopy", "--compress", "none", "--json"], { env: { ...env, PGSHIP_S3_COPY_LIMIT: "4096" } });
      expect(big.code).toBe(1);
      const err = json(big.stdout).error;
      expect(err.code).toBe("s3_failed");
      expect(err.message).toContain("NotImplemented");
      expect(err.hint).toContain("UploadPartCopy");
      expect(noStackTrace(big.stdout + big.stderr)).toBe(true);
      const left = join(plain.dir, "backups", "nocopy");
      expect(existsSync(left) ? readdirSync(left).filter((f) => f.endsWith("._S3rver_object")) : []).toEqual([]);
      expect(json((await pgship(["backups", "--dir", "s3://backups/nocopy", "--json"], { env })).stdout).backups).toEqual([]);
      // A normal backup still works against it.
      const b = await pgship(["backup", "--dir", "s3://backups/k", "--json"], { env: { ...env, PGSHIP_S3_PART_SIZE: String(1024 * 1024) } });
      expect(b.code).toBe(0);
      expect(json((await pgship(["backups", "--dir", "s3://backups/k", "--json"], { env })).stdout).backups).toHaveLength(1);
    } finally {
      await plain.stop();
    }
  }, 120_000);
});

test("backups --clean-partials deletes a directory's partial files too (and says so)", async () => {
  const dir = tempDir();
  writeFileSync(join(dir, ".app-20250601T000000Z.dump.partial-123-abcd"), "half");
  writeFileSync(join(dir, "notes.txt"), "kept");
  const l = await pgship(["backups", "--dir", dir]);
  expect(l.stdout).toContain("1 partial file left by interrupted backups (safe to delete)");
  expect(l.stdout).toContain(`--clean-partials`);
  const c = await pgship(["backups", "--dir", dir, "--clean-partials", "--json"]);
  expect(c.code).toBe(0);
  expect(json(c.stdout).cleaned).toEqual([join(dir, ".app-20250601T000000Z.dump.partial-123-abcd")]);
  expect(readdirSync(dir)).toEqual(["notes.txt"]);
});

describeWithPgDump("deno", () => {
  test("deno: backup to S3 and restore from it", async () => {
    const d = await db(20);
    const DENO = join(ROOT, "node_modules", ".bin", "deno");
    const run = (args: string[]) =>
      spawnSync(DENO, ["run", "-A", "src/main.ts", ...args], { cwd: ROOT, encoding: "utf8", env: { ...process.env, ...envFor(d), PGSHIP_S3_PART_SIZE: "8192", DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" }, timeout: 120_000 });
    const b = run(["backup", "--dir", "s3://backups/deno", "--json"]);
    expect(b.stderr).not.toContain("error");
    expect(b.status).toBe(0);
    const out = json(b.stdout);
    expect(out.upload.parts).toBeGreaterThan(1);
    const into = `${d.name}_deno`;
    const r = run(["restore", out.file, "--into", into, "--json"]);
    expect(r.stderr).not.toContain("error");
    expect(r.status).toBe(0);
    const c = await cluster();
    expect(await fingerprint(c.url(into), APP_DATA)).toEqual(await fingerprint(d.url, APP_DATA));
  }, 180_000);
});
