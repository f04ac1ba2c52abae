// backups: what is in a backup directory (cheap checks only), and verifying
// one backup: sha256, decryption, and a test restore into a scratch database
// that is dropped afterwards (or, without a database, a full read by pg_restore).

import { resolve } from "node:path";
import { interrupted } from "../core/cancel.ts";
import { isPgshipError, PgshipError } from "../core/errors.ts";
import { basename, dirname } from "node:path";
import type { DecryptKeys } from "../backup/age-stream.ts";
import { lastVerification, type Encryption, type Manifest, type Pin, type Verification } from "../backup/manifest.ts";
import { isEarlierPreUpdatePin, releaseEarlierPreUpdatePins, setPin } from "../backup/pins.ts";
import { listArchive } from "../backup/read.ts";
import { archiveFormat, checkedBackup, keysFor, matchManifest } from "../backup/restore-input.ts";
import { restoreInto } from "../backup/restore-stream.ts";
import { listBackups as listDir, removeQuietly, resolveBackupFile, saveManifest, type StoredBackup } from "../backup/store.ts";
import { isS3, parseLocation, parseS3File } from "../backup/location.ts";
import { cleanS3Partials, listS3, putS3Manifest, resolveS3Backup, s3Location } from "../backup/s3-store.ts";
import type { Sql } from "../db/connect.ts";
import { withScratchDatabase } from "../db/scratch.ts";
import { appliedVersion } from "../db/tracking.ts";
import { locatePgTool, type ToolLocation } from "../tools/pg-tools.ts";
import type { RunningProc } from "../tools/proc.ts";
import { bytesProgress } from "./bytes.ts";
import type { OpContext } from "./context.ts";

/** One backup in a listing: a row of `backups --json`. */
export interface ListedBackup {
  file: string | null;
  manifest: string | null;
  status: StoredBackup["status"];
  problems: string[];
  createdAt: string | null;
  app: string | null;
  database: string | null;
  schemaVersion: string | null;
  bytes: number | null;
  encrypted: boolean;
  encryption: Encryption | null;
  /** The strongest check passed (readback when written, test-restore by verify). */
  verified: Verification | null;
  /** Pinned: retention never deletes it. */
  pinned: Pin | null;
}

/** `backups --json`. */
export interface BackupListing {
  dir: string;
  backups: ListedBackup[];
  /** Temporary files left by interrupted backups (in S3: temporary objects and unfinished multipart uploads, as s3:// URLs). */
  partials: string[];
  /** With cleanPartials: the partials removed (in S3: temporary objects deleted, multipart uploads aborted). */
  cleaned?: string[];
  /** S3 only: why unfinished multipart uploads could not be listed. */
  partialsUnknown?: string;
}

export async function listBackups(_ctx: OpContext, opts: { dir: string; cleanPartials?: boolean }): Promise<BackupListing> {
  const loc = parseLocation(opts.dir);
  if (loc.kind === "s3") {
    const l = await listS3(loc);
    const partials = l.partials.map((p) => p.url + (p.uploadId ? ` (unfinished multipart upload${p.initiated ? ` started ${p.initiated}` : ""})` : ""));
    if (opts.cleanPartials) await cleanS3Partials(l.partials);
    return { dir: loc.url, backups: l.backups.map(row), partials, ...(opts.cleanPartials ? { cleaned: partials } : {}), ...(l.partialsUnknown ? { partialsUnknown: l.partialsUnknown } : {}) };
  }
  const dir = resolve(opts.dir);
  const { backups, partials } = listDir(dir);
  if (opts.cleanPartials) partials.forEach(removeQuietly);
  return { dir, backups: backups.map(row), partials, ...(opts.cleanPartials ? { cleaned: partials } : {}) };
}

function row(b: StoredBackup): ListedBackup {
  const m = b.manifest;
  return {
    file: b.archivePath ?? b.manifestPath,
    manifest: b.manifestPath,
    status: b.status,
    problems: b.problems,
    createdAt: m?.createdAt ?? null,
    app: m?.app ?? null,
    database: m?.database ?? null,
    schemaVersion: m?.schemaVersion ?? null,
    bytes: b.archiveBytes,
    encrypted: m ? m.encryption !== null : Boolean(b.archivePath?.endsWith(".age")),
    encryption: m?.encryption ?? null,
    verified: m ? lastVerification(m) : null,
    pinned: m?.pinned ?? null,
  };
}

export interface VerifyBackupOptions {
  /** The backup as the person named it (.dump, .dump.age or its .manifest.json). */
  file: string;
  keys: DecryptKeys;
  /** Test-restore into a scratch database (false: checksum, decrypt and a full read only). */
  restore: boolean;
  /** Refuse a file without a manifest. */
  requireManifest: boolean;
  tools: ToolLocation;
}

