// Reading a backup file back: stored bytes hashed, decrypted when encrypted,
// plain bytes hashed, and fed to a pg_restore (--list to check it, or a real
// restore). One pass, streamed. Used when a backup is written (read back),
// before a restore touches anything, and by `backups verify`.

import { brand } from "../brand.ts";
import { ExitCode, PgshipError } from "../core/errors.ts";
import { closeSync, openSync, readSync } from "node:fs";
import { join } from "node:path";
import { describeExit, startProc, type ProcExit, type RunningProc } from "../tools/proc.ts";
import { toolSpec, type PgTool } from "../tools/pg-tools.ts";
import { AgeError, decryptChunks, type DecryptKeys } from "./age-stream.ts";
import { canRead, firstMajorWriting, majorOf, maxFormatMinor, parseArchiveHeader, type ArchiveHeader } from "./archive-header.ts";
import { feed, HeadKeeper, meterFor, readChunks, tap, type Meter } from "./pipeline.ts";
import { TarError } from "./tar.ts";
import { pgRestoreListArgs, pgRestoreReadAllArgs } from "./tool-args.ts";
import { privateTempDir, unpackInto, type ArchiveFormat } from "./unpack.ts";

export interface StreamResult {
  stored: Meter;
  plain: Meter;
  /** The first bytes of the plain archive (its header). */
  head: Uint8Array;
  /** The consumer closed its input before the end (pg_restore --list has what it needs, or died). */
  closedEarly: boolean;
  /** `plain` covers the whole archive (false when decryption stopped early, see decryptAll). */
  plainComplete: boolean;
}

export interface StreamOptions {
  /** Decrypt with these keys; null when the file is not encrypted. */
  keys: DecryptKeys | null;
  /** Where the plain archive goes; null only hashes it (or hands it to `sink`). */
  into: RunningProc | null;
  /** Consumes the plain archive instead of a process (unpacking it into a directory); closedEarly: it stopped reading. */
  sink?: (src: AsyncIterable<Uint8Array>) => Promise<{ closedEarly: boolean }>;
  /** Keep reading after the consumer stopped, so the hashes cover the whole file (false: they cover what was read). */
  drain: boolean;
  /** Stop draining (the user interrupted). */
  stop?: () => boolean;
  /**
   * With false, an encrypted file is decrypted only as far as the consumer
   * reads (pg_restore --list stops after the table of contents); the rest is
   * only hashed as stored. Decrypting runs at ~140 MiB/s, hashing at GB/s.
   */
  decryptAll?: boolean;
  onBytes?: (storedBytes: number) => void;
}

/** A file that fails to decrypt, in words that say what to do. */
export function decryptError(e: AgeError, file: string, expected?: string): PgshipError {
  if (e.kind === "wrong-key") {
    return new PgshipError("wrong_key", `cannot decrypt ${file}: ${e.message}`, {
      hint: expected ?? "pass the age identity file it was encrypted to (--identity key.txt) or its --passphrase-file",
    });
  }
  if (e.kind === "not-age") return new PgshipError("backup_corrupt", `${file} is not a valid age file: ${e.message}`, { hint: `the file is damaged or not a ${brand.display} backup` });
  return new PgshipError("backup_corrupt", `${file} is damaged: ${e.message}`, { hint: "use another backup; this one cannot be restored" });
}

/**
 * Streams the file once. Decryption errors come back as AgeError (the caller
 * knows the file name and the keys); the consumer's exit status is the
 * caller's to check, and so is ending its input.
 */
