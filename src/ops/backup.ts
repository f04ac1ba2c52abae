// backup: one verified pg_dump archive (+ manifest) in a directory, optionally
// age-encrypted, then retention; or, as a dry run, what retention would delete.
// Also the backup `up --backup` takes under the migration lock before migrating.

import { resolve } from "node:path";
import { brand } from "../brand.ts";
import { PgshipError, UsageError } from "../core/errors.ts";
import { formatBytes } from "../core/format.ts";
import type { EncryptKeys } from "../backup/age-stream.ts";
import { applyRetention, type RetentionOutcome } from "../backup/apply-retention.ts";
import type { CompressionChoice } from "../backup/compression.ts";
import { takeBackup, type BackupRequest, type TakenBackup } from "../backup/create.ts";
import { parseLocation } from "../backup/location.ts";
import { s3Config } from "../backup/s3.ts";
import { copyBackupToS3, s3RetentionStore, takeBackupS3, type CopiedBackup } from "../backup/s3-backup.ts";
import type { Encryption, Pin, Verification } from "../backup/manifest.ts";
import { policyIsEmpty, type RetentionPolicy } from "../backup/retention.ts";
import type { Db } from "../db/connect.ts";
import type { ToolLocation } from "../tools/pg-tools.ts";
import { bytesProgress } from "./bytes.ts";
import type { OpContext } from "./context.ts";

export interface BackupOptions {
  /** Where the backup goes: a directory (created, mode 0700, if missing) or s3://BUCKET/PREFIX. */
  dir: string;
  /** Also copy the verified backup to this s3://BUCKET/PREFIX (its own retention: the same policy). */
  copyTo?: string | null;
  compression: CompressionChoice;
  /** Encrypt to these recipients / with this passphrase; null: not encrypted. */
  keys: EncryptKeys | null;
  retention: RetentionPolicy;
  /** Take no backup, delete nothing: what `retention` would delete after a backup now. */
  dryRun: boolean;
  tools: ToolLocation;
  /** Parallel pg_dump workers (directory format); null or absent: one custom-format stream. */
  jobs?: number | null;
  /** Pin the new backup (retention never deletes it): the wizard's backup before an update. */
  pin?: Pin["reason"];
}

/** A backup written and verified: the `backup --json` document. */
export interface BackupWritten {
  ok: true;
  file: string;
  manifest: string;
  database: string;
  schemaVersion: string | null;
  bytes: number;
  plainBytes: number | null;
  databaseBytes: number | null;
  sha256: string;
  compression: string;
  encryption: Encryption | null;
  pgDump: string;
  verified: Verification[];
  durationMs: number;
  retention: RetentionOutcome | null;
  /** Set when the backup was pinned (see `backups pin`). */
  pinned: Pin | null;
  /** In S3: the multipart upload's parts. */
  upload?: { parts: number; partBytes: number };
  /** With copyTo: the verified copy. */
  copy?: CopiedBackup;
}

/** `backup --dry-run`: what retention would delete after a backup now. */
export interface BackupDryRun {
  ok: true;
  dryRun: true;
  dir: string;
  database: string;
  retention: RetentionOutcome;
}

export type BackupResult = BackupWritten | BackupDryRun;

