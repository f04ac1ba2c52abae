// `up` / `update --backup DIR`: a verified backup under the migration lock,
// right before the first migration runs, and the exact command that restores
// it if a migration then fails.

import type { ArgsDef } from "citty";
import { PgshipError } from "../core/errors.ts";
import { takeBackup, type BackupOutcome } from "../backup/create.ts";
import { encryptKeys } from "../backup/keys.ts";
import type { Db } from "../db/connect.ts";
import { brand, type Context } from "../cli/context.ts";
import type { Args } from "../cli/flags.ts";
import { encryptArgs, formatBytes, keyFlags, progressLine, toolArgs, toolLocation } from "./_backup-flags.ts";

export const preBackupArgs = {
  backup: { type: "string", description: "Back up to this directory first (only when there is something to apply)", valueHint: "dir" },
  ...encryptArgs,
  ...toolArgs,
} as const satisfies ArgsDef;

const shellQuote = (s: string) => (/^[A-Za-z0-9_./:@=+-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`);

/** Checks the flags before anything runs, so a typo fails before the lock and the plan. */
export function preBackupFlags(ctx: Context, a: Args) {
  if (!a.backup) return null;
  return { dir: String(a.backup), keys: encryptKeys(keyFlags(ctx, a), ctx.secrets), tools: toolLocation(a) };
}

export async function backupBeforeMigrating(ctx: Context, db: Db, flags: NonNullable<ReturnType<typeof preBackupFlags>>): Promise<BackupOutcome> {
  ctx.log.info(`backing up to ${flags.dir} before migrating`);
  const progress = progressLine(ctx, "backup");
  try {
    const out = await takeBackup(db, ctx.target(), {
      dir: flags.dir,
      schema: ctx.schema,
      app: { name: brand.binary, version: brand.version },
      tools: flags.tools,
      compression: { method: "auto" },
      keys: flags.keys,
      retention: {},
      interrupt: ctx.interrupt,
      log: { info: (m) => ctx.log.info(m), warn: (m) => ctx.log.warn(m), debug: (m) => ctx.log.debug(m) },
      onProgress: (n) => progress.update(n),
    });
    progress.done();
    ctx.log.info(`backup written: ${out.archivePath} (${formatBytes(out.manifest.archive.bytes)}, verified)`);
    return out;
  } catch (e) {
    progress.done();
    if (e instanceof PgshipError) throw new PgshipError(e.code, `the backup before migrating failed, so nothing was migrated: ${e.message}`, { exitCode: e.exitCode, hint: e.hint, cause: e });
    throw e;
  }
}

/** The command that puts the database back as it was backed up. */
export function restoreCommand(out: BackupOutcome, a: Args): string {
  const parts = [brand.binary, "restore", shellQuote(out.archivePath)];
  const enc = out.manifest.encryption;
  if (enc?.mode === "passphrase" && a["passphrase-file"]) parts.push("--passphrase-file", shellQuote(String(a["passphrase-file"])));
  if (enc?.mode === "recipients") parts.push("--identity", "<your age identity file>");
  if (a["docker-container"]) parts.push("--docker-container", shellQuote(String(a["docker-container"])));
  if (a["pg-bin"]) parts.push("--pg-bin", shellQuote(String(a["pg-bin"])));
  parts.push("--yes");
  return parts.join(" ");
}

/** A failed migration's error, with the way back appended to its hint. */
export function withRestoreHint(e: unknown, out: BackupOutcome, a: Args): unknown {
  if (!(e instanceof PgshipError)) return e;
  const back = `to return to the backup taken before this run: ${restoreCommand(out, a)}`;
  return new PgshipError(e.code, e.message, { exitCode: e.exitCode, hint: e.hint ? `${e.hint}\n  ${back}` : back, cause: e.cause ?? e });
}
