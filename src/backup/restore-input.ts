// What restore and `backups verify` check about a file before reading it:
// that it has a sound manifest of this app (or the user said it need not),
// and that the keys given fit how it is encrypted.

import { closeSync, constants, fstatSync, openSync, readSync, statfsSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PgshipError, UsageError } from "../core/errors.ts";
import { ageStanzaTypes, decryptChunks, type DecryptKeys } from "./age-stream.ts";
import { meterFor, readChunks, type Meter } from "./pipeline.ts";
import { isS3 } from "./location.ts";
import { isTar } from "./tar.ts";
import { fileSink, privateTempDir, type ArchiveFormat, type TempDir } from "./unpack.ts";
import { isAgeFile } from "./archive-header.ts";
import { hasDecryptKeys } from "./keys.ts";
import type { Manifest } from "./manifest.ts";
import type { StoredBackup } from "./store.ts";
import { brand } from "../brand.ts";

export function checkedBackup(b: StoredBackup, file: string, opts: { requireManifest: boolean; otherApp: boolean }): StoredBackup {
  if (b.status === "broken") {
    throw new PgshipError("backup_corrupt", `${file} cannot be restored: ${b.problems.join("; ")}`, {
      hint: `the backup is damaged or incomplete; list the others with '${brand.binary} backups --dir DIR'`,
    });
  }
  if (b.status === "no-manifest") {
    if (opts.requireManifest) {
      throw new PgshipError("backup_unverifiable", `${file} has no manifest beside it, so its checksum cannot be checked`, {
        hint: `restore a backup made by '${brand.binary} backup' (a .dump or .dump.age with its .manifest.json), or pass --no-manifest to restore a pg_dump -Fc archive you trust`,
      });
    }
    if (!b.archivePath) throw new PgshipError("backup_missing", `${file}: the archive is missing`);
    return b;
  }
  const m = b.manifest!;
  if (m.app !== brand.binary && !opts.otherApp) {
    throw new PgshipError("backup_foreign", `${file} is a backup of ${m.app}'s database "${m.database}", not ${brand.binary}'s`, {
      hint: `restore it with ${m.app}, or pass --other-app if you really mean to load it here`,
    });
  }
  return b;
}

