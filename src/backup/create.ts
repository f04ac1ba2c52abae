// Taking a backup: pg_dump's custom archive streamed through sha256 (and age
// encryption) into a hidden temporary file, fsynced, read back (decrypted and
// listed by pg_restore), and only then renamed into place with its manifest.
// A backup that fails at any point leaves no file under a backup's name.
// Retention runs only after all of that, and never removes the new backup.

import type { Emit } from "../core/events.ts";
import { brand } from "../brand.ts";
import { randomBytes } from "node:crypto";
import { quoteIdent } from "../core/format.ts";
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { ConnectionTarget } from "../core/config.ts";
import { PgshipError } from "../core/errors.ts";
import type { Db } from "../db/connect.ts";
import { interrupted, type Interrupt } from "../core/cancel.ts";
import { trackingExists } from "../db/tracking.ts";
import { requireDumpable } from "../db/privileges.ts";
import { describeTool, locatePgTool, siblingTool, toolSpec, type PgTool, type ToolLocation } from "../tools/pg-tools.ts";
import { describeExit, runProc, startProc, type ProcExit, type RunningProc } from "../tools/proc.ts";
import { ignoreFileSizeSignal, pid } from "../runtime.ts";
import { AgeError, encryptChunks, ephemeralIdentity, PASSPHRASE_WORK_FACTOR, type DecryptKeys, type EncryptKeys } from "./age-stream.ts";
import { compressionCandidates, describeCompression, type Compression, type CompressionChoice } from "./compression.ts";
import { archiveName, backupStem, manifestName, MANIFEST_FORMAT, partialName, serialiseManifest, type Manifest, type Pin } from "./manifest.ts";
import { describeWriteError, Meter, tap, writeAll } from "./pipeline.ts";
import { listArchive } from "./read.ts";
import { applyRetention, type RetentionOutcome } from "./apply-retention.ts";
import type { RetentionPolicy } from "./retention.ts";
import { fsyncDir, removeQuietly, writeFileAtomic } from "./store.ts";
import { compressionProbeArgs, isUnsupportedCompression, pgDumpArgs, pgDumpDirectoryArgs, toolEnv } from "./tool-args.ts";
import { tarDirectory } from "./tar.ts";
import type { ArchiveFormat } from "./unpack.ts";

export interface BackupRequest {
  dir: string;
  /** The tracking schema, for the schema version. */
  schema: string;
  app: { name: string; version: string };
  tools: ToolLocation;
  compression: CompressionChoice;
  keys: EncryptKeys | null;
  retention: RetentionPolicy;
  interrupt: Interrupt;
  /** Dump with this many parallel pg_dump workers (a directory-format dump, archived as one tar stream); null: one custom-format stream. */
  jobs?: number | null;
  /** Warnings and debug lines, on the operation's event stream. */
  emit: Emit;
  onProgress?: (bytes: number) => void;
  /** Written into the manifest: the backup is pinned from the start (see pins.ts). */
  pin?: Pin;
}

export interface TakenBackup {
  archivePath: string;
  manifestPath: string;
  manifest: Manifest;
  pgDump: PgTool;
  retention: RetentionOutcome | null;
  /** In S3: how the archive was uploaded. */
  upload?: { parts: number; partBytes: number };
}

interface SourceInfo {
  database: string;
  databaseBytes: number | null;
  schemaVersion: string | null;
  running: string[];
}

export async function readSource(db: Db, schema: string): Promise<SourceInfo> {
  const [row] = await db.sql.unsafe<{ name: string; size: string | null }[]>(
    "select current_database() as name, case when has_database_privilege(current_database(), 'connect') then pg_database_size(current_database()) end as size",
  );
  let schemaVersion: string | null = null;
  let running: string[] = [];
  if (await trackingExists(db.sql, schema)) {
    const rows = await db.sql.unsafe<{ version: string; state: string }[]>(`select version, state from ${quoteIdent(schema)}.migrations order by version`);
    schemaVersion = rows.filter((r) => r.state === "applied").at(-1)?.version ?? null;
    running = rows.filter((r) => r.state === "running").map((r) => r.version);
  }
  return { database: row!.name, databaseBytes: row!.size === null ? null : Number(row!.size), schemaVersion, running };
}

