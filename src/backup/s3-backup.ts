// Backups to S3: pg_dump's archive (compressed, age-encrypted: what the local
// pipeline produces) streamed as a multipart upload while it is produced, never
// a local copy; sha256 on the way. The upload goes to a temporary key named like
// a local partial file (.NAME.partial-PID-TAG, listed as a partial, removed by
// `backups --clean-partials`). Then HEAD (size), the object read back as a
// stream (sha256 again, pg_restore --list on the decrypted archive); only then
// a server-side copy to the final name (HEAD again), the manifest, and the
// temporary object deleted: a backup is listed exactly when its manifest exists.
// A failure or an interrupt aborts the multipart upload (or deletes the objects).
// Also `--copy-to`: a local backup's archive copied, verified, with its manifest.

import { randomBytes } from "node:crypto";
import type { ConnectionTarget } from "../core/config.ts";
import { interrupted } from "../core/cancel.ts";
import { PgshipError } from "../core/errors.ts";
import type { Db } from "../db/connect.ts";
import { siblingTool, toolSpec, type PgTool } from "../tools/pg-tools.ts";
import { describeExit, startProc, type RunningProc } from "../tools/proc.ts";
import { AgeError, encryptChunks, ephemeralIdentity, type DecryptKeys, type EncryptKeys } from "./age-stream.ts";
import { applyRetention, type RetentionOutcome, type RetentionStore } from "./apply-retention.ts";
import { backupManifest, prepareDump, type BackupRequest, type TakenBackup } from "./create.ts";
import { keyIn, type Location } from "./location.ts";
import { archiveName, backupStem, manifestName, partialName, stemOf, type Manifest } from "./manifest.ts";
import { Meter, readChunks, S3_GC_EVERY, tap } from "./pipeline.ts";
import { listArchive } from "./read.ts";
import type { RetentionPolicy } from "./retention.ts";
import { listS3, putS3Manifest, removeS3Backup, s3Url } from "./s3-store.ts";
import { s3Client, type S3Client } from "./s3.ts";
import { uploadStream, type UploadHandle, type Uploaded } from "./s3-upload.ts";
import { pgDumpArgs } from "./tool-args.ts";
import { env as environment, pid } from "../runtime.ts";

type S3Loc = Location & { kind: "s3" };

export function s3RetentionStore(loc: S3Loc, client: S3Client = s3Client()): RetentionStore {
  return {
    list: async () => (await listS3(loc, { partials: false }, client)).backups,
    remove: (b) => removeS3Backup(b, client),
  };
}

/** The names under the location (listing it also proves the bucket exists and the credentials work). */
async function namesIn(client: S3Client, loc: S3Loc): Promise<Set<string>> {
  const prefix = loc.prefix ? `${loc.prefix}/` : "";
  return new Set((await client.list(loc.bucket, prefix)).map((o) => o.key.slice(prefix.length)));
}

/** A stem whose archive and manifest names are both free (two backups in one second get -2, -3 …). */
async function freeS3Stem(client: S3Client, loc: S3Loc, database: string, at: Date, encrypted: boolean): Promise<string> {
  const names = await namesIn(client, loc);
  for (let n = 1; ; n++) {
    const stem = backupStem(database, at, n);
    if (!names.has(archiveName(stem, encrypted)) && !names.has(manifestName(stem))) return stem;
  }
}

/** A hidden key for the upload, named like a local partial file (so listings show it as one). */
const tempName = (name: string) => partialName(name, pid(), randomBytes(4).toString("hex"));

/**
 * Tests only, not for users: PGSHIP_TEST_PAUSE_BEFORE_PUBLISH_MS makes the process wait that long after the
 * upload was verified and before it is copied to its final name, so a test can kill -9 it there.
 */
async function pauseForTests(stopped: () => boolean): Promise<void> {
  const ms = Number(environment().PGSHIP_TEST_PAUSE_BEFORE_PUBLISH_MS);
  if (!Number.isSafeInteger(ms) || ms <= 0) return;
  for (const end = Date.now() + ms; Date.now() < end && !stopped(); ) await new Promise((r) => setTimeout(r, 50));
}

