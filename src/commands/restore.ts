// restore FILE: check everything first (manifest, sha256, decryption, that
// pg_restore reads it), then build the database beside the live one and swap
// it in, keeping the old one; without CREATEDB, replace in place in one
// transaction. `restore --drop-old` without FILE drops what earlier restores kept.

import type { ArgsDef } from "citty";
import { quoteIdent } from "../core/format.ts";
import { accessSync, constants, existsSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { takeBackup } from "../backup/create.ts";
import { sameKeysFor, type DecryptKeys } from "../backup/age-stream.ts";
import { ExitCode, PgshipError, UsageError } from "../core/errors.ts";
import type { Db } from "../db/connect.ts";
import { isSqlState, SQLSTATE } from "../db/sqlstate.ts";
import { decryptKeys } from "../backup/keys.ts";
import { listArchive } from "../backup/read.ts";
import { connectMaintenance, databaseExists, type Role, describeLeftovers, dropDatabase, keptDatabases, leftoverDatabases, ownsDatabase, readRole, sessionsOn, swapDatabases, type Session } from "../backup/restore-db.ts";
import { runCreate, runInPlace, runInto, runSwap, type ModeResult, type RestoreMode } from "../backup/restore-modes.ts";
import { historyArgs, keptComment, keptDatabaseName, planRestore, wayBackOf, type RestorePlan, type WayBack } from "../backup/restore-plan.ts";
import { resolveBackupFile } from "../backup/store.ts";
import { locatePgTool, siblingTool, describeTool } from "../tools/pg-tools.ts";
import type { RunningProc } from "../tools/proc.ts";
import { brand, type Context } from "../cli/context.ts";
import type { Args } from "../cli/flags.ts";
import { confirmOrFail, decryptArgs, formatBytes, keyFlags, progressLine, toolArgs, toolLocation } from "./_backup-flags.ts";
import { afterRestore } from "./_restore-after.ts";
import { checkedBackup, keysFor, matchManifest, wrongKeyHint } from "./_restore-input.ts";
import { describeHolder } from "../db/lock.ts";
import { trackingExists } from "../db/tracking.ts";

export const args = {
  file: { type: "positional", required: false, description: "Backup file: the .dump / .dump.age (or its .manifest.json)" },
  ...decryptArgs,
  into: { type: "string", description: "Restore into this new database beside the live one; no swap", valueHint: "name" },
  "in-place": { type: "boolean", description: "Replace the live database's contents in one transaction instead of swapping databases" },
  "drop-old": { type: "boolean", description: "Drop the replaced database after the swap (without FILE: drop those kept by earlier restores)" },
  "keep-owner": { type: "boolean", description: "Restore the original owners of objects (the roles must exist); default: the restoring role owns them" },
  "keep-acl": { type: "boolean", description: "Restore GRANTs and REVOKEs (the roles must exist)" },
  update: { type: "boolean", description: "Afterwards apply this binary's pending migrations when the backup is older" },
  "dry-run": { type: "boolean", description: "Check the backup and print the plan; change nothing" },
  manifest: { type: "boolean", default: true, description: "Require the manifest (--no-manifest: restore a pg_dump -Fc archive without one)" },
  "other-app": { type: "boolean", description: "Accept a backup made by another pgship-built binary" },
  undo: { type: "boolean", description: "Go back to the state before the last restore: swap back the database it kept, or restore its safety backup in place" },
  "safety-dir": { type: "string", description: "In-place restore: where the safety backup of the current database goes (default: the backup file's directory when writable, else ./pgship-safety)", valueHint: "dir" },
  "safety-backup": { type: "boolean", default: true, description: "In-place restore: back up the current database first, so --undo can go back (--no-safety-backup: no way back)" },
  ...toolArgs,
} as const satisfies ArgsDef;

export const usage = `Before anything changes: the manifest, the file's sha256, decryption, and that pg_restore reads it
(and is new enough). Then the backup is restored into a new database, other sessions on the live
database are ended, and the two are swapped by renaming; the old database is kept as
<name>_before_restore_<time> until --drop-old (now or later). A role without CREATEDB restores in
place, in one transaction: a failure changes nothing; a safety backup of the current database is
taken first (--safety-dir, --no-safety-backup). --undo goes back to the state before the last restore
(run again, it goes forward again). Databases left by killed restores and verifies are reported, and
dropped by --drop-old.
Exit codes: 0 restored, 1 refused or failed (the live database is as it was), 2 usage (e.g. no --yes
without a terminal, missing --identity), 5 migration lock not acquired, 130 interrupted.
Examples:
  pgship restore /var/backups/app/app-20250601T020000Z.dump --yes
  pgship restore app-20250601T020000Z.dump.age --identity ~/backup-key.txt --update
  pgship restore app-20250601T020000Z.dump --into app_copy       # beside the live database
  pgship restore app-20250601T020000Z.dump --dry-run
  pgship restore --undo --yes                                     # back to before the last restore
  pgship restore --drop-old --yes                                 # drop databases kept by earlier restores`;

const isMissingDatabase = (e: unknown) => e instanceof Error && isSqlState(e.cause, SQLSTATE.invalidCatalogName);

export async function run(ctx: Context, a: Args): Promise<number> {
  const file = a.file as string | undefined;
  if (a.undo) {
    if (file || a.into !== undefined || a["in-place"] || a["drop-old"] || a.update) throw new UsageError("--undo takes no FILE, and no --into, --in-place, --drop-old or --update", "pgship restore --undo --yes");
    return undo(ctx, a);
  }
  if (!file) {
    if (a["drop-old"]) return dropOld(ctx);
    throw new UsageError("restore needs a backup FILE", "list them with 'pgship backups --dir DIR'; or 'pgship restore --drop-old' to drop databases kept by earlier restores, or 'pgship restore --undo'");
  }
  return restoreFile(ctx, a, file, null);
}

/** The safety backup's directory: --safety-dir, else the backup file's directory when writable, else ./pgship-safety. */
function safetyDirOf(a: Args, archivePath: string): string | null {
  if (a["safety-backup"] === false) return null;
  if (a["safety-dir"] !== undefined) return resolve(String(a["safety-dir"]));
  try {
    accessSync(dirname(archivePath), constants.W_OK);
    return dirname(archivePath);
  } catch {
    return resolve("pgship-safety");
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
async function decide(ctx: Context, a: Args, into: string | null, archivePath: string): Promise<Decided> {
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
    if (into === null && liveDb && !a["in-place"] && canCreate && mayRename) {
      admin = await connectMaintenance(target, `${brand.binary} restore`, [live]).catch((e: unknown) => {
        maintenanceError = (e as Error).message;
        return null;
      });
    }
    const at = new Date();
    const keeps = admin && liveDb && into === null && !a["drop-old"] ? await freeName(admin, (n) => keptDatabaseName(live, at, n)) : null;
    const { plan, why } = planRestore({
      live,
      into,
      liveExists: liveDb !== null,
      inPlace: Boolean(a["in-place"]),
      role: { name: role.name, canCreate, mayRename },
      maintenanceError,
      keeps,
      safetyDir: safetyDirOf(a, archivePath),
    });
    return { plan, why, liveDb, admin, role, at, keeps };
  } catch (e) {
    await liveDb?.close().catch(() => undefined);
    await admin?.close().catch(() => undefined);
    throw e;
  }
}

/**
 * What `restore FILE` with these flags (in-place, into, drop-old, safety-dir,
 * safety-backup) would do and its way back, decided as the restore decides it,
 * before anything changes: for a screen to say the truth before asking.
 */
export async function previewRestore(ctx: Context, a: Args, file: string): Promise<{ plan: RestorePlan; why: string | null }> {
  const b = resolveBackupFile(file);
  const d = await decide(ctx, a, a.into === undefined ? null : String(a.into), b.archivePath ?? file);
  await d.liveDb?.close().catch(() => undefined);
  await d.admin?.close().catch(() => undefined);
  return { plan: d.plan, why: d.why };
}

/** Restores FILE; `undoing`: this is `restore --undo`, going back by this safety backup. */
async function restoreFile(ctx: Context, a: Args, file: string, undoing: string | null): Promise<number> {
  const into = a.into === undefined ? null : String(a.into);
  if (into !== null && (!into || Buffer.byteLength(into) > 63)) throw new UsageError(`--into "${into}" is not a database name (1 to 63 bytes)`);
  if (into !== null && (a["in-place"] || a["drop-old"] || a.update)) throw new UsageError("--into restores beside the live database: it cannot be combined with --in-place, --drop-old or --update");
  if (a["in-place"] && a["drop-old"]) throw new UsageError("--drop-old applies to the swap; an in-place restore keeps no old database");
  const b = checkedBackup(resolveBackupFile(file), file, { requireManifest: a.manifest !== false, otherApp: Boolean(a["other-app"]) });
  const keys = keysFor(b, file, decryptKeys(keyFlags(ctx, a), ctx.secrets));
  const tools = toolLocation(a);
  const target = ctx.target();
  const live = target.database;
  if (into === live) throw new UsageError(`--into ${into} is the live database`, "drop --into to replace the live database");

  let liveDb: Db | null = null;
  let admin: Db | null = null;
  let active: RunningProc[] = [];
  const track = (p: RunningProc[]) => (active = p);
  const cancel = () => active.forEach((p) => p.stop());
  try {
    const d = await decide(ctx, a, into, b.archivePath!);
    ({ liveDb, admin } = d);
    const { plan: restorePlan, why, role, at, keeps } = d;
    const canCreate = role.superuser || role.createdb;
    const any = (liveDb ?? admin)!;
    const left = await leftoverDatabases(any.sql, live);
    if (left.length) ctx.log.warn(`left by interrupted runs, nobody connected: ${describeLeftovers(left)}; drop them with '${brand.binary} restore --drop-old'`);
    const mode: RestoreMode = restorePlan.mode;
    if ((mode === "into" || mode === "create") && !canCreate) {
      throw new PgshipError("restore_refused", mode === "create" ? `database "${live}" does not exist and role "${role.name}" cannot create it` : `role "${role.name}" cannot create database "${into}"`, {
        hint: mode === "create" ? `create the empty database first (createdb ${live}) and restore again` : "grant CREATEDB, or restore in place into the live database",
      });
    }
    if (why) {
      const safety = restorePlan.mode === "in-place" && restorePlan.safetyBackup ? `a safety backup of "${live}" is taken first, into ${restorePlan.safetyBackup}` : "no copy of the current database is kept (--no-safety-backup)";
      ctx.log.warn(`${why}: restoring in place, in one transaction (${safety})`);
    }
    if (liveDb && (mode === "swap" || mode === "in-place") && !a["keep-owner"]) {
      // --no-owner makes the restoring role the owner of everything: the app may lose access if it connects as another role.
      const [o] = await any.sql.unsafe<{ owner: string }[]>("select pg_get_userbyid(datdba) as owner from pg_database where datname = $1", [live]);
      if (o && o.owner !== role.name) {
        ctx.log.warn(`restored objects will be owned by "${role.name}", not by "${o.owner}" (the database's owner): if the app connects as "${o.owner}", restore as that role or pass --keep-owner`);
      }
    }

    const serverMajor = Math.floor(any.serverVersionNum / 10000);
    const pgRestore = await locatePgTool("pg_restore", serverMajor, tools);
    const psql = mode === "in-place" ? await siblingTool(pgRestore, "psql") : null;
    ctx.log.debug(`using ${describeTool(pgRestore)}${psql ? ` and ${describeTool(psql)}` : ""}`);

    // The check pass: reads the whole file, changes nothing anywhere. Without a manifest (nothing vouches for the
    // bytes) and in a dry run (which is the check), pg_restore reads every data block, so a truncated archive is refused.
    const whole = !b.manifest || Boolean(a["dry-run"]);
    const checked = await ctx.interrupt
      // With a manifest, its sha256 vouches for every stored byte, so decrypting as far as pg_restore --list reads is enough
      // here; the restore itself decrypts everything and checks the plain sha256 before anything is committed or swapped.
      .track(Object.assign(listArchive(b.archivePath!, file, keys, pgRestore, (p) => track(p ? [p] : []), () => ctx.interrupt.interrupted, !b.manifest, whole), { cancel }))
      .catch((e: unknown) => {
        if (e instanceof PgshipError && e.code === "wrong_key") throw new PgshipError(e.code, e.message, { hint: wrongKeyHint(b) });
        throw e;
      });
    matchManifest(b.manifest, checked.stored.hex(), checked.plainComplete ? checked.plain.hex() : null, file);
    ctx.interrupt.check();
    // The user pointed at this file, so it is restored; but a backup of another database is worth a word.
    if (b.manifest && b.manifest.database !== live) {
      ctx.log.warn(`${basename(file)} is a backup of database "${b.manifest.database}" (its manifest says so), not of "${live}": restoring it ${into === null ? `into "${live}"` : `beside "${live}" as "${into}"`} as asked`);
    }
    if (b.manifest && checked.header.database && checked.header.database !== b.manifest.database) {
      ctx.log.warn(`the manifest of ${basename(file)} names database "${b.manifest.database}", but the archive was dumped from "${checked.header.database}": the manifest was edited or belongs to another backup`);
    }

    const sessions = liveDb ? await sessionsOn(any.sql, live) : [];
    const m = b.manifest;
    const backupVersion = m ? m.schemaVersion : null;
    const plan = describePlan(restorePlan, { live, sessions });
    const summary = {
      file: b.archivePath,
      bytes: checked.stored.bytes,
      createdAt: m?.createdAt ?? checked.header.createdAt,
      database: m?.database ?? checked.header.database,
      schemaVersion: backupVersion,
      pgDump: checked.header.dumpVersion,
      encrypted: keys !== null,
    };
    if (a["dry-run"]) {
      ctx.result({ ok: true, dryRun: true, mode, plan, restorePlan, backup: summary, checks: "passed", ...(undoing ? { undo: true } : {}) }, () =>
        [`Checked ${file}: sha256${m ? " matches the manifest" : " computed (no manifest)"}${keys ? ", decrypts" : ""}, pg_restore ${pgRestore.version} reads it${whole ? " to the end" : ""}.`, `Plan (dry run, nothing changed): ${plan}`].join("\n"),
      );
      return ExitCode.ok;
    }
    if (mode === "swap" || mode === "in-place") {
      await confirmOrFail(ctx, {
        what: `${undoing ? "--undo" : "restore"} replaces database "${live}"`,
        question: `${plan}\nReplace database "${live}" with ${undoing ? "the safety backup " : ""}${basename(file)} (made ${summary.createdAt ?? "?"}, schema ${backupVersion ?? "?"})?`,
        nothingChanged: "nothing changed",
      });
    }
    const fromVersion = liveDb && mode !== "into" ? await currentVersion(liveDb, ctx.schema) : null;
    const t0 = Date.now();
    // In place, the way back is a backup of what is there now, taken (and read back) before anything changes.
    const safetyBackup = restorePlan.mode === "in-place" && restorePlan.safetyBackup ? await takeSafetyBackup(ctx, a, liveDb!, restorePlan.safetyBackup, keys) : null;
    const progress = progressLine(ctx, "restore");
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
        onLockWait: (h: Parameters<typeof describeHolder>[0] | null) => ctx.log.info(`waiting for the migration lock${h ? ` held by ${describeHolder(h)}` : ""}`),
        interrupt: ctx.interrupt,
        warn: (msg: string) => ctx.log.warn(msg),
        closeLive: async () => {
          await liveDb?.close().catch(() => undefined);
          liveDb = null;
        },
        input: {
          path: b.archivePath!,
          file: basename(file),
          keys,
          expected: { sha256: checked.stored.hex(), plainSha256: b.manifest?.archive.plainSha256 ?? checked.plain.hex() },
          ownership: { keepOwner: Boolean(a["keep-owner"]), keepAcl: Boolean(a["keep-acl"]) },
          target,
          track,
          onBytes: (n: number) => progress.update(n),
        },
      };
      const work =
        mode === "swap" ? runSwap(modeRun, at, Boolean(a["drop-old"]), keeps) : mode === "create" ? runCreate(modeRun, at) : mode === "into" ? runInto(modeRun, into!) : runInPlace(modeRun);
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
      update: Boolean(a.update),
      database: mode === "into" ? into! : undefined,
    });
    ctx.result({ ok: true, mode, ...result, safetyBackup, wayBack, backup: summary, durationMs: Date.now() - t0, after, ...(undoing ? { undo: true } : {}) }, () => {
      const lines = [`Restored ${basename(file)} (${formatBytes(checked.stored.bytes)}) into "${result.database}" (${mode === "in-place" ? "in place, one transaction" : mode === "swap" ? "built beside it and swapped in" : "new database"}).`];
      if (result.endedSessions) lines.push(`  ended ${result.endedSessions} session${result.endedSessions === 1 ? "" : "s"} on the old database`);
      if (result.kept) lines.push(`  the replaced database is kept as "${result.kept}": go back with '${brand.binary} restore --undo', or drop it with '${brand.binary} restore --drop-old' once you are happy`);
      if (result.dropped) lines.push("  the replaced database was dropped (--drop-old): there is no way back but another backup");
      if (safetyBackup) lines.push(`  safety backup of the previous contents: ${safetyBackup}; go back with '${brand.binary} restore --undo'`);
      if (mode === "in-place" && !safetyBackup) lines.push("  no copy of the previous contents was kept (--no-safety-backup)");
      if (after) lines.push(`  schema version ${after.schemaVersion ?? "(not managed by pgship)"}${after.pending ? `, ${after.pending} pending: run 'pgship update'` : ""}${after.update ? " (updated with --update)" : ""}`);
      return lines.join("\n");
    });
    return ExitCode.ok;
  } finally {
    await liveDb?.close().catch(() => undefined);
    await admin?.close().catch(() => undefined);
  }
}

