// Streaming an archive into a database: into a new database with pg_restore,
// or in place through `pg_restore -f -` and `psql --single-transaction`, where
// the transaction commits only when the input ends. Input is ended only after
// the whole file was read and its hashes matched the ones checked before;
// on any failure psql is killed, so the server rolls everything back.

import { brand } from "../brand.ts";
import type { ConnectionTarget } from "../core/config.ts";
import { PgshipError } from "../core/errors.ts";
import { toolSpec, type PgTool } from "../tools/pg-tools.ts";
import { describeExit, endInput, startProc, writeChunk, type RunningProc } from "../tools/proc.ts";
import { AgeError, type DecryptKeys } from "./age-stream.ts";
import { join } from "node:path";
import { decryptError, streamArchive, tarCorrupt } from "./read.ts";
import { TarError } from "./tar.ts";
import { tap } from "./pipeline.ts";
import { interrupted } from "../core/cancel.ts";
import { privateTempDir, UNPACKED_ARCHIVE, unpackInto, type ArchiveFormat } from "./unpack.ts";
import { pgRestoreArgs, pgRestoreScriptArgs, psqlScriptArgs, toolEnv, type OwnershipFlags } from "./tool-args.ts";

export interface RestoreInput {
  path: string;
  /** The name people know the file by, for messages. */
  file: string;
  keys: DecryptKeys | null;
  /** The hashes the file must have (from the check pass, or the manifest); null when nothing is known. */
  expected: { sha256: string; plainSha256: string; fromManifest?: boolean } | null;
  ownership: OwnershipFlags;
  target: ConnectionTarget;
  /** How the archive is stored (the manifest's archive.format); absent: custom. */
  format?: ArchiveFormat;
  /** pg_restore workers: above 1, the archive is unpacked into a private temporary directory first (pg_restore -j cannot read a pipe). */
  jobs?: number;
  /** The user interrupted: stop unpacking. */
  stopped?: () => boolean;
  /** Registers the running processes, so an interrupt can stop them. */
  track(procs: RunningProc[]): void;
  onBytes?: (n: number) => void;
}

function hashesDiffer(input: RestoreInput, stored: string, plain: string): PgshipError | null {
  const e = input.expected;
  if (!e || (e.sha256 === stored && e.plainSha256 === plain)) return null;
  if (e.fromManifest) {
    return e.sha256 !== stored
      ? new PgshipError("backup_corrupt", `${input.file} does not match its manifest: sha256 ${stored}, the manifest says ${e.sha256}`, { hint: "the file was modified or damaged after it was written; use another backup" })
      : new PgshipError("backup_corrupt", `${input.file} decrypts to something other than what was backed up (sha256 ${plain}, expected ${e.plainSha256})`, { hint: "use another backup" });
  }
  return new PgshipError("backup_corrupt", `${input.file} does not match the checksum it should have (sha256 ${stored}, expected ${e.sha256})`, {
    hint: "the file is damaged, or something changed it during the restore; use another backup, or copy it somewhere safe and retry",
  });
}

const stop = async (procs: RunningProc[]) => {
  for (const p of procs) p.kill("SIGKILL");
  await Promise.all(procs.map((p) => p.exited));
};

/**
 * Unpacks the archive into a private temporary directory (a directory-format
 * one's files, or a custom-format one as archive.dump), checking its hashes,
 * and runs `use` on what pg_restore is to read; the directory is removed
 * whatever happens.
 */