/** The best compression this pg_dump supports, asking it when it is 16 or newer. */
export async function chooseCompression(pgDump: PgTool, choice: CompressionChoice, env: Record<string, string>): Promise<Compression> {
  const candidates = compressionCandidates(choice, pgDump.major);
  if (!candidates.length) {
    throw new PgshipError("compression_unsupported", `pg_dump ${pgDump.version} compresses custom archives with gzip only, not ${"method" in choice ? choice.method : "?"}`, {
      hint: "use --compress auto or gzip, or pg_dump 16 or newer for lz4 and zstd",
    });
  }
  if (pgDump.major < 16) return candidates[0]!;
  for (const c of candidates) {
    const r = await runProc(toolSpec(pgDump, compressionProbeArgs(c, pgDump.major), env));
    if (!isUnsupportedCompression(r.stderr)) return c;
  }
  throw new PgshipError("compression_unsupported", `${describeTool(pgDump)} supports none of ${candidates.map(describeCompression).join(", ")}`, { hint: "use --compress gzip" });
}

/** A stem whose archive and manifest names are both free (two backups in one second get -2, -3 …). */
function freeStem(dir: string, database: string, at: Date, encrypted: boolean): string {
  for (let n = 1; ; n++) {
    const stem = backupStem(database, at, n);
    if (!existsSync(join(dir, archiveName(stem, encrypted))) && !existsSync(join(dir, manifestName(stem)))) return stem;
  }
}

function dumpFailed(exit: ProcExit): void {
  if (exit.spawnError) throw exit.spawnError;
  if (exit.code !== 0) {
    throw new PgshipError("pg_dump_failed", `backup failed: ${describeExit("pg_dump", exit)}`, {
      hint: exit.signal ? "pg_dump was stopped from outside; run the backup again" : "nothing was written; fix the cause above and run the backup again",
    });
  }
}

/**
 * What every backup settles before pg_dump starts, wherever it goes: the GRANTs
 * pg_dump needs, what is being backed up, the tools and the compression.
 */
export async function prepareDump(db: Db, target: ConnectionTarget, req: BackupRequest) {
  // pg_dump reads every table: say which GRANT is missing before starting it.
  await requireDumpable(db.sql);
  const source = await readSource(db, req.schema);
  if (source.running.length) {
    req.emit({ type: "warn", message: `migration ${source.running.join(", ")} is marked running (interrupted?): the backup holds the database as it is now, part-way` });
  }
  const pgDump = await locatePgTool("pg_dump", Math.floor(db.serverVersionNum / 10000), req.tools);
  const pgRestore = await siblingTool(pgDump, "pg_restore").catch(() => locatePgTool("pg_restore", pgDump.major, req.tools));
  req.emit({ type: "debug", message: `using ${describeTool(pgDump)} and ${describeTool(pgRestore)}` });
  const env = toolEnv(target, source.database, `${brand.binary} backup`);
  const compression = await chooseCompression(pgDump, req.compression, env);
  req.interrupt.check();
  return { source, pgDump, pgRestore, env, compression };
}

