// restore FILE: check everything first (manifest, sha256, decryption, that
// pg_restore reads it), then build the database beside the live one and swap
// it in, keeping the old one; without CREATEDB, replace in place in one
// transaction. `undo` goes back to the state before the last restore; `dropOld`
// without a file drops what earlier restores kept. Afterwards the restore is
// recorded in the restored database's history and its schema version compared
// with this binary (warned about as events; `update` applies what is pending).

import { accessSync, constants, existsSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { brand } from "../brand.ts";
import { derivePassphraseKey, sameKeysFor, type DecryptKeys } from "../backup/age-stream.ts";
import { readChunks } from "../backup/pipeline.ts";
import { listArchive } from "../backup/read.ts";
import { connectMaintenance, databaseExists, type Role, describeLeftovers, dropDatabase, keptDatabases, leftoverDatabases, ownsDatabase, readRole, sessionsOn, swapDatabases, type Session } from "../backup/restore-db.ts";
import { archiveFormat, checkedBackup, downloadChecked, keysFor, matchManifest, matchManifestStored, wrongKeyHint } from "../backup/restore-input.ts";
import { runCreate, runInPlace, runInto, runSwap, type ModeResult, type RestoreMode } from "../backup/restore-modes.ts";
import { historyArgs, keptAt, keptComment, keptDatabaseName, planRestore, wayBackOf, type RestorePlan, type WayBack } from "../backup/restore-plan.ts";
import { resolveBackupFile } from "../backup/store.ts";
import { isS3, parseLocation } from "../backup/location.ts";
import type { TempDir } from "../backup/unpack.ts";
import { resolveS3Backup } from "../backup/s3-store.ts";
import { ExitCode, PgshipError, UsageError } from "../core/errors.ts";
import { plural, quoteIdent } from "../core/format.ts";
import { computeStatus } from "../core/plan.ts";
import { connect, type Db } from "../db/connect.ts";
import { isSqlState, SQLSTATE } from "../db/sqlstate.ts";
import { appliedVersion, finishHistory, readState, startHistory, trackingExists } from "../db/tracking.ts";
import { describeTool, locatePgTool, siblingTool, type ToolLocation } from "../tools/pg-tools.ts";
import type { RunningProc } from "../tools/proc.ts";
import { backupWith } from "./backup.ts";
import { bytesProgress } from "./bytes.ts";
import type { OpContext } from "./context.ts";
import { migrate } from "./migrate.ts";

export interface RestoreOptions {
  /** The backup (.dump / .dump.age or its .manifest.json); null with `undo`, or with `dropOld` alone. */
  file: string | null;
  /** Back to the state before the last restore. */
  undo: boolean;
  /** Restore into this new database beside the live one; no swap. */
  into: string | null;
  /** Replace the live database's contents in one transaction instead of swapping. */
  inPlace: boolean;
  /** Drop the replaced database after the swap (without a file: those kept by earlier restores). */
  dropOld: boolean;
  keepOwner: boolean;
  keepAcl: boolean;
  /** Afterwards apply this binary's pending migrations when the backup is older. */
  update: boolean;
  /** Check the backup and say the plan; change nothing. */
  dryRun: boolean;
  requireManifest: boolean;
  /** Accept a backup made by another pgship-built binary. */
  otherApp: boolean;
  /** In place: where the safety backup goes; null: the backup file's directory when writable, else ./pgship-safety. */
  safetyDir: string | null;
  /** In place: take the safety backup first. */
  safetyBackup: boolean;
  keys: DecryptKeys;
  tools: ToolLocation;
  /** pg_restore workers (the backup is unpacked into a private temporary directory first); absent or 1: one stream. */
  jobs?: number | null;
}

/** What the backup is, as its manifest (or the archive's header) says. */
export interface BackupSummary {
  file: string;
  bytes: number;
  createdAt: string | null;
  database: string | null;
  schemaVersion: string | null;
  pgDump: string | null;
  encrypted: boolean;
}

/** A restore that ran. */
export type Restored = { ok: true; mode: RestoreMode } & ModeResult & {
    safetyBackup: string | null;
    wayBack: WayBack | null;
    backup: BackupSummary;
    durationMs: number;
    after: AfterRestore;
    undo?: true;
  };

/** A dry run: checked, nothing changed. `check` says how, for the text (it is not part of --json). */
export interface RestoreDryRun {
  ok: true;
  dryRun: true;
  mode: RestoreMode;
  plan: string;
  restorePlan: RestorePlan;
  backup: BackupSummary;
  checks: "passed";
  undo?: true;
  check: { manifest: boolean; pgRestore: string };
}

/** `undo` of a swap: the kept database swapped back in. */
export interface UndoneSwap {
  ok: true;
  undo: true;
  mode: "swap";
  database: string;
  restored: string;
  kept: string;
  endedSessions: number;
  wayBack: WayBack;
  durationMs: number;
  after: AfterRestore;
}

/** `undo` with `dryRun`, of a swap. */
export interface UndoSwapDryRun {
  ok: true;
  dryRun: true;
  undo: true;
  mode: "swap";
  plan: string;
  restorePlan: RestorePlan;
}

/** `dropOld` without a file. */
export interface DroppedOld {
  ok: true;
  dropped: string[];
  /** Those of `dropped` that interrupted restores and verifies had left. */
  leftovers: string[];
}

export type RestoreOutcome = Restored | RestoreDryRun | UndoneSwap | UndoSwapDryRun | DroppedOld;

const warn = (ctx: OpContext, message: string) => ctx.emit({ type: "warn", message });
const info = (ctx: OpContext, message: string) => ctx.emit({ type: "info", message });
const debug = (ctx: OpContext, message: string) => ctx.emit({ type: "debug", message });

/** Asks before something that replaces data; a no is "cancelled, nothing changed" (exit 130). */
async function confirmOrCancel(ctx: OpContext, o: { what: string; question: string; nothingChanged: string }): Promise<void> {
  if (!(await ctx.confirm(o.question, o.what))) throw new PgshipError("cancelled", `cancelled, ${o.nothingChanged}`, { exitCode: ExitCode.interrupted });
}

const isMissingDatabase = (e: unknown) => e instanceof Error && isSqlState(e.cause, SQLSTATE.invalidCatalogName);

/** Restores a backup, goes back (`undo`), or drops what earlier restores kept (`dropOld` without a file). */
export async function restore(ctx: OpContext, opts: RestoreOptions): Promise<RestoreOutcome> {
  const { file } = opts;
  if (opts.undo) {
    if (file !== null || opts.into !== null || opts.inPlace || opts.dropOld || opts.update) throw new UsageError("--undo takes no FILE, and no --into, --in-place, --drop-old or --update", `${brand.binary} restore --undo --yes`);
    return undo(ctx, opts);
  }
  if (file === null) {
    if (opts.dropOld) return dropOld(ctx);
    throw new UsageError("restore needs a backup FILE", `list them with '${brand.binary} backups --dir DIR'; or '${brand.binary} restore --drop-old' to drop databases kept by earlier restores, or '${brand.binary} restore --undo'`);
  }
  return restoreFile(ctx, opts, file, null);
}

/** The safety backup's directory: --safety-dir, else the backup file's directory when writable, else ./pgship-safety. */
function safetyDirOf(opts: RestoreOptions, archivePath: string): string | null {
  if (!opts.safetyBackup) return null;
  if (opts.safetyDir !== null) return resolve(opts.safetyDir);
  try {
    accessSync(dirname(archivePath), constants.W_OK);
    return dirname(archivePath);
  } catch {
    return resolve(`${brand.binary}-safety`);
  }
}

interface Decided {
  plan: RestorePlan;
  why: string | null;
  /** Connected to the live database (null: it does not exist). */
  liveDb: Db | null;
  /** Connected to a maintenance database, when the plan needs one. */
  admin: Db | null;
  role: Role;
  at: Date;
  keeps: string | null;
}

/**
 * Connects and decides how the restore goes and its way back, reading only
 * (roles, ownership, names): nothing is touched and the backup is not read.
 * The caller closes the connections; on an error they are closed here.
 */
async function decide(ctx: OpContext, opts: RestoreOptions, into: string | null, archivePath: string): Promise<Decided> {
  const target = ctx.target();
  const live = target.database;
  let liveDb: Db | null = null;
  let admin: Db | null = null;
  try {
    try {
      liveDb = await ctx.connect("restore");
    } catch (e) {
      if (!isMissingDatabase(e)) throw e;
    }
    if (!liveDb || into !== null) admin = await connectMaintenance(target, `${brand.binary} restore`, [live]).catch((e) => (liveDb ? null : Promise.reject(e)));
    const any = (liveDb ?? admin)!;
    const role = await readRole(any.sql);
    const canCreate = role.superuser || role.createdb;
    const mayRename = role.superuser || (liveDb !== null && (await ownsDatabase(any.sql, live)));
    let maintenanceError: string | null = null;
    if (into === null && liveDb && !opts.inPlace && canCreate && mayRename) {
      admin = await connectMaintenance(target, `${brand.binary} restore`, [live]).catch((e: unknown) => {
        maintenanceError = (e as Error).message;
        return null;
      });
    }
    const at = new Date();
    const keeps = admin && liveDb && into === null && !opts.dropOld ? await freeName(admin, (n) => keptDatabaseName(live, at, n)) : null;
    const { plan, why } = planRestore({
      live,
      into,
      liveExists: liveDb !== null,
      inPlace: Boolean(opts.inPlace),
      role: { name: role.name, canCreate, mayRename },
      maintenanceError,
      keeps,
      safetyDir: safetyDirOf(opts, archivePath),
    });
    return { plan, why, liveDb, admin, role, at, keeps };
  } catch (e) {
    await liveDb?.close().catch(() => undefined);
    await admin?.close().catch(() => undefined);
    throw e;
  }
}

/**
 * What a restore with these options (inPlace, into, dropOld, safetyDir,
 * safetyBackup) would do and its way back, decided as the restore decides it,
 * before anything changes: for a screen to say the truth before asking.
 */
export async function previewRestore(ctx: OpContext, opts: RestoreOptions & { file: string }): Promise<{ plan: RestorePlan; why: string | null }> {
  const b = await resolveAnyBackup(opts.file);
  const d = await decide(ctx, opts, opts.into, b.archivePath ?? opts.file);
  await d.liveDb?.close().catch(() => undefined);
  await d.admin?.close().catch(() => undefined);
  return { plan: d.plan, why: d.why };
}

/** A local backup file or s3://BUCKET/PREFIX/FILE. */
const resolveAnyBackup = async (file: string) => (parseLocation(file, "FILE").kind === "s3" ? resolveS3Backup(file) : resolveBackupFile(file));

/** Restores FILE; `undoing`: this is `restore --undo`, going back by this safety backup. */
async function restoreFile(ctx: OpContext, opts: RestoreOptions, file: string, undoing: string | null): Promise<Restored | RestoreDryRun> {
  const into = opts.into;
  if (into !== null && (!into || Buffer.byteLength(into) > 63)) throw new UsageError(`--into "${into}" is not a database name (1 to 63 bytes)`);
  if (into !== null && (opts.inPlace || opts.dropOld || opts.update)) throw new UsageError("--into restores beside the live database: it cannot be combined with --in-place, --drop-old or --update");
  if (opts.inPlace && opts.dropOld) throw new UsageError("--drop-old applies to the swap; an in-place restore keeps no old database");
  const b = checkedBackup(await resolveAnyBackup(file), file, { requireManifest: opts.requireManifest, otherApp: opts.otherApp });
  const keys = keysFor(b, file, opts.keys);
  // First, while the process is at its smallest: scrypt's 32 MiB, for a passphrase.
  await derivePassphraseKey(readChunks(b.archivePath!), keys);
  const tools = opts.tools;
  const jobs = opts.jobs ?? 1;
  const format = await archiveFormat(b, keys);
  if ((format === "directory" || jobs > 1) && tools.container) {
    throw new UsageError(`${format === "directory" ? `${file} is a parallel (directory-format) backup` : "--jobs"}: it is unpacked into a local directory, which the tools in a container cannot read`, "restore with local client tools (--pg-bin) instead of --docker-container");
  }
  const target = ctx.target();
  const live = target.database;
  if (into === live) throw new UsageError(`--into ${into} is the live database`, "drop --into to replace the live database");

  let liveDb: Db | null = null;
  let admin: Db | null = null;
  let downloaded: (TempDir & { file: string }) | null = null;
  let active: RunningProc[] = [];
  const track = (p: RunningProc[]) => (active = p);
  const cancel = () => active.forEach((p) => p.stop());
  try {
    const d = await decide(ctx, opts, into, b.archivePath!);
    ({ liveDb, admin } = d);
    const { plan: restorePlan, why, role, at, keeps } = d;
    const canCreate = role.superuser || role.createdb;
    const any = (liveDb ?? admin)!;
    const left = await leftoverDatabases(any.sql, live);
    if (left.length) warn(ctx, `left by interrupted runs, nobody connected: ${describeLeftovers(left)}; drop them with '${brand.binary} restore --drop-old'`);
    const mode: RestoreMode = restorePlan.mode;
    if ((mode === "into" || mode === "create") && !canCreate) {
      throw new PgshipError("restore_refused", mode === "create" ? `database "${live}" does not exist and role "${role.name}" cannot create it` : `role "${role.name}" cannot create database "${into}"`, {
        hint: mode === "create" ? `create the empty database first (createdb ${live}) and restore again` : "grant CREATEDB, or restore in place into the live database",
      });
    }
    if (why) {
      const safety = restorePlan.mode === "in-place" && restorePlan.safetyBackup ? `a safety backup of "${live}" is taken first, into ${restorePlan.safetyBackup}` : "no copy of the current database is kept (--no-safety-backup)";
      warn(ctx, `${why}: restoring in place, in one transaction (${safety})`);
    }
    if (mode === "in-place" && jobs > 1) warn(ctx, `--jobs ${jobs} is ignored: an in-place restore runs in one transaction, with one pg_restore`);
    if (liveDb && (mode === "swap" || mode === "in-place") && !opts.keepOwner) {
      // --no-owner makes the restoring role the owner of everything: the app may lose access if it connects as another role.
      const [o] = await any.sql.unsafe<{ owner: string }[]>("select pg_get_userbyid(datdba) as owner from pg_database where datname = $1", [live]);
      if (o && o.owner !== role.name) {
        warn(ctx, `restored objects will be owned by "${role.name}", not by "${o.owner}" (the database's owner): if the app connects as "${o.owner}", restore as that role or pass --keep-owner`);
      }
    }

    const serverMajor = Math.floor(any.serverVersionNum / 10000);
    const pgRestore = await locatePgTool("pg_restore", serverMajor, tools);
    const psql = mode === "in-place" ? await siblingTool(pgRestore, "psql") : null;
    debug(ctx, `using ${describeTool(pgRestore)}${psql ? ` and ${describeTool(psql)}` : ""}`);

    // The check pass: reads the whole file, changes nothing anywhere. Without a manifest (nothing vouches for the
    // bytes) and in a dry run (which is the check), pg_restore reads every data block, so a truncated archive is refused.
    const whole = !b.manifest || Boolean(opts.dryRun);
    // With a manifest, a restore decrypts the file once: before anything is touched, the stored bytes are hashed to the
    // end (no decryption: cheap) and must match the manifest, and this pass stops where pg_restore --list does (header and
    // table of contents, decrypted that far); the restore pass checks both sha256 again on what it restores, before
    // anything it built is swapped in or committed.
    const once = Boolean(b.manifest) && !opts.dryRun;
    // From S3 the archive is downloaded once (checked on the way) and the passes below read the local copy.
    if (once) downloaded = isS3(b.archivePath!) ? await downloadChecked(b.manifest!, b, file, ctx.interrupt) : null;
    if (once && !downloaded) await matchManifestStored(b.manifest!, b, file, ctx.interrupt);
    const source = downloaded?.file ?? b.archivePath!;
    const checked = await ctx.interrupt
      // With a manifest, its sha256 vouches for every stored byte, so decrypting as far as pg_restore --list reads is enough
      // here; the restore itself decrypts everything and checks the plain sha256 before anything is committed or swapped.
      .track(Object.assign(listArchive(source, file, keys, pgRestore, (p) => track(p ? [p] : []), () => ctx.interrupt.interrupted, !b.manifest, whole, format, !once), { cancel }))
      .catch((e: unknown) => {
        if (e instanceof PgshipError && e.code === "wrong_key") throw new PgshipError(e.code, e.message, { hint: wrongKeyHint(b) });
        throw e;
      });
    if (!once) matchManifest(b.manifest, checked.stored.hex(), checked.plainComplete ? checked.plain.hex() : null, file);
    ctx.interrupt.check();
    // The user pointed at this file, so it is restored; but a backup of another database is worth a word.
    if (b.manifest && b.manifest.database !== live) {
      warn(ctx, `${basename(file)} is a backup of database "${b.manifest.database}" (its manifest says so), not of "${live}": restoring it ${into === null ? `into "${live}"` : `beside "${live}" as "${into}"`} as asked`);
    }
    if (b.manifest && checked.header.database && checked.header.database !== b.manifest.database) {
      warn(ctx, `the manifest of ${basename(file)} names database "${b.manifest.database}", but the archive was dumped from "${checked.header.database}": the manifest was edited or belongs to another backup`);
    }

    const sessions = liveDb ? await sessionsOn(any.sql, live) : [];
    const m = b.manifest;
    const backupVersion = m ? m.schemaVersion : null;
    const plan = describePlan(restorePlan, { live, sessions });
    const summary = {
      file: b.archivePath!,
      bytes: b.manifest?.archive.bytes ?? checked.stored.bytes,
      createdAt: m?.createdAt ?? checked.header.createdAt,
      database: m?.database ?? checked.header.database,
      schemaVersion: backupVersion,
      pgDump: checked.header.dumpVersion,
      encrypted: keys !== null,
    };
    if (opts.dryRun) {
      const check = { manifest: m !== null, pgRestore: pgRestore.version };
      return { ok: true, dryRun: true, mode, plan, restorePlan, backup: summary, checks: "passed", ...(undoing ? { undo: true as const } : {}), check };
    }
    if (mode === "swap" || mode === "in-place") {
      await confirmOrCancel(ctx, {
        what: `${undoing ? "--undo" : "restore"} replaces database "${live}"`,
        question: `${plan}\nReplace database "${live}" with ${undoing ? "the safety backup " : ""}${basename(file)} (made ${summary.createdAt ?? "?"}, schema ${backupVersion ?? "?"})?`,
        nothingChanged: "nothing changed",
      });
    }
    const fromVersion = liveDb && mode !== "into" ? await appliedVersion(liveDb.sql, ctx.schema) : null;
    const t0 = Date.now();
    // In place, the way back is a backup of what is there now, taken (and read back) before anything changes.
    const safetyBackup = restorePlan.mode === "in-place" && restorePlan.safetyBackup ? await takeSafetyBackup(ctx, tools, liveDb!, restorePlan.safetyBackup, keys) : null;
    const progress = bytesProgress(ctx.emit, "restore");
    let result: ModeResult;
    try {
      const modeRun = {
        live,
        liveDb,
        admin,
        pgRestore,
        psql,
        schema: ctx.schema,
        lockTimeoutMs: ctx.lockTimeoutMs,
        interrupt: ctx.interrupt,
        emit: ctx.emit,
        closeLive: async () => {
          await liveDb?.close().catch(() => undefined);
          liveDb = null;
        },
        input: {
          path: source,
          file: basename(file),
          keys,
          expected: once
            ? { sha256: b.manifest!.archive.sha256, plainSha256: b.manifest!.archive.plainSha256, fromManifest: true }
            : { sha256: checked.stored.hex(), plainSha256: b.manifest?.archive.plainSha256 ?? checked.plain.hex() },
          ownership: { keepOwner: Boolean(opts.keepOwner), keepAcl: Boolean(opts.keepAcl) },
          format,
          jobs,
          stopped: () => ctx.interrupt.interrupted,
          target,
          track,
          onBytes: (n: number) => progress.update(n),
        },
      };
      const work =
        mode === "swap" ? runSwap(modeRun, at, Boolean(opts.dropOld), keeps) : mode === "create" ? runCreate(modeRun, at) : mode === "into" ? runInto(modeRun, into!) : runInPlace(modeRun);
      result = await ctx.interrupt.track(Object.assign(work, { cancel }));
    } catch (e) {
      if (ctx.interrupt.interrupted) throw new PgshipError("interrupted", `restore interrupted: "${live}" was not changed`, { exitCode: ExitCode.interrupted, cause: e });
      throw e;
    } finally {
      progress.done();
    }
    await liveDb?.close().catch(() => undefined);
    liveDb = null;
    const wayBack: WayBack | null = result.kept ? { kind: "kept-database", database: result.kept } : safetyBackup ? { kind: "safety-backup", file: safetyBackup } : null;
    const after = await afterRestore(ctx, {
      args: historyArgs(`restore ${undoing ? "--undo: " : ""}${basename(b.archivePath!)}`, wayBack, mode === "swap" || mode === "in-place"),
      fromVersion,
      update: Boolean(opts.update),
      database: mode === "into" ? into! : undefined,
    });
    return { ok: true, mode, ...result, safetyBackup, wayBack, backup: summary, durationMs: Date.now() - t0, after, ...(undoing ? { undo: true as const } : {}) };
  } finally {
    downloaded?.remove();
    await liveDb?.close().catch(() => undefined);
    await admin?.close().catch(() => undefined);
  }
}

function describePlan(p: RestorePlan, o: { live: string; sessions: Session[] }): string {
  const who = o.sessions.length ? `${plural(o.sessions.length, "other session")} (${[...new Set(o.sessions.map((s) => s.application || s.user))].slice(0, 5).join(", ")})` : "no other sessions";
  switch (p.mode) {
    case "swap": {
      const old = p.keeps === null ? "dropped afterwards (--drop-old: no way back)" : `kept as "${p.keeps}" ('${brand.binary} restore --undo' swaps it back)`;
      return o.sessions.length
        ? `Restore into a new database, then end ${who} on "${o.live}" and swap it in; the current "${o.live}" is ${old}.`
        : `Restore into a new database, then swap it in for "${o.live}" (no other sessions are connected now); the current "${o.live}" is ${old}.`;
    }
    case "in-place": {
      const back = p.safetyBackup ? `First a safety backup of "${o.live}" is written to ${p.safetyBackup} ('${brand.binary} restore --undo' restores it).` : "No copy of the current contents is kept (--no-safety-backup).";
      return `Replace everything in "${o.live}" in one transaction (${who} connected; they wait for its locks); a failure changes nothing. ${back}`;
    }
    case "create":
      return `"${o.live}" does not exist: restore into a new database named "${o.live}".`;
    case "into":
      return `Restore into a new database "${p.database}"; "${o.live}" is not touched.`;
  }
}

/**
 * The in-place restore's way back: a verified backup of the live database in `dir`, encrypted as the
 * backup being restored is (to the recipients of its identities, or with its passphrase), else not.
 */
async function takeSafetyBackup(ctx: OpContext, tools: ToolLocation, db: Db, dir: string, keys: DecryptKeys | null): Promise<string> {
  info(ctx, `taking a safety backup of "${db.target.database}" into ${dir}`);
  try {
    const out = await backupWith(ctx, db, { dir, tools, compression: { method: "auto" }, keys: keys ? await sameKeysFor(keys) : null, retention: {}, label: "safety backup" });
    return out.archivePath;
  } catch (e) {
    if (ctx.interrupt.interrupted || (e instanceof PgshipError && e.code === "interrupted")) throw e;
    throw new PgshipError("restore_refused", `cannot take the safety backup of "${db.target.database}" into ${dir}, so nothing was changed: ${(e as Error).message}`, {
      hint: "fix that or choose another --safety-dir DIR; or pass --no-safety-backup to restore without a way back",
      cause: e,
    });
  }
}

/** A name no database has: name(1), name(2), … */
async function freeName(admin: Db, name: (n: number) => string): Promise<string> {
  for (let n = 1; ; n++) if (!(await databaseExists(admin.sql, name(n)))) return name(n);
}

/**
 * `restore --undo`: back to the state before the last restore, as its history row says
 * (or, in a database pgship does not manage, the newest database a restore kept).
 * The undo is a restore too, recorded the same way: run again, it goes forward again.
 */
async function undo(ctx: OpContext, opts: RestoreOptions): Promise<RestoreOutcome> {
  const target = ctx.target();
  const live = target.database;
  let last: { args: string; at: string } | null = null;
  const db = await ctx.connect("restore");
  try {
    if (await trackingExists(db.sql, ctx.schema)) {
      const [r] = await db.sql.unsafe<{ args: string; at: Date }[]>(
        `select args, started_at as at from ${quoteIdent(ctx.schema)}.history where command = 'restore' and result = 'ok' order by id desc limit 1`,
      );
      if (r) last = { args: r.args, at: new Date(r.at).toISOString() };
    }
  } finally {
    await db.close().catch(() => undefined);
  }
  let back = last ? wayBackOf(last.args) : null;
  let fallbackAt: string | null = null;
  if (!last) {
    const admin = await connectMaintenance(target, `${brand.binary} restore --undo`, [live]).catch(() => null);
    const kept = admin ? await keptDatabases(admin, live).finally(() => admin.close().catch(() => undefined)) : [];
    // Not recorded (pgship does not manage the database): the newest database a restore kept, named in the question.
    const newest = kept.sort((x, y) => x.name.localeCompare(y.name)).at(-1);
    if (newest) {
      back = { kind: "kept-database", database: newest.name };
      fallbackAt = keptAt(newest.comment);
    }
  }
  if (!back) {
    throw new PgshipError("nothing_to_undo", last ? `nothing to undo: the last restore of "${live}" (${last.args}, ${last.at}) kept no way back` : `nothing to undo: no restore of "${live}" is recorded`, {
      hint: `restore a backup instead: ${brand.binary} backups --dir DIR lists them`,
    });
  }
  if (back.kind === "safety-backup") {
    if (!existsSync(back.file)) {
      throw new PgshipError("nothing_to_undo", `nothing to undo: the safety backup of the last restore of "${live}", ${back.file}, is gone`, { hint: `restore another backup: ${brand.binary} backups --dir DIR lists them` });
    }
    return restoreFile(ctx, { ...opts, file: back.file, inPlace: true, requireManifest: true, otherApp: false, into: null }, back.file, back.file);
  }
  return undoSwap(ctx, opts, back.database, last?.at ?? fallbackAt);
}

async function undoSwap(ctx: OpContext, opts: RestoreOptions, keptName: string, at: string | null): Promise<UndoneSwap | UndoSwapDryRun> {
  const target = ctx.target();
  const live = target.database;
  const admin = await connectMaintenance(target, `${brand.binary} restore --undo`, [live]);
  try {
    if (!(await keptDatabases(admin, live)).some((k) => k.name === keptName)) {
      throw new PgshipError("nothing_to_undo", `nothing to undo: "${keptName}", the database the last restore of "${live}" replaced, is gone (dropped with --drop-old?)`, {
        hint: `restore a backup instead: ${brand.binary} backups --dir DIR lists them`,
      });
    }
    const now = new Date();
    const keeps = await freeName(admin, (n) => keptDatabaseName(live, now, n));
    const sessions = await sessionsOn(admin.sql, live);
    const plan = `Swap "${keptName}" (the database the last restore${at ? `, at ${at},` : ""} replaced) back in for "${live}"${sessions.length ? `, ending ${plural(sessions.length, "session")} on it` : ""}; the current "${live}" is kept as "${keeps}" ('${brand.binary} restore --undo' again swaps it back).`;
    if (opts.dryRun) {
      return { ok: true, dryRun: true, undo: true, mode: "swap", plan, restorePlan: { mode: "swap", keeps } };
    }
    await confirmOrCancel(ctx, { what: `--undo replaces database "${live}"`, question: `${plan}\nGo back?`, nothingChanged: "nothing changed" });
    const t0 = Date.now();
    const { ended } = await swapDatabases(admin, live, keptName, keeps, keptComment(live, "restore --undo", now));
    // The database back in place no longer says it is kept (--drop-old must never find the live one).
    await admin.sql.unsafe(`comment on database ${quoteIdent(live)} is null`);
    const wayBack: WayBack = { kind: "kept-database", database: keeps };
    const after = await afterRestore(ctx, { args: historyArgs(`restore --undo: swapped back "${keptName}"`, wayBack, true), fromVersion: null, update: false });
    return { ok: true, undo: true, mode: "swap", database: live, restored: keptName, kept: keeps, endedSessions: ended, wayBack, durationMs: Date.now() - t0, after };
  } finally {
    await admin.close().catch(() => undefined);
  }
}

/**
 * `restore --drop-old`: the databases earlier restores kept (found by their comment) and those
 * left by killed restores and verifies (see leftoverDatabases), dropped after confirmation.
 */
async function dropOld(ctx: OpContext): Promise<DroppedOld> {
  const target = ctx.target();
  const admin = await connectMaintenance(target, `${brand.binary} restore --drop-old`, [target.database]);
  try {
    const kept = (await keptDatabases(admin, target.database)).map((k) => k.name);
    const left = await leftoverDatabases(admin.sql, target.database);
    const all = [...kept, ...left.map((l) => l.name)];
    if (all.length) {
      const what = [kept.length ? `kept by earlier restores of "${target.database}": ${kept.map((k) => `"${k}"`).join(", ")}` : "", left.length ? `left by interrupted runs: ${describeLeftovers(left)}` : ""].filter(Boolean).join("; ");
      await confirmOrCancel(ctx, {
        what: `--drop-old drops ${all.map((k) => `"${k}"`).join(", ")}`,
        question: `Drop these databases (${what})?`,
        nothingChanged: "nothing was dropped",
      });
    }
    // A plain DROP DATABASE fails if anyone connected meanwhile: such a database is in use, not left over.
    for (const name of all) await dropDatabase(admin, name);
    return { ok: true, dropped: all, leftovers: left.map((l) => l.name) };
  } finally {
    await admin.close().catch(() => undefined);
  }
}

// After a restore: record it in the restored database's history, compare its
// schema version with this binary, and update when asked.

export interface AfterRestore {
  managed: boolean;
  schemaVersion: string | null;
  head: string | null;
  pending: number;
  /** Migrations in the database this binary does not know (the backup is newer). */
  unknown: number;
  /** With `update`: what the update did. */
  update: { action: string; from: string | null; to: string | null; steps: { version: string; name: string; durationMs: number }[]; drift: number | null } | null;
}

/** `database`: a restore --into that database (beside the live one): recorded there, nothing else said or done. */
/** `args`: the history row's args (what was restored, and the way back: see historyArgs). */
export async function afterRestore(ctx: OpContext, o: { args: string; fromVersion: string | null; update: boolean; database?: string }): Promise<AfterRestore> {
  const set = await ctx.migrations();
  const db = o.database === undefined ? await ctx.connect("restore") : await connect({ ...ctx.target(), database: o.database }, { applicationName: `${brand.binary} restore` });
  let report;
  try {
    const state = await readState(db.sql, ctx.schema);
    report = computeStatus(set, state);
    if (state.managed) {
      const id = await startHistory(db.sql, ctx.schema, "restore", o.args, brand.version, o.fromVersion);
      await finishHistory(db.sql, ctx.schema, id, "ok", null, report.version);
    }
  } finally {
    await db.close().catch(() => undefined);
  }
  const out: AfterRestore = {
    managed: report.managed,
    schemaVersion: report.version,
    head: report.head,
    pending: report.counts.pending,
    unknown: report.counts.unknown,
    update: null,
  };
  if (o.database !== undefined) return out;
  if (out.unknown) {
    warn(ctx, `the restored database has ${plural(out.unknown, "migration")} this binary does not know: it is newer than this binary; use the release that made the backup`);
  } else if (out.managed && out.pending) {
    if (o.update) {
      info(ctx, `the backup is at ${out.schemaVersion ?? "(none)"}, this binary at ${out.head}: applying ${plural(out.pending, "pending migration")}`);
      // The same code as `<binary> update`, its result folded into restore's.
      const r = await migrate(ctx, { mode: "update" });
      out.update = { action: r.action, from: r.from, to: r.to, steps: r.steps.map((d) => ({ version: d.version, name: d.name, durationMs: d.durationMs })), drift: r.drift };
      out.schemaVersion = r.to;
      out.pending = 0;
    } else {
      warn(ctx, `the backup is at schema ${out.schemaVersion ?? "(none)"}, ${plural(out.pending, "migration")} behind this binary (${out.head}): run '${brand.binary} update' (or restore with --update)`);
    }
  }
  return out;
}