async function withUnpacked<T>(input: RestoreInput, use: (path: string) => Promise<T>): Promise<T> {
  const format = input.format ?? "custom";
  const tmp = privateTempDir("restore");
  try {
    let r;
    try {
      const unpack = unpackInto(tmp.path, format);
      const stopping = (c: Uint8Array) => {
        if (input.stopped?.()) throw interrupted("while unpacking the backup: nothing was changed");
      };
      r = await streamArchive(input.path, { keys: input.keys, into: null, sink: (src) => unpack(tap(src, stopping)), drain: true, onBytes: input.onBytes });
    } catch (e) {
      throw e instanceof TarError ? tarCorrupt(input.file, e) : e;
    }
    const differ = hashesDiffer(input, r.stored.hex(), r.plain.hex());
    if (differ) throw differ;
    if (input.stopped?.()) throw interrupted("after unpacking the backup: nothing was changed");
    return await use(format === "custom" ? join(tmp.path, UNPACKED_ARCHIVE) : tmp.path);
  } finally {
    tmp.remove();
  }
}

const unpacks = (input: RestoreInput) => input.format === "directory" || (input.jobs ?? 1) > 1;

/** pg_restore into an existing (new, empty) database. The caller drops the database if this throws. */
export async function restoreInto(database: string, pgRestore: PgTool, input: RestoreInput): Promise<void> {
  const env = toolEnv(input.target, database, `${brand.binary} restore`);
  if (unpacks(input)) {
    try {
      return await withUnpacked(input, async (path) => {
        const child = startProc(toolSpec(pgRestore, pgRestoreArgs(database, input.ownership, { path, jobs: input.jobs ?? 1 }), env), {});
        input.track([child]);
        const exit = await child.exited;
        if (exit.code !== 0) throw new PgshipError("restore_failed", `restore failed: ${describeExit("pg_restore", exit)}`, { hint: "nothing was swapped in; the database as it was is untouched" });
      });
    } catch (e) {
      throw e instanceof AgeError ? decryptError(e, input.file) : e;
    } finally {
      input.track([]);
    }
  }
  const child = startProc(toolSpec(pgRestore, pgRestoreArgs(database, input.ownership), env, { stdin: true }), { stdin: "pipe" });
  input.track([child]);
  try {
    const r = await streamArchive(input.path, { keys: input.keys, into: child, drain: false, onBytes: input.onBytes });
    if (r.closedEarly) {
      const exit = await child.exited;
      throw new PgshipError("restore_failed", `restore failed: ${describeExit("pg_restore", exit)}`, { hint: "nothing was swapped in; the database as it was is untouched" });
    }
    const differ = hashesDiffer(input, r.stored.hex(), r.plain.hex());
    if (differ) throw differ;
    endInput(child);
    const exit = await child.exited;
    if (exit.code !== 0) throw new PgshipError("restore_failed", `restore failed: ${describeExit("pg_restore", exit)}`, { hint: "nothing was swapped in; the database as it was is untouched" });
  } catch (e) {
    await stop([child]);
    throw e instanceof AgeError ? decryptError(e, input.file) : e;
  } finally {
    input.track([]);
  }
}

/** How much of pg_restore's script is held back until the file checked out: its COMMIT and trailer are in the last few lines. */
const HELD_TAIL = 64 * 1024;

/**
 * Forwards pg_restore's script to psql except its last HELD_TAIL bytes, which
 * hold the script's only COMMIT: psql cannot commit until pgship sends them.
 */
async function forwardHoldingTail(src: AsyncIterable<Uint8Array>, runner: RunningProc): Promise<{ open: boolean; tail: Uint8Array[] }> {
  const held: Uint8Array[] = [];
  let heldBytes = 0;
  let open = true;
  for await (const chunk of src) {
    held.push(chunk);
    heldBytes += chunk.length;
    while (open && held.length > 1 && heldBytes - held[0]!.length >= HELD_TAIL) {
      const first = held.shift()!;
      heldBytes -= first.length;
      open = await writeChunk(runner, first);
    }
    if (!open) break;
  }
  return { open, tail: held };
}

/**
 * Replaces the contents of `database` in one transaction: psql runs the
 * preamble (BEGIN, drop what is there) and pg_restore's script, whose final
 * COMMIT reaches psql only after the whole file was read, its checksums
 * matched and pg_restore finished. If pgship dies before that, psql's input
 * ends without a COMMIT and the server rolls the transaction back.
 */