/** `backups verify --json`: the backup was checked. */
export interface VerifiedBackup {
  ok: true;
  file: string;
  how: "readback" | "test-restore";
  detail: string;
  schemaVersion: string | null;
  durationMs: number;
}

export async function verifyBackup(ctx: OpContext, opts: VerifyBackupOptions): Promise<VerifiedBackup> {
  const { file } = opts;
  const s3 = parseLocation(file, "FILE").kind === "s3";
  const b = checkedBackup(s3 ? await resolveS3Backup(file) : resolveBackupFile(file), file, { requireManifest: opts.requireManifest, otherApp: true });
  const keys = keysFor(b, file, opts.keys);
  const m = b.manifest;
  const format = await archiveFormat(b, keys);
  const t0 = Date.now();
  let active: RunningProc[] = [];
  const track = (p: RunningProc[]) => (active = p);
  const cancel = () => active.forEach((p) => p.stop());
  let detail: string;
  let restoredVersion: string | null | undefined;
  if (!opts.restore) {
    const pgRestore = await locatePgTool("pg_restore", 0, opts.tools);
    const checked = await ctx.interrupt.track(Object.assign(listArchive(b.archivePath!, file, keys, pgRestore, (p) => track(p ? [p] : []), () => ctx.interrupt.interrupted, true, true, format), { cancel })).catch((e: unknown) => {
      throw notJudged(ctx, e, `while reading ${file}: the backup was not judged`);
    });
    matchManifest(m, checked.stored.hex(), checked.plain.hex(), file);
    detail = `sha256 checked${keys ? ", decrypted" : ""}, read to the end by pg_restore ${pgRestore.version} (no test restore)`;
  } else {
    const admin = await ctx.connect("backups verify");
    const progress = bytesProgress(ctx.emit, "test restore");
    try {
      const pgRestore = await locatePgTool("pg_restore", Math.floor(admin.serverVersionNum / 10000), opts.tools);
      // One pass: the scratch database is thrown away, so restoring and checking the hashes together is safe.
      const expected = m ? { sha256: m.archive.sha256, plainSha256: m.archive.plainSha256 } : null;
      const summary = await withScratchDatabase(admin, "backups verify", async (scratch, target) => {
        await ctx.interrupt.track(
          Object.assign(
            restoreInto(target.database, pgRestore, {
              path: b.archivePath!,
              file,
              keys,
              expected,
              ownership: { keepOwner: false, keepAcl: false },
              format,
              stopped: () => ctx.interrupt.interrupted,
              target,
              track,
              onBytes: (n) => progress.update(n),
            }),
            { cancel },
          ),
        );
        return scratchSummary(scratch.sql, ctx.schema);
      });
      restoredVersion = summary.version;
      if (m && summary.version !== m.schemaVersion) {
        throw new PgshipError("backup_corrupt", `${file} restored, but its schema version is ${summary.version ?? "none"} where the manifest says ${m.schemaVersion ?? "none"}`);
      }
      detail = `test-restored into a scratch database on PostgreSQL ${admin.serverVersion} with pg_restore ${pgRestore.version}: ${summary.tables} tables, schema ${summary.version ?? "not managed"}`;
    } catch (e) {
      // pg_restore stopped by the signal fails the restore: that says nothing about the backup.
      throw notJudged(ctx, e, `during the test restore of ${file}: the backup was not judged (its scratch database was dropped)`);
    } finally {
      progress.done();
      await admin.close().catch(() => undefined);
    }
  }
  const how = opts.restore ? "test-restore" : "readback";
  if (m && b.manifestPath) {
    try {
      const updated: Manifest = { ...m, verified: [...m.verified, { at: new Date().toISOString(), how, detail }] };
      if (s3) await putS3Manifest(b.manifestPath, updated);
      else saveManifest(b.manifestPath, updated);
    } catch (e) {
      ctx.emit({ type: "warn", message: `verified, but could not record it in ${b.manifestPath}: ${(e as Error).message}` });
    }
  }
  return { ok: true, file: b.archivePath!, how, detail, schemaVersion: restoredVersion ?? m?.schemaVersion ?? null, durationMs: Date.now() - t0 };
}

/**
 * A tool stopped by the signal fails the check, which says nothing about the
 * backup: reported as interrupted (130). A verdict reached before it stands.
 */
function notJudged(ctx: OpContext, e: unknown, what: string): unknown {
  if (!ctx.interrupt.interrupted || (isPgshipError(e) && e.code === "backup_corrupt")) return e;
  return interrupted(what);
}

