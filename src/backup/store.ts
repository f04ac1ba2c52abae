// A directory of backups on disk: listing (archive + manifest pairs, checked
// cheaply), finding the manifest of a file, writing files atomically with
// mode 0600, and removing a backup. The only module that lays out the files.

import { brand } from "../brand.ts";
import { closeSync, existsSync, fsyncSync, openSync, readdirSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { readExistingFile } from "../core/files.ts";
import { basename, dirname, join, resolve } from "node:path";
import { PgshipError } from "../core/errors.ts";
import { ARCHIVE_EXT, ENCRYPTED_EXT, isPartialName, MANIFEST_EXT, manifestName, parseManifest, serialiseManifest, stemOf, type Manifest } from "./manifest.ts";

export interface StoredBackup {
  stem: string;
  dir: string;
  archivePath: string | null;
  manifestPath: string | null;
  manifest: Manifest | null;
  archiveBytes: number | null;
  /** ok: manifest valid, archive present with the recorded size. */
  status: "ok" | "broken" | "no-manifest";
  problems: string[];
  /** The archive's first bytes, when already fetched (a backup in S3). */
  head?: Uint8Array;
}

export interface Listing {
  backups: StoredBackup[];
  /** Hidden temporary files left by interrupted backups. */
  partials: string[];
}

const sizeOf = (p: string): number | null => {
  try {
    return statSync(p).size;
  } catch {
    return null;
  }
};

export function readStored(dir: string, stem: string): StoredBackup {
  const mPath = join(dir, manifestName(stem));
  const b: StoredBackup = { stem, dir, archivePath: null, manifestPath: null, manifest: null, archiveBytes: null, status: "ok", problems: [] };
  if (existsSync(mPath)) {
    b.manifestPath = mPath;
    let text: string;
    try {
      text = readExistingFile(mPath, "backup manifest");
    } catch (e) {
      // `manifest: what is wrong` (a FIFO or directory by that name is never opened for a blocking read).
      throw new PgshipError("backup_unreadable", (e as Error).message, { hint: "check the file's permissions (backups are created 0600, readable by their owner only)", cause: e });
    }
    const parsed = parseManifest(text);
    if (parsed.ok) b.manifest = parsed.manifest;
    else b.problems.push(`manifest: ${parsed.problems.join("; ")}`);
  }
  const candidates = b.manifest ? [join(dir, b.manifest.archive.file)] : [join(dir, stem + ENCRYPTED_EXT), join(dir, stem + ARCHIVE_EXT)];
  b.archivePath = candidates.find((p) => existsSync(p)) ?? null;
  b.archiveBytes = b.archivePath ? sizeOf(b.archivePath) : null;
  return judged(b);
}

/** Sets `status` (and its problems) from what was found: the manifest, the archive, its size. Any store. */
export function judged(b: StoredBackup): StoredBackup {
  if (!b.manifestPath) {
    b.status = "no-manifest";
    b.problems.push(`no manifest: not written by ${brand.display}, or its backup was interrupted before it finished`);
  } else if (!b.manifest) {
    b.status = "broken";
  } else if (!b.archivePath) {
    b.status = "broken";
    b.problems.push(`archive ${b.manifest.archive.file} is missing`);
  } else if (b.archiveBytes !== b.manifest.archive.bytes) {
    b.status = "broken";
    b.problems.push(`archive is ${b.archiveBytes} bytes, the manifest says ${b.manifest.archive.bytes} (truncated or replaced)`);
  }
  return b;
}

/** Every backup in a directory, oldest first. */
export function listBackups(dir: string): Listing {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new PgshipError("backup_dir", code === "ENOENT" ? `backup directory ${dir} does not exist` : `cannot read backup directory ${dir}: ${(e as Error).message}`, {
      hint: code === "ENOENT" ? "check the path given to --dir" : undefined,
      cause: e,
    });
  }
  const stems = new Set<string>();
  const partials: string[] = [];
  for (const n of names) {
    if (isPartialName(n)) partials.push(join(dir, n));
    else if (!n.startsWith(".")) {
      const stem = stemOf(n);
      if (stem) stems.add(stem);
    }
  }
  const backups = [...stems].map((s) => readStored(dir, s));
  const when = (b: StoredBackup) => b.manifest?.createdAt ?? "";
  backups.sort((a, b) => (when(a) < when(b) ? -1 : when(a) > when(b) ? 1 : a.stem < b.stem ? -1 : 1));
  return { backups, partials };
}

/**
 * The backup a user names: its archive or its manifest. A file without a
 * manifest comes back with status "no-manifest".
 */
export function resolveBackupFile(file: string): StoredBackup {
  const path = resolve(file);
  if (!existsSync(path)) throw new PgshipError("backup_missing", `${file} does not exist`, { hint: `list the backups with '${brand.binary} backups --dir DIR'` });
  if (statSync(path).isDirectory()) throw new PgshipError("backup_missing", `${file} is a directory, not a backup file`, { hint: `list its backups with '${brand.binary} backups --dir ${file}'` });
  const dir = dirname(path);
  const stem = stemOf(basename(path));
  if (stem) {
    const b = readStored(dir, stem);
    if (b.manifest && !path.endsWith(MANIFEST_EXT) && basename(path) !== b.manifest.archive.file) {
      // The manifest beside it belongs to another file: treat the named file on its own.
    } else if (b.manifestPath || path.endsWith(MANIFEST_EXT)) {
      return b;
    }
  }
  const bytes = sizeOf(path);
  return { stem: stem ?? basename(path), dir, archivePath: path, manifestPath: null, manifest: null, archiveBytes: bytes, status: "no-manifest", problems: ["no manifest beside it"] };
}

/** Writes a small file under a temporary name, fsyncs it and renames it into place: never half a file. */
export function writeFileAtomic(path: string, text: string, mode = 0o600): void {
  const tmp = join(dirname(path), `.${basename(path)}.partial-${process.pid}-m`);
  const fd = openSync(tmp, "w", mode);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  fsyncDir(dirname(path));
}

export function saveManifest(path: string, m: Manifest): void {
  writeFileAtomic(path, serialiseManifest(m));
}

/** Makes renames in a directory durable. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch (e) {
    // Some platforms and file systems cannot fsync a directory; the data files themselves are fsynced.
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== "EISDIR" && code !== "EINVAL" && code !== "EPERM" && code !== "EBADF") throw e;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Removes a backup: the manifest first, so a half-removed backup never looks good. */
export function removeBackup(b: StoredBackup): void {
  for (const p of [b.manifestPath, b.archivePath]) {
    if (!p) continue;
    try {
      unlinkSync(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
  }
}

export function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone, or never created: nothing to clean up.
  }
}