export async function backup(ctx: OpContext, opts: BackupOptions & { dryRun: false }): Promise<BackupWritten>;
export async function backup(ctx: OpContext, opts: BackupOptions): Promise<BackupResult>;
export async function backup(ctx: OpContext, opts: BackupOptions): Promise<BackupResult> {
  // Locations and S3 credentials are checked before anything connects.
  const loc = parseLocation(opts.dir);
  const copyTo = opts.copyTo ? parseLocation(opts.copyTo, "--copy-to") : null;
  if (copyTo && copyTo.kind !== "s3") throw new UsageError(`--copy-to ${opts.copyTo}: give an s3://BUCKET/PREFIX location`);
  if (copyTo && loc.kind !== "local") throw new UsageError("--copy-to copies a local backup: --dir must be a local directory");
  if (loc.kind === "s3" || copyTo) s3Config();
  if (opts.dryRun) return retentionDryRun(ctx, loc.kind === "s3" ? loc.url : resolve(opts.dir), opts.retention);
  const db = await ctx.connect("backup");
  let out: TakenBackup;
  try {
    out = await backupWith(ctx, db, { ...opts, label: "backup" });
  } finally {
    await db.close().catch(() => undefined);
  }
  let copy: CopiedBackup | undefined;
  if (copyTo?.kind === "s3") {
    const progress = bytesProgress(ctx.emit, "copy");
    try {
      copy = await copyBackupToS3(out, copyTo, { keys: opts.keys, retention: opts.retention, interrupt: ctx.interrupt, onProgress: (n) => progress.update(n) });
    } catch (e) {
      const err = e instanceof PgshipError ? e : new PgshipError("s3_failed", (e as Error).message, { cause: e });
      throw new PgshipError(err.code, `the backup was written and kept (${out.archivePath}), but the copy to ${copyTo.url} failed: ${err.message}`, { exitCode: err.exitCode, hint: err.hint, cause: e });
    } finally {
      progress.done();
    }
  }
  const m = out.manifest;
  return {
    ok: true,
    file: out.archivePath,
    manifest: out.manifestPath,
    database: m.database,
    schemaVersion: m.schemaVersion,
    bytes: m.archive.bytes,
    plainBytes: m.archive.plainBytes,
    databaseBytes: m.databaseBytes,
    sha256: m.archive.sha256,
    compression: m.archive.compression,
    encryption: m.encryption,
    pgDump: m.pgDump.version,
    verified: m.verified,
    durationMs: m.durationMs,
    retention: out.retention,
    pinned: m.pinned ?? null,
    ...(out.upload ? { upload: out.upload } : {}),
    ...(copy ? { copy } : {}),
  };
}

async function retentionDryRun(ctx: OpContext, dir: string, policy: RetentionPolicy): Promise<BackupDryRun> {
  if (policyIsEmpty(policy)) throw new UsageError("--dry-run shows what retention would delete: give --keep-last, --keep-daily, --keep-weekly or --keep-monthly");
  const database = ctx.target().database;
  const loc = parseLocation(dir);
  const store = loc.kind === "s3" ? s3RetentionStore(loc) : undefined;
  const retention = (await applyRetention(dir, { app: brand.binary, database, createdAt: new Date().toISOString(), hypothetical: true }, policy, { dryRun: true, store }))!;
  return { ok: true, dryRun: true, dir, database, retention };
}


/** A verified backup of `db`, progress and warnings as events. */
export async function backupWith(
  ctx: OpContext,
  db: Db,
  o: { dir: string; compression: CompressionChoice; keys: EncryptKeys | null; retention: RetentionPolicy; tools: ToolLocation; label: string; pin?: Pin["reason"]; jobs?: number | null },
): Promise<TakenBackup> {
  const progress = bytesProgress(ctx.emit, o.label);
  const loc = parseLocation(o.dir);
  try {
    const take = loc.kind === "s3" ? (d: Db, t: ReturnType<OpContext["target"]>, r: BackupRequest) => takeBackupS3(d, t, r, loc) : takeBackup;
    return await take(db, ctx.target(), {
      dir: o.dir,
      schema: ctx.schema,
      app: { name: brand.binary, version: brand.version },
      tools: o.tools,
      compression: o.compression,
      keys: o.keys,
      retention: o.retention,
      jobs: o.jobs ?? null,
      interrupt: ctx.interrupt,
      emit: ctx.emit,
      onProgress: (n) => progress.update(n),
      ...(o.pin ? { pin: { reason: o.pin, at: new Date().toISOString() } } : {}),
    });
  } finally {
    progress.done();
  }
}

/** `up` / `update --backup DIR`: where the backup before migrating goes, and how. */
export interface PreBackupOptions {
  dir: string;
  keys: EncryptKeys | null;
  tools: ToolLocation;
}

/**
 * The verified backup taken under the migration lock right before the first
 * migration runs, pinned; `releasePreUpdatePins` unpins the earlier one once the update succeeded.
 */
export async function backupBeforeMigrating(ctx: OpContext, db: Db, o: PreBackupOptions): Promise<TakenBackup> {
  ctx.emit({ type: "info", message: `backing up to ${o.dir} before migrating` });
  try {
    const out = await backupWith(ctx, db, { ...o, compression: { method: "auto" }, retention: {}, label: "backup", pin: "pre-update" });
    ctx.emit({ type: "info", message: `backup written: ${out.archivePath} (${formatBytes(out.manifest.archive.bytes)}, verified)` });
    return out;
  } catch (e) {
    if (e instanceof PgshipError) throw new PgshipError(e.code, `the backup before migrating failed, so nothing was migrated: ${e.message}`, { exitCode: e.exitCode, hint: e.hint, cause: e });
    throw e;
  }
}