export async function streamArchive(path: string, o: StreamOptions): Promise<StreamResult> {
  const stored = meterFor(path);
  // Unencrypted, the plain bytes are the stored ones: hash them once.
  const plain = o.keys ? meterFor(path) : stored;
  const head = new HeadKeeper(64 * 1024);
  const partial = o.keys !== null && o.decryptAll === false;
  // One read of the file (or one download of an S3 object): the stored bytes are hashed as they are
  // pulled, whoever pulls them (decryption reads ahead of its consumer), and a consumer that stops
  // early does not end the read, so the rest can still be hashed (a partial decryption).
  const file = readChunks(path)[Symbol.asyncIterator]();
  let ended = false;
  const pull = async (): Promise<IteratorResult<Uint8Array>> => {
    const r = await file.next();
    if (r.done) ended = true;
    else {
      stored.update(r.value);
      o.onBytes?.(stored.bytes);
    }
    return r;
  };
  let src: AsyncIterable<Uint8Array> = { [Symbol.asyncIterator]: () => ({ next: pull, return: async () => ({ done: true, value: undefined }) }) };
  try {
    if (o.keys) src = await decryptChunks(src, o.keys);
    src = tap(src, (c) => {
      if (plain !== stored) plain.update(c);
      head.update(c);
    });
    let closedEarly = false;
    if (o.into) ({ closedEarly } = await feed(src, o.into, { drain: o.drain && !partial, stop: o.stop }));
    else if (o.sink) ({ closedEarly } = await o.sink(src));
    else for await (const _ of src) void _;
    const plainComplete = !(partial && closedEarly);
    if (partial && o.drain) while (!ended && !o.stop?.()) await pull();
    return { stored, plain, head: head.bytes(), closedEarly, plainComplete };
  } finally {
    if (!ended) await file.return?.();
  }
}

export interface ListedArchive extends StreamResult {
  header: ArchiveHeader;
  format: ArchiveFormat;
}

/**
 * Reads the whole file, feeding the plain archive to `pg_restore --list`:
 * proves it decrypts (all of it, unless decryptAll is false), that pg_restore
 * reads its header and table of contents, and gives the hashes. Changes
 * nothing anywhere. `--list` stops after the table of contents; with `whole`,
 * pg_restore reads every data block too (into /dev/null), so a truncated
 * archive is refused. With hashAll false (a restore that checks the hashes
 * on its own pass, before anything it does becomes visible), reading stops
 * where pg_restore --list stops: the hashes cover only what was read.
 */
export async function listArchive(
  path: string,
  file: string,
  keys: DecryptKeys | null,
  pgRestore: PgTool,
  track: (p: RunningProc | null) => void,
  stopped: () => boolean = () => false,
  decryptAll = true,
  whole = false,
  format: ArchiveFormat = "custom",
  hashAll = true,
): Promise<ListedArchive> {
  if (format === "directory") return listDirectoryArchive(path, file, keys, pgRestore, track, stopped, decryptAll, whole, hashAll);
  const list = startProc(toolSpec(pgRestore, whole ? pgRestoreReadAllArgs() : pgRestoreListArgs(), {}, { stdin: true }), { stdin: "pipe", stdout: "ignore" });
  track(list);
  let r: StreamResult;
  try {
    r = await streamArchive(path, { keys, into: list, drain: hashAll || whole, stop: stopped, decryptAll: decryptAll || whole });
  } catch (e) {
    list.kill("SIGKILL");
    await list.exited;
    throw e instanceof AgeError ? decryptError(e, file) : e;
  } finally {
    track(null);
  }
  list.stdin?.end();
  const exit = await list.exited;
  if (stopped()) throw new PgshipError("interrupted", `interrupted while checking ${file}: nothing was changed`, { exitCode: ExitCode.interrupted });
  return { ...r, ...checkListed(file, r.head, exit, pgRestore, whole), format: "custom" };
}

/** The header read and the pg_restore run judged, for both formats. */
function checkListed(file: string, head: Uint8Array, exit: ProcExit, pgRestore: PgTool, whole: boolean): { header: ArchiveHeader } {
  const parsed = parseArchiveHeader(head);
  if (!parsed.ok) {
    throw new PgshipError("backup_corrupt", `${file} is not a pg_dump archive: ${parsed.reason}`, { hint: `${brand.display} restores the custom-format archives that '${brand.binary} backup' or 'pg_dump -Fc' write` });
  }
  if (!canRead(pgRestore.major, parsed.header)) throw newerArchiveError(file, parsed.header, pgRestore);
  if (exit.code !== 0 && whole) {
    throw new PgshipError("backup_corrupt", `${file} is truncated or damaged: pg_restore cannot read it to the end (${describeExit("pg_restore", exit)})`, {
      hint: "the archive is incomplete (a copy cut short?) or damaged; use another backup",
    });
  }
  if (exit.code !== 0) {
    throw new PgshipError("backup_corrupt", `${file} does not read back: ${describeExit("pg_restore --list", exit)}`, { hint: "the archive is damaged or incomplete; use another backup" });
  }
  return { header: parsed.header };
}