/** The manifest of a backup whose archive was written and read back (`verified` says how). */
export function backupManifest(
  db: Db,
  req: BackupRequest,
  prep: Awaited<ReturnType<typeof prepareDump>>,
  a: { file: string; format: ArchiveFormat; stored: Meter; plain: Meter; createdAt: Date; t0: number; verified: string },
): Manifest {
  const { source, pgDump, compression } = prep;
  return {
    format: MANIFEST_FORMAT,
    app: req.app.name,
    appVersion: req.app.version,
    database: source.database,
    schemaVersion: source.schemaVersion,
    server: { version: db.serverVersion, versionNum: db.serverVersionNum },
    pgDump: { version: pgDump.version, major: pgDump.major },
    archive: { file: a.file, format: a.format, compression: describeCompression(compression), bytes: a.stored.bytes, sha256: a.stored.hex(), plainBytes: a.plain.bytes, plainSha256: a.plain.hex() },
    databaseBytes: source.databaseBytes,
    encryption: !req.keys ? null : "passphrase" in req.keys ? { tool: "age", mode: "passphrase", scryptWorkFactor: PASSPHRASE_WORK_FACTOR } : { tool: "age", mode: "recipients", recipients: req.keys.recipients },
    ...(req.pin ? { pinned: req.pin } : {}),
    createdAt: a.createdAt.toISOString(),
    durationMs: Date.now() - a.t0,
    verified: [{ at: new Date().toISOString(), how: "readback", detail: a.verified }],
  };
}