/** The verified temporary object copied (server-side) to its final name, whose size is checked by HEAD. */
async function publish(client: S3Client, loc: S3Loc, tmpKey: string, key: string, bytes: number): Promise<void> {
  await client.copy(loc.bucket, tmpKey, key, bytes);
  const head = await client.head(loc.bucket, key);
  if (!head || head.bytes !== bytes) {
    throw new PgshipError("backup_write_failed", `${s3Url(loc, key)} is ${head ? `${head.bytes} bytes` : "missing"} after the copy from ${s3Url(loc, tmpKey)}, ${bytes} were verified`, { hint: "run the backup again" });
  }
}

/** The temporary object removed once the backup is complete; a failure leaves it listed as a partial. */
async function dropTemp(client: S3Client, loc: S3Loc, tmpKey: string, warn: (m: string) => void): Promise<void> {
  await client.delete(loc.bucket, tmpKey).catch((e: unknown) => warn(`the backup is complete, but its temporary object ${s3Url(loc, tmpKey)} could not be deleted (${(e as Error).message}): 'backups --clean-partials' removes it`));
}

/** Ends with an error (so the upload is aborted, never completed) when pg_dump did not finish well. */
async function* endsWhenDumpSucceeded(src: AsyncIterable<Uint8Array>, dump: RunningProc, cancelled: () => boolean): AsyncGenerator<Uint8Array> {
  yield* src;
  const exit = await dump.exited;
  if (cancelled() || exit.code !== 0 || exit.spawnError) throw new Error("pg_dump did not finish");
}

/** Size by HEAD, then sha256 (and pg_restore --list when it can be decrypted) on the object read back. */
async function verifyUploaded(
  client: S3Client,
  loc: S3Loc,
  name: string,
  expect: { bytes: number; sha256: string; plainSha256: string },
  readKeys: DecryptKeys | null | "cannot-decrypt",
  pgRestore: PgTool,
  track: (p: RunningProc | null) => void,
  stopped: () => boolean,
): Promise<string> {
  const url = s3Url(loc, keyIn(loc, name));
  const head = await client.head(loc.bucket, keyIn(loc, name));
  if (!head || head.bytes !== expect.bytes) {
    throw new PgshipError("backup_write_failed", `${url} is ${head ? `${head.bytes} bytes` : "missing"} after the upload, ${expect.bytes} were sent`, { hint: "run the backup again" });
  }
  if (readKeys === "cannot-decrypt") {
    const m = new Meter();
    for await (const c of readChunks(url)) m.update(c);
    if (m.hex() !== expect.sha256) throw new PgshipError("backup_write_failed", `${url} reads back different from what was uploaded (sha256 ${m.hex()}, expected ${expect.sha256})`, { hint: "run the backup again" });
    return "size checked by HEAD, sha256 re-read from S3 (checksum only: encrypted to recipients, no secret key here to decrypt it)";
  }
  const back = await listArchive(url, url, readKeys, pgRestore, track, stopped, false);
  if (back.stored.hex() !== expect.sha256 || back.stored.bytes !== expect.bytes || (back.plainComplete && back.plain.hex() !== expect.plainSha256)) {
    throw new PgshipError("backup_write_failed", `${url} reads back different from what was uploaded, so it was not kept`, { hint: "run the backup again" });
  }
  return `size checked by HEAD, sha256 re-read from S3${readKeys ? ", decrypted up to the end of its table of contents" : ""}, table of contents listed by pg_restore ${pgRestore.version}`;
}