async function currentVersion(db: Db, schema: string): Promise<string | null> {
  if (!(await trackingExists(db.sql, schema))) return null;
  const [row] = await db.sql.unsafe<{ v: string | null }[]>(`select max(version) as v from ${quoteIdent(schema)}.migrations where state = 'applied'`);
  return row?.v ?? null;
}

function describePlan(p: RestorePlan, o: { live: string; sessions: Session[] }): string {
  const who = o.sessions.length ? `${o.sessions.length} other session${o.sessions.length === 1 ? "" : "s"} (${[...new Set(o.sessions.map((s) => s.application || s.user))].slice(0, 5).join(", ")})` : "no other sessions";
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
async function takeSafetyBackup(ctx: Context, a: Args, db: Db, dir: string, keys: DecryptKeys | null): Promise<string> {
  ctx.log.info(`taking a safety backup of "${db.target.database}" into ${dir}`);
  try {
    const out = await takeBackup(db, ctx.target(), {
      dir,
      schema: ctx.schema,
      app: { name: brand.binary, version: brand.version },
      tools: toolLocation(a),
      compression: { method: "auto" },
      keys: keys ? await sameKeysFor(keys) : null,
      retention: {},
      interrupt: ctx.interrupt,
      log: { info: (m) => ctx.log.debug(m), warn: (m) => ctx.log.warn(m), debug: (m) => ctx.log.debug(m) },
    });
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
async function undo(ctx: Context, a: Args): Promise<number> {
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
      fallbackAt = /^pgship: kept by restore of .+ on (\S+) \(/.exec(newest.comment)?.[1] ?? null;
    }
  }
  if (!back) {
    throw new PgshipError("nothing_to_undo", last ? `nothing to undo: the last restore of "${live}" (${last.args}, ${last.at}) kept no way back` : `nothing to undo: no restore of "${live}" is recorded`, {
      hint: "restore a backup instead: pgship backups --dir DIR lists them",
    });
  }
  if (back.kind === "safety-backup") {
    if (!existsSync(back.file)) {
      throw new PgshipError("nothing_to_undo", `nothing to undo: the safety backup of the last restore of "${live}", ${back.file}, is gone`, { hint: "restore another backup: pgship backups --dir DIR lists them" });
    }
    return restoreFile(ctx, { ...a, file: back.file, "in-place": true, manifest: true, "other-app": false, into: undefined }, back.file, back.file);
  }
  return undoSwap(ctx, a, back.database, last?.at ?? fallbackAt);
}

async function undoSwap(ctx: Context, a: Args, keptName: string, at: string | null): Promise<number> {
  const target = ctx.target();
  const live = target.database;
  const admin = await connectMaintenance(target, `${brand.binary} restore --undo`, [live]);
  try {
    if (!(await keptDatabases(admin, live)).some((k) => k.name === keptName)) {
      throw new PgshipError("nothing_to_undo", `nothing to undo: "${keptName}", the database the last restore of "${live}" replaced, is gone (dropped with --drop-old?)`, {
        hint: "restore a backup instead: pgship backups --dir DIR lists them",
      });
    }
    const now = new Date();
    const keeps = await freeName(admin, (n) => keptDatabaseName(live, now, n));
    const sessions = await sessionsOn(admin.sql, live);
    const plan = `Swap "${keptName}" (the database the last restore${at ? `, at ${at},` : ""} replaced) back in for "${live}"${sessions.length ? `, ending ${sessions.length} session${sessions.length === 1 ? "" : "s"} on it` : ""}; the current "${live}" is kept as "${keeps}" ('${brand.binary} restore --undo' again swaps it back).`;
    if (a["dry-run"]) {
      ctx.result({ ok: true, dryRun: true, undo: true, mode: "swap", plan, restorePlan: { mode: "swap", keeps } }, () => `Plan (dry run, nothing changed): ${plan}`);
      return ExitCode.ok;
    }
    await confirmOrFail(ctx, { what: `--undo replaces database "${live}"`, question: `${plan}\nGo back?`, nothingChanged: "nothing changed" });
    const t0 = Date.now();
    const { ended } = await swapDatabases(admin, live, keptName, keeps, keptComment(live, "restore --undo", now));
    // The database back in place no longer says it is kept (--drop-old must never find the live one).
    await admin.sql.unsafe(`comment on database ${quoteIdent(live)} is null`);
    const wayBack: WayBack = { kind: "kept-database", database: keeps };
    const after = await afterRestore(ctx, { args: historyArgs(`restore --undo: swapped back "${keptName}"`, wayBack, true), fromVersion: null, update: false });
    ctx.result({ ok: true, undo: true, mode: "swap", database: live, restored: keptName, kept: keeps, endedSessions: ended, wayBack, durationMs: Date.now() - t0, after }, () =>
      [
        `Undone: "${keptName}" is "${live}" again${ended ? ` (ended ${ended} session${ended === 1 ? "" : "s"})` : ""}.`,
        `  the database the restore had put in place is kept as "${keeps}": '${brand.binary} restore --undo' swaps it back, '${brand.binary} restore --drop-old' drops it`,
      ].join("\n"),
    );
    return ExitCode.ok;
  } finally {
    await admin.close().catch(() => undefined);
  }
}

/**
 * `restore --drop-old`: the databases earlier restores kept (found by their comment) and those
 * left by killed restores and verifies (see leftoverDatabases), dropped after confirmation.
 */
async function dropOld(ctx: Context): Promise<number> {
  const target = ctx.target();
  const admin = await connectMaintenance(target, `${brand.binary} restore --drop-old`, [target.database]);
  try {
    const kept = (await keptDatabases(admin, target.database)).map((k) => k.name);
    const left = await leftoverDatabases(admin.sql, target.database);
    const all = [...kept, ...left.map((l) => l.name)];
    if (all.length) {
      const what = [kept.length ? `kept by earlier restores of "${target.database}": ${kept.map((k) => `"${k}"`).join(", ")}` : "", left.length ? `left by interrupted runs: ${describeLeftovers(left)}` : ""].filter(Boolean).join("; ");
      await confirmOrFail(ctx, {
        what: `--drop-old drops ${all.map((k) => `"${k}"`).join(", ")}`,
        question: `Drop these databases (${what})?`,
        nothingChanged: "nothing was dropped",
      });
    }
    // A plain DROP DATABASE fails if anyone connected meanwhile: such a database is in use, not left over.
    for (const name of all) await dropDatabase(admin, name);
    ctx.result({ ok: true, dropped: all, leftovers: left.map((l) => l.name) }, () =>
      all.length ? `Dropped ${all.join(", ")}.` : `No databases kept by earlier restores of "${target.database}", and none left by interrupted runs.`,
    );
  } finally {
    await admin.close().catch(() => undefined);
  }
  return ExitCode.ok;
}