async function scratchSummary(sql: Sql, schema: string): Promise<{ tables: number; version: string | null }> {
  const [r] = await sql.unsafe<{ tables: string }[]>(
    `select count(*) as tables from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p') and n.nspname !~ '^pg_' and n.nspname <> 'information_schema'`,
  );
  return { tables: Number(r!.tables), version: await appliedVersion(sql, schema) };
}

export interface PinOptions {
  /** The backup as the person named it (.dump, .dump.age or its .manifest.json). */
  file: string;
  /** true: pin (reason "manual"); false: unpin, whatever pinned it. */
  pin: boolean;
}

/** `backups pin|unpin FILE --json`. */
export interface PinOutcome {
  ok: true;
  file: string;
  manifest: string;
  /** The pin now (null: not pinned). */
  pinned: Pin | null;
  /** false when it already was as asked. */
  changed: boolean;
}

/** Pins a backup (retention never deletes it) or releases its pin. Needs the backup's manifest, where the pin is kept. */
export async function pinBackup(ctx: OpContext, opts: PinOptions): Promise<PinOutcome> {
  const remote = s3Location(opts.file) !== null;
  const b = remote ? await resolveS3Backup(opts.file) : resolveBackupFile(opts.file);
  if (!b.manifestPath || !b.manifest) {
    const why = b.manifestPath ? `its manifest is not valid (${b.problems.join("; ")})` : "it has no manifest (not a backup written by this tool, or one that was interrupted)";
    throw new PgshipError("backup_no_manifest", `cannot ${opts.pin ? "pin" : "unpin"} ${opts.file}: ${why}`, {
      hint: `a pin is kept in the backup's manifest; list the backups with '${ctx.binary} backups --dir ${remote ? b.dir : dirname(b.archivePath ?? opts.file)}'`,
    });
  }
  const current = b.manifest.pinned ?? null;
  const file = b.archivePath ?? b.manifestPath;
  if (opts.pin ? current !== null : current === null) return { ok: true, file, manifest: b.manifestPath, pinned: current, changed: false };
  const m = await writePin({ manifestPath: b.manifestPath, manifest: b.manifest }, opts.pin ? { reason: "manual", at: new Date().toISOString() } : null, remote);
  return { ok: true, file, manifest: b.manifestPath, pinned: m.pinned ?? null, changed: true };
}

/** Sets or clears a pin in a local manifest or one in S3. */
async function writePin(b: { manifestPath: string; manifest: Manifest }, pin: Pin | null, remote: boolean): Promise<Manifest> {
  if (!remote) return setPin(b, pin);
  const { pinned: _old, ...rest } = b.manifest;
  const m: Manifest = pin ? { ...rest, pinned: pin } : rest;
  await putS3Manifest(b.manifestPath, m);
  return m;
}

/**
 * After an update succeeded: the backup taken before it keeps its pin, and the
 * pre-update pins of earlier updates (same directory or S3 prefix, app and
 * database) are released, so retention can delete those again. Manual pins
 * stay. A pin that cannot be released is a warning: the update stands.
 */
export async function releasePreUpdatePins(ctx: OpContext, file: string): Promise<string[]> {
  const remote = isS3(file) ? parseS3File(file).dir : null;
  const where = remote ? remote.url : dirname(file);
  let r: { unpinned: string[]; failed: { file: string; why: string }[] };
  try {
    if (!remote) {
      const kept = resolveBackupFile(file).manifest;
      if (!kept) throw new Error(`the manifest of ${basename(file)} cannot be read`);
      r = releaseEarlierPreUpdatePins(where, kept);
    } else {
      const kept = (await resolveS3Backup(file)).manifest;
      if (!kept) throw new Error(`the manifest of ${basename(file)} cannot be read`);
      r = { unpinned: [], failed: [] };
      for (const b of (await listS3(remote, { partials: false })).backups) {
        const m = b.manifest;
        if (!m || !b.manifestPath || !isEarlierPreUpdatePin(m, kept)) continue;
        await writePin({ manifestPath: b.manifestPath, manifest: m }, null, true).then(
          () => r.unpinned.push(m.archive.file),
          (e: unknown) => r.failed.push({ file: m.archive.file, why: (e as Error).message }),
        );
      }
    }
  } catch (e) {
    ctx.emit({ type: "warn", message: `updated, but the earlier pre-update backups in ${where} stay pinned: ${(e as Error).message}` });
    return [];
  }
  for (const f of r.failed) ctx.emit({ type: "warn", message: `updated, but ${f.file} stays pinned: ${f.why}` });
  for (const f of r.unpinned) ctx.emit({ type: "info", message: `unpinned ${f} (pinned before an earlier update; ${basename(file)} is pinned now)` });
  return r.unpinned;
}