export async function takeBackupS3(db: Db, target: ConnectionTarget, req: BackupRequest, loc: S3Loc): Promise<TakenBackup> {
  const t0 = Date.now();
  const client = s3Client();
  const prep = await prepareDump(db, target, req);
  const { source, pgDump, pgRestore, env, compression } = prep;

  const createdAt = new Date();
  const encrypted = req.keys !== null;
  // Lists the location first: a missing bucket or refused credentials stop here, before pg_dump starts.
  const stem = await freeS3Stem(client, loc, source.database, createdAt, encrypted);
  const name = archiveName(stem, encrypted);
  const key = keyIn(loc, name);
  const url = s3Url(loc, key);
  const tmpName = tempName(name);
  const tmpKey = keyIn(loc, tmpName);
  const verifier = req.keys && "recipients" in req.keys ? await ephemeralIdentity() : null;
  const readKeys: DecryptKeys | null = !req.keys ? null : "passphrase" in req.keys ? { identities: [], passphrases: [req.keys.passphrase] } : { identities: [verifier!.identity], passphrases: [] };

  let active: RunningProc | null = null;
  let upload: UploadHandle | null = null;
  let sent: Uploaded | null = null;
  let uploaded = false;
  let published = false;
  let cancelled = false;
  let committed = false;
  const work = async (): Promise<Manifest> => {
    const dump = startProc(toolSpec(pgDump, pgDumpArgs(compression, pgDump.major), env), { stdout: "pipe" });
    active = dump;
    const plain = new Meter(S3_GC_EVERY);
    const stored = req.keys ? new Meter(S3_GC_EVERY) : plain;
    let src: AsyncIterable<Uint8Array> = tap(dump.stdout!, (c) => plain.update(c));
    if (req.keys) src = await encryptChunks(src, req.keys, verifier?.recipient);
    src = tap(src, (c) => {
      if (stored !== plain) stored.update(c);
      req.onProgress?.(stored.bytes);
    });
    upload = uploadStream(client, loc.bucket, tmpKey, endsWhenDumpSucceeded(src, dump, () => cancelled));
    const uploadError = await upload.done.then(
      (u) => {
        sent = u;
        // The object exists (even if cancelled meanwhile): from here on a failure deletes it.
        uploaded = true;
        return null;
      },
      (e: unknown) => {
        dump.kill("SIGKILL");
        return e;
      },
    );
    const exit = await dump.exited;
    active = null;
    if (cancelled) throw interrupted("during the backup: pg_dump and the upload were stopped and no backup was written");
    if (exit.spawnError) throw exit.spawnError;
    if (exit.code !== 0) {
      throw new PgshipError("pg_dump_failed", `backup failed: ${describeExit("pg_dump", exit)}`, {
        hint: exit.signal ? "pg_dump was stopped from outside; run the backup again" : "nothing was uploaded; fix the cause above and run the backup again",
      });
    }
    if (uploadError) {
      if (uploadError instanceof PgshipError || uploadError instanceof AgeError) throw uploadError;
      throw new PgshipError("s3_failed", `the upload to ${s3Url(loc, tmpKey)} failed: ${(uploadError as Error).message}`, { cause: uploadError });
    }
    if (plain.bytes === 0) throw new PgshipError("pg_dump_failed", "backup failed: pg_dump exited successfully but wrote nothing");

    const detail = await verifyUploaded(client, loc, tmpName, { bytes: stored.bytes, sha256: stored.hex(), plainSha256: plain.hex() }, readKeys, pgRestore, (p) => (active = p), () => cancelled).catch((e: unknown) => {
      if (cancelled) throw interrupted("during the backup's read-back: no backup was written");
      throw e instanceof PgshipError ? new PgshipError(e.code, `the new backup did not read back, so it was not kept: ${e.message}`, { hint: e.hint, cause: e }) : e;
    });
    const manifest = backupManifest(db, req, prep, { file: name, format: "custom", stored, plain, createdAt, t0, verified: detail });
    await pauseForTests(() => cancelled);
    if (cancelled) throw interrupted("before the backup was copied to its name: no backup was written");
    published = true;
    await publish(client, loc, tmpKey, key, stored.bytes);
    if (cancelled) throw interrupted("before the manifest was written: no backup was written");
    await putS3Manifest(s3Url(loc, keyIn(loc, manifestName(stem))), manifest, client);
    committed = true;
    await dropTemp(client, loc, tmpKey, (m) => req.emit({ type: "warn", message: m }));
    return manifest;
  };

  let manifest: Manifest;
  try {
    manifest = await req.interrupt.track(
      Object.assign(work(), {
        cancel: () => {
          cancelled = true;
          (upload as UploadHandle | null)?.cancel();
          (active as RunningProc | null)?.stop();
        },
      }),
    );
  } catch (e) {
    throw e instanceof AgeError ? new PgshipError("backup_corrupt", `the new backup does not decrypt, so it was not kept: ${e.message}`) : e;
  } finally {
    if (active) (active as RunningProc).kill("SIGKILL");
    if (!committed && uploaded) await client.delete(loc.bucket, tmpKey).catch(() => undefined);
    if (!committed && published) await client.delete(loc.bucket, key).catch(() => undefined);
  }
  let retention: RetentionOutcome | null;
  try {
    retention = await applyRetention(loc.url, manifest, req.retention, { dryRun: false, store: s3RetentionStore(loc, client) });
  } catch (e) {
    const err = e instanceof PgshipError ? e : new PgshipError("retention_failed", (e as Error).message, { cause: e });
    throw new PgshipError(err.code, `the backup was written (${url}), but retention failed: ${err.message}`, { hint: err.hint, cause: e });
  }
  const how = sent as Uploaded | null;
  return { archivePath: url, manifestPath: s3Url(loc, keyIn(loc, manifestName(stem))), manifest, pgDump, retention, ...(how ? { upload: { parts: how.parts, partBytes: how.partBytes } } : {}) };
}