export async function takeBackup(db: Db, target: ConnectionTarget, req: BackupRequest): Promise<TakenBackup> {
  const t0 = Date.now();
  const dir = resolve(req.dir);
  const prep = await prepareDump(db, target, req);
  const { source, pgDump, pgRestore, env, compression } = prep;

  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new PgshipError("backup_dir", `cannot create backup directory ${dir}: ${(e as Error).message}`, { cause: e });
  }
  ignoreFileSizeSignal();
  const createdAt = new Date();
  const encrypted = req.keys !== null;
  const stem = freeStem(dir, source.database, createdAt, encrypted);
  const finalArchive = join(dir, archiveName(stem, encrypted));
  const finalManifest = join(dir, manifestName(stem));
  const tag = randomBytes(4).toString("hex");
  const tmpArchive = join(dir, partialName(archiveName(stem, encrypted), pid(), tag));
  const jobs = req.jobs ?? null;
  // pg_dump -Fd writes here (beside the archive: the same file system, with room for it); removed on every way out.
  const dumpDir = jobs ? join(dir, partialName(`${archiveName(stem, encrypted)}.d`, pid(), tag)) : null;
  const format: ArchiveFormat = jobs ? "directory" : "custom";

  // Recipient backups are also encrypted to a throwaway key, so they can be read
  // back here without the owner's secret key; the key is forgotten afterwards.
  const verifier = req.keys && "recipients" in req.keys ? await ephemeralIdentity() : null;
  const readKeys: DecryptKeys | null = !req.keys ? null : "passphrase" in req.keys ? { identities: [], passphrases: [req.keys.passphrase] } : { identities: [verifier!.identity], passphrases: [] };

  let active: RunningProc | null = null;
  let cancelled = false;
  let committed = false;
  let fh: FileHandle | undefined;
  const work = async (): Promise<Manifest> => {
    try {
      fh = await open(tmpArchive, "wx", 0o600);
    } catch (e) {
      throw describeWriteError(e, tmpArchive);
    }
    const dump = startProc(toolSpec(pgDump, dumpDir ? pgDumpDirectoryArgs(compression, pgDump.major, dumpDir, jobs!) : pgDumpArgs(compression, pgDump.major), env), { stdout: dumpDir ? "ignore" : "pipe" });
    active = dump;
    if (dumpDir) {
      // The parallel dump goes to its directory first; then its files flow through the same pipeline as one tar stream.
      const exit = await dump.exited;
      active = null;
      if (cancelled) throw interrupted("during the backup: pg_dump was stopped and no backup was written");
      dumpFailed(exit);
    }
    const plain = new Meter();
    // Unencrypted, the stored bytes are the plain ones: hash them once.
    const stored = req.keys ? new Meter() : plain;
    let src: AsyncIterable<Uint8Array> = tap(dumpDir ? tarDirectory(dumpDir) : dump.stdout!, (c) => plain.update(c));
    if (req.keys) src = await encryptChunks(src, req.keys, verifier?.recipient);
    src = tap(src, (c) => {
      if (stored !== plain) stored.update(c);
      req.onProgress?.(stored.bytes);
    });
    const writeError = await writeAll(src, fh).then(
      () => null,
      (e: unknown) => {
        dump.kill("SIGKILL");
        return e;
      },
    );
    const exit = await dump.exited;
    active = null;
    if (cancelled) throw interrupted("during the backup: pg_dump was stopped and no backup was written");
    if (writeError) throw writeError instanceof PgshipError ? writeError : describeWriteError(writeError, tmpArchive);
    dumpFailed(exit);
    if (dumpDir) rmSync(dumpDir, { recursive: true, force: true });
    if (plain.bytes === 0) throw new PgshipError("pg_dump_failed", "backup failed: pg_dump exited successfully but wrote nothing");
    try {
      await fh.sync();
      await fh.close();
      fh = undefined;
    } catch (e) {
      throw describeWriteError(e, tmpArchive);
    }

    // Read it back from disk: same bytes, decrypts, and pg_restore reads its table of contents.
    // Decrypted as far as pg_restore --list reads (like an unencrypted archive); every stored byte is re-hashed.
    const back = await listArchive(tmpArchive, finalArchive, readKeys, pgRestore, (p) => (active = p), () => cancelled, false, false, format).catch((e: unknown) => {
      if (cancelled) throw interrupted("during the backup's read-back: no backup was written");
      throw e instanceof PgshipError ? new PgshipError(e.code, `the new backup did not read back, so it was not kept: ${e.message}`, { hint: e.hint, cause: e }) : e;
    });
    if (back.stored.hex() !== stored.hex() || back.stored.bytes !== stored.bytes || (back.plainComplete && back.plain.hex() !== plain.hex())) {
      throw new PgshipError("backup_write_failed", `the new backup reads back different from what was written to ${tmpArchive}, so it was not kept`, { hint: "check the disk and file system; run the backup again" });
    }
    if (back.header.database !== source.database) req.emit({ type: "warn", message: `pg_dump archived database "${back.header.database}", expected "${source.database}"` });

    const verified = `sha256 re-read${encrypted ? ", decrypted up to the end of its table of contents" : ""}, table of contents listed by pg_restore ${pgRestore.version}`;
    const manifest = backupManifest(db, req, prep, { file: archiveName(stem, encrypted), format, stored, plain, createdAt, t0, verified });
    if (cancelled) throw interrupted("before the backup was renamed into place: no backup was written");
    // The archive gets its final name first and the manifest last: a backup is
    // complete exactly when its manifest exists.
    renameSync(tmpArchive, finalArchive);
    try {
      writeFileAtomic(finalManifest, serialiseManifest(manifest));
    } catch (e) {
      removeQuietly(finalArchive);
      throw describeWriteError(e, finalManifest);
    }
    committed = true;
    fsyncDir(dir);
    return manifest;
  };

  let manifest: Manifest;
  try {
    const run = work();
    manifest = await req.interrupt.track(
      Object.assign(run, {
        cancel: () => {
          cancelled = true;
          active?.stop();
        },
      }),
    );
  } catch (e) {
    throw e instanceof AgeError ? new PgshipError("backup_corrupt", `the new backup does not decrypt, so it was not kept: ${e.message}`) : e;
  } finally {
    if (active) (active as RunningProc).kill("SIGKILL");
    await fh?.close().catch(() => undefined);
    if (!committed) removeQuietly(tmpArchive);
    if (dumpDir) rmSync(dumpDir, { recursive: true, force: true });
  }
  let retention: RetentionOutcome | null;
  try {
    retention = await applyRetention(dir, manifest, req.retention, { dryRun: false });
  } catch (e) {
    const err = e instanceof PgshipError ? e : new PgshipError("retention_failed", (e as Error).message, { cause: e });
    throw new PgshipError(err.code, `the backup was written (${finalArchive}), but retention failed: ${err.message}`, { hint: err.hint, cause: e });
  }
  return { archivePath: finalArchive, manifestPath: finalManifest, manifest, pgDump, retention };
}