export async function restoreInPlace(database: string, pgRestore: PgTool, psql: PgTool, preamble: string, input: RestoreInput): Promise<void> {
  // A directory-format archive is unpacked (and its hashes checked) before the transaction opens; pg_restore then reads the directory.
  if (input.format === "directory") {
    try {
      return await withUnpacked(input, (path) => inPlaceFrom(path, database, pgRestore, psql, preamble, input));
    } catch (e) {
      throw e instanceof AgeError ? decryptError(e, input.file) : e;
    }
  }
  return inPlaceFrom(null, database, pgRestore, psql, preamble, input);
}

async function inPlaceFrom(path: string | null, database: string, pgRestore: PgTool, psql: PgTool, preamble: string, input: RestoreInput): Promise<void> {
  const env = toolEnv(input.target, database, `${brand.binary} restore`);
  const runner = startProc(toolSpec(psql, psqlScriptArgs(database), env, { stdin: true }), { stdin: "pipe" });
  const script = startProc(toolSpec(pgRestore, pgRestoreScriptArgs(input.ownership, path ?? undefined), {}, { stdin: !path }), { stdin: path ? "ignore" : "pipe", stdout: "pipe" });
  // psql stopping early (ON_ERROR_STOP) must not leave pg_restore blocked on a full pipe.
  let finishing = false;
  void runner.exited.then(() => {
    if (!finishing) script.kill("SIGKILL");
  });
  input.track([runner, script]);
  const failed = async (what: string, proc: RunningProc): Promise<never> => {
    const exit = await proc.exited;
    throw new PgshipError("restore_failed", `restore failed, nothing was changed: ${describeExit(what, exit)}`, {
      hint: /must be owner|permission denied/i.test(exit.stderr)
        ? "an in-place restore replaces every object in the database, so the role must own them all; restore as the owner, or give the role CREATEDB to restore beside and swap"
        : /lock timeout|canceling statement due to lock/i.test(exit.stderr)
          ? "other sessions held locks for longer than --lock-timeout; stop the app or raise --lock-timeout"
          : undefined,
    });
  };
  try {
    if (!(await writeChunk(runner, new TextEncoder().encode(preamble)))) return await failed("psql", runner);
    const forward = forwardHoldingTail(script.stdout!, runner).catch(() => ({ open: false, tail: [] as Uint8Array[] }));
    if (!path) {
      const r = await streamArchive(input.path, { keys: input.keys, into: script, drain: false, onBytes: input.onBytes });
      if (r.closedEarly) return await failed(runner.hasExited ? "psql" : "pg_restore", runner.hasExited ? runner : script);
      const differ = hashesDiffer(input, r.stored.hex(), r.plain.hex());
      if (differ) throw differ;
      endInput(script);
    }
    const { open, tail } = await forward;
    const scriptExit = await script.exited;
    if (!open || runner.hasExited) return await failed("psql", runner);
    if (scriptExit.code !== 0) return await failed("pg_restore", script);
    if (!Buffer.concat(tail).toString("latin1").includes("\nCOMMIT;")) {
      throw new PgshipError("restore_failed", "restore failed, nothing was changed: the end of pg_restore's script holds no COMMIT", { hint: "report this with your pg_restore version" });
    }
    // Everything read, checksums matched, pg_restore done: now psql may commit.
    finishing = true;
    for (const chunk of tail) if (!(await writeChunk(runner, chunk))) return await failed("psql", runner);
    endInput(runner);
    const exit = await runner.exited;
    if (exit.code !== 0) return await failed("psql", runner);
  } catch (e) {
    // psql first: killing it mid-transaction is what makes the server roll back.
    await stop([runner, script]);
    throw e instanceof AgeError ? decryptError(e, input.file) : e;
  } finally {
    input.track([]);
  }
}