/** A tar stream that is not a sound directory-format archive. */
export const tarCorrupt = (file: string, e: TarError) =>
  new PgshipError("backup_corrupt", `${file} is damaged: ${e.message}`, { hint: "the archive is incomplete (a copy cut short?) or damaged; use another backup" });

/**
 * listArchive for a directory-format archive (a tar of pg_dump -Fd's files):
 * unpacked into a private temporary directory (only toc.dat, unless `whole`),
 * where pg_restore lists (or reads all of) it.
 */
async function listDirectoryArchive(
  path: string,
  file: string,
  keys: DecryptKeys | null,
  pgRestore: PgTool,
  track: (p: RunningProc | null) => void,
  stopped: () => boolean,
  decryptAll: boolean,
  whole: boolean,
  hashAll: boolean,
): Promise<ListedArchive> {
  const tmp = privateTempDir("check");
  try {
    let r: StreamResult;
    try {
      r = await streamArchive(path, { keys, into: null, sink: unpackInto(tmp.path, "directory", { tocOnly: !whole, drain: whole || (hashAll && (!keys || decryptAll)) }), drain: hashAll || whole, stop: stopped, decryptAll: decryptAll || whole });
    } catch (e) {
      if (stopped()) throw new PgshipError("interrupted", `interrupted while checking ${file}: nothing was changed`, { exitCode: ExitCode.interrupted });
      throw e instanceof AgeError ? decryptError(e, file) : e instanceof TarError ? tarCorrupt(file, e) : e;
    }
    if (stopped()) throw new PgshipError("interrupted", `interrupted while checking ${file}: nothing was changed`, { exitCode: ExitCode.interrupted });
    const head = firstBytesOf(join(tmp.path, "toc.dat"), 64 * 1024);
    const list = startProc(toolSpec(pgRestore, [...(whole ? pgRestoreReadAllArgs() : pgRestoreListArgs()), tmp.path], {}), { stdout: "ignore" });
    track(list);
    const exit = await list.exited.finally(() => track(null));
    if (stopped()) throw new PgshipError("interrupted", `interrupted while checking ${file}: nothing was changed`, { exitCode: ExitCode.interrupted });
    return { ...r, head, ...checkListed(file, head, exit, pgRestore, whole), format: "directory" };
  } finally {
    tmp.remove();
  }
}

function firstBytesOf(path: string, n: number): Uint8Array {
  const fd = openSync(path, "r");
  try {
    const buf = new Uint8Array(n);
    return buf.subarray(0, readSync(fd, buf, 0, n, 0));
  } finally {
    closeSync(fd);
  }
}

/** The archive needs a newer pg_restore than the one found: which one, and how to get it. */
export function newerArchiveError(file: string, h: ArchiveHeader, pgRestore: PgTool): PgshipError {
  const need = majorOf(h.dumpVersion) ?? firstMajorWriting(h.version[1]);
  const fmt = `${h.version[0]}.${h.version[1]}`;
  const reads = maxFormatMinor(pgRestore.major);
  return new PgshipError("tool_too_old", `${file} was written by pg_dump ${h.dumpVersion ?? "(unknown)"} (archive format ${fmt}); pg_restore ${pgRestore.version} here reads archive formats up to 1.${reads}`, {
    hint: need
      ? `install the PostgreSQL ${need} client tools (Debian/Ubuntu: apt install postgresql-client-${need}; macOS: brew install postgresql@${need}) and point --pg-bin at them, or run them in a container with --docker-container NAME`
      : "use a pg_restore at least as new as the pg_dump that wrote the archive",
  });
}