function firstBytes(path: string, n: number): Uint8Array {
  let fd: number;
  try {
    // Never blocks: a FIFO or device given as a backup is refused below, not waited on.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    throw new PgshipError("backup_unreadable", `cannot read ${path}: ${(e as Error).message}`, { hint: "check the file's permissions (backups are created 0600, readable by their owner only)", cause: e });
  }
  try {
    if (!fstatSync(fd).isFile()) throw new PgshipError("backup_unreadable", `${path}: not a regular file`, { hint: "pass the .dump (or .dump.age) file of a backup" });
    const buf = new Uint8Array(n);
    const got = readSync(fd, buf, 0, n, 0);
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/**
 * The keys to decrypt with, or null for an unencrypted file. An encrypted
 * file without the right kind of key is refused here, before any work, with
 * the flag to pass (exit 2).
 */
export function keysFor(b: StoredBackup, file: string, keys: DecryptKeys): DecryptKeys | null {
  const head = b.head ?? firstBytes(b.archivePath!, 4096);
  const encrypted = b.manifest ? b.manifest.encryption !== null : isAgeFile(head);
  if (b.manifest && (b.manifest.encryption !== null) !== isAgeFile(head)) {
    throw new PgshipError("backup_corrupt", `${file} is ${isAgeFile(head) ? "" : "not "}age-encrypted, but its manifest says otherwise`, { hint: "the file was replaced or damaged; use another backup" });
  }
  if (!encrypted) return null;
  const stanzas = ageStanzaTypes(head);
  const byPassphrase = b.manifest ? b.manifest.encryption!.mode === "passphrase" : stanzas.includes("scrypt");
  if (byPassphrase && !keys.passphrases.length) {
    throw new UsageError(`${file} is encrypted with a passphrase`, "pass --passphrase-file FILE holding it");
  }
  if (!byPassphrase && !keys.identities.length) {
    const to = b.manifest?.encryption?.mode === "recipients" ? ` to ${b.manifest.encryption.recipients.join(", ")}` : "";
    throw new UsageError(`${file} is encrypted${to}`, "pass --identity KEYFILE with the matching age secret key (AGE-SECRET-KEY-1…)");
  }
  if (!hasDecryptKeys(keys)) throw new UsageError(`${file} is encrypted: pass --identity or --passphrase-file`);
  return keys;
}

/** What to say when the key given does not open the file. */
export function wrongKeyHint(b: StoredBackup): string {
  const e = b.manifest?.encryption;
  if (e?.mode === "recipients") return `it is encrypted to ${e.recipients.join(", ")}; pass the identity file of one of them (age-keygen -y KEYFILE prints a key's recipient)`;
  if (e?.mode === "passphrase") return "the passphrase is wrong; check the --passphrase-file";
  return "pass the identity or passphrase it was encrypted with";
}

/**
 * The stored bytes are the ones the manifest vouches for: the size first (a file
 * cut short is refused before it is read), then the sha256 of every stored byte,
 * read to the end without decrypting (cheap next to a restore). A restore calls
 * this before it touches anything; the restore pass checks both sha256 again on
 * the bytes it actually restores.
 */
export async function matchManifestStored(m: Manifest, b: { archivePath: string | null; archiveBytes: number | null }, file: string, interrupt: { check(): void }): Promise<void> {
  const size = b.archiveBytes ?? (isS3(b.archivePath!) ? null : statSync(b.archivePath!).size);
  if (size !== null && size !== m.archive.bytes) throw storedDamaged(file, `it is ${size} bytes, the manifest says ${m.archive.bytes}`);
  checkStored(m, await readStored(b.archivePath!, interrupt), file);
}

/** Every stored byte of `path` counted and hashed (and handed to `write`, when given). */
async function readStored(path: string, interrupt: { check(): void }, write?: (chunk: Uint8Array) => Promise<void>): Promise<Meter> {
  const meter = meterFor(path);
  for await (const chunk of readChunks(path)) {
    meter.update(chunk);
    await write?.(chunk);
    interrupt.check();
  }
  return meter;
}

const storedDamaged = (file: string, what: string) =>
  new PgshipError("backup_corrupt", `${file} does not match its manifest: ${what}`, { hint: "the file was cut short, modified or damaged after it was written; use another backup" });

function checkStored(m: Manifest, meter: Meter, file: string): void {
  if (meter.bytes !== m.archive.bytes) throw storedDamaged(file, `it is ${meter.bytes} bytes, the manifest says ${m.archive.bytes}`);
  if (meter.hex() !== m.archive.sha256) throw storedDamaged(file, `its sha256 is ${meter.hex()}, the manifest says ${m.archive.sha256}`);
}

/** Room left free on the temporary directory's disk beyond a downloaded archive (the database may live there too). */
const DOWNLOAD_MARGIN = 256 * 1024 * 1024;

/**
 * matchManifestStored for an archive in S3, downloading it once into a private temporary file
 * (0600 in a 0700 directory, removed by the caller, at the latest at exit) while its size and
 * sha256 are checked: the later passes read that copy instead of downloading it again. null
 * (nothing downloaded) when TMPDIR's disk cannot hold the archive with 256 MiB to spare, or
 * fills up meanwhile: the caller then streams it from S3 for each pass.
 */
export async function downloadChecked(m: Manifest, b: { archivePath: string | null; archiveBytes: number | null }, file: string, interrupt: { check(): void }): Promise<(TempDir & { file: string }) | null> {
  if (b.archiveBytes !== null && b.archiveBytes !== m.archive.bytes) throw storedDamaged(file, `it is ${b.archiveBytes} bytes, the manifest says ${m.archive.bytes}`);
  try {
    const fs = statfsSync(tmpdir());
    if (fs.bavail * fs.bsize < m.archive.bytes + DOWNLOAD_MARGIN) return null;
  } catch {
    return null;
  }
  let dir: TempDir;
  try {
    dir = privateTempDir("download");
  } catch {
    return null;
  }
  const copy = join(dir.path, "archive");
  try {
    const sink = await fileSink(copy);
    try {
      checkStored(m, await readStored(b.archivePath!, interrupt, sink.write), file);
    } finally {
      await sink.close();
    }
    return { ...dir, file: copy };
  } catch (e) {
    dir.remove();
    if (["ENOSPC", "EDQUOT"].includes((e as NodeJS.ErrnoException).code ?? "")) return null;
    throw e;
  }
}

/** The file read back as its manifest says it was written. */
export function matchManifest(m: Manifest | null, sha256: string, plainSha256: string | null, file: string): void {
  if (!m) return;
  if (sha256 !== m.archive.sha256) {
    throw new PgshipError("backup_corrupt", `${file} does not match its manifest: sha256 ${sha256}, the manifest says ${m.archive.sha256}`, {
      hint: "the file was modified or damaged after it was written; use another backup",
    });
  }
  if (plainSha256 !== null && plainSha256 !== m.archive.plainSha256) {
    throw new PgshipError("backup_corrupt", `${file} decrypts to something other than what was backed up (sha256 ${plainSha256}, expected ${m.archive.plainSha256})`, { hint: "use another backup" });
  }
}

/**
 * How the archive is stored: as its manifest says; without one, from its first
 * (decrypted) bytes: a tar stream is a directory-format backup. A file that
 * does not decrypt is called custom here; the check pass then says why.
 */
export async function archiveFormat(b: StoredBackup, keys: DecryptKeys | null): Promise<ArchiveFormat> {
  if (b.manifest) return b.manifest.archive.format;
  if (!keys) return isTar(firstBytes(b.archivePath!, 512)) ? "directory" : "custom";
  try {
    const it = await decryptChunks(readChunks(b.archivePath!), keys);
    const first = await it.next();
    await it.return(undefined);
    return !first.done && isTar(first.value) ? "directory" : "custom";
  } catch {
    return "custom";
  }
}