export interface CopiedBackup {
  file: string;
  manifest: string;
  verified: string;
  retention: RetentionOutcome | null;
}

/**
 * `backup --copy-to s3://…`: the local backup's archive uploaded as it is (streamed from
 * the file), verified like a backup written there, then its manifest; then retention there.
 */
export async function copyBackupToS3(
  local: TakenBackup,
  loc: S3Loc,
  o: { keys: EncryptKeys | null; retention: RetentionPolicy; interrupt: BackupRequest["interrupt"]; onProgress?: (bytes: number) => void },
): Promise<CopiedBackup> {
  const client = s3Client();
  const m = local.manifest;
  const stem = stemOf(m.archive.file)!;
  const names = await namesIn(client, loc);
  if (names.has(m.archive.file) || names.has(manifestName(stem))) {
    throw new PgshipError("backup_write_failed", `${s3Url(loc, keyIn(loc, m.archive.file))} already exists`, { hint: "a backup of that name is already there; nothing was overwritten" });
  }
  const key = keyIn(loc, m.archive.file);
  const url = s3Url(loc, key);
  const tmpName = tempName(m.archive.file);
  const tmpKey = keyIn(loc, tmpName);
  const pgRestore = await siblingTool(local.pgDump, "pg_restore");
  const readKeys: DecryptKeys | null | "cannot-decrypt" = !o.keys ? null : "passphrase" in o.keys ? { identities: [], passphrases: [o.keys.passphrase] } : "cannot-decrypt";
  const sent = new Meter(S3_GC_EVERY);
  let upload: UploadHandle | null = null;
  let active: RunningProc | null = null;
  let uploaded = false;
  let published = false;
  let committed = false;
  let cancelled = false;
  const work = async (): Promise<CopiedBackup> => {
    upload = uploadStream(client, loc.bucket, tmpKey, tap(readChunks(local.archivePath), (c) => {
      sent.update(c);
      o.onProgress?.(sent.bytes);
    }));
    await upload.done.catch((e: unknown) => {
      throw cancelled ? interrupted("during the copy to S3: the upload was aborted") : e;
    });
    uploaded = true;
    if (cancelled) throw interrupted("during the copy to S3");
    if (sent.hex() !== m.archive.sha256) throw new PgshipError("backup_write_failed", `${local.archivePath} changed while it was copied (sha256 ${sent.hex()}, expected ${m.archive.sha256})`);
    const detail = await verifyUploaded(client, loc, tmpName, { bytes: m.archive.bytes, sha256: m.archive.sha256, plainSha256: m.archive.plainSha256 }, readKeys, pgRestore, (p) => (active = p), () => cancelled);
    const copy: Manifest = { ...m, verified: [...m.verified, { at: new Date().toISOString(), how: "readback", detail: `copied from ${local.archivePath}: ${detail}` }] };
    const manifestUrl = s3Url(loc, keyIn(loc, manifestName(stem)));
    await pauseForTests(() => cancelled);
    if (cancelled) throw interrupted("during the copy to S3");
    published = true;
    await publish(client, loc, tmpKey, key, m.archive.bytes);
    if (cancelled) throw interrupted("during the copy to S3");
    await putS3Manifest(manifestUrl, copy, client);
    committed = true;
    await dropTemp(client, loc, tmpKey, () => undefined);
    return { file: url, manifest: manifestUrl, verified: detail, retention: null };
  };
  let out: CopiedBackup;
  try {
    out = await o.interrupt.track(
      Object.assign(work(), {
        cancel: () => {
          cancelled = true;
          (upload as UploadHandle | null)?.cancel();
          (active as RunningProc | null)?.stop();
        },
      }),
    );
  } finally {
    if (!committed && uploaded) await client.delete(loc.bucket, tmpKey).catch(() => undefined);
    if (!committed && published) await client.delete(loc.bucket, key).catch(() => undefined);
  }
  out.retention = await applyRetention(loc.url, m, o.retention, { dryRun: false, store: s3RetentionStore(loc, client) });
  return out;
}
