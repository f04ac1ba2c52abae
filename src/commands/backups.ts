// backups: what is in a backup directory (cheap checks only), and
// `backups verify FILE`: sha256, decryption, and a test restore into a
// scratch database that is dropped afterwards.

import type { ArgsDef } from "citty";
import { basename, resolve } from "node:path";
import { interrupted } from "../core/cancel.ts";
import { ExitCode, isPgshipError, PgshipError, UsageError } from "../core/errors.ts";
import { decryptKeys, hasDecryptKeys } from "../backup/keys.ts";
import { describeEncryption, lastVerification } from "../backup/manifest.ts";
import { listArchive } from "../backup/read.ts";
import { restoreInto } from "../backup/restore-stream.ts";
import { listBackups, resolveBackupFile, saveManifest, type StoredBackup } from "../backup/store.ts";
import { withScratchDatabase } from "../db/scratch.ts";
import { quoteIdent, trackingExists } from "../db/tracking.ts";
import type { Sql } from "../db/connect.ts";
import { locatePgTool } from "../tools/pg-tools.ts";
import type { RunningProc } from "../tools/proc.ts";
import type { Context } from "../cli/context.ts";
import type { Args } from "../cli/flags.ts";
import { table } from "../cli/output.ts";
import { cwd } from "../runtime.ts";
import { decryptArgs, formatBytes, keyFlags, progressLine, toolArgs, toolLocation } from "./_backup-flags.ts";
import { checkedBackup, keysFor, matchManifest } from "./_restore-input.ts";

export const args = {
  action: { type: "positional", required: false, description: "verify (or nothing, to list)" },
  file: { type: "positional", required: false, description: "backup file to verify" },
  dir: { type: "string", description: "Directory to list (default: the current directory)", valueHint: "dir" },
  ...decryptArgs,
  restore: { type: "boolean", default: true, description: "verify: test-restore into a scratch database (--no-restore: only checksum, decrypt, list)" },
  manifest: { type: "boolean", default: true, description: "verify: require the manifest (--no-manifest: check an archive without one)" },
  ...toolArgs,
} as const satisfies ArgsDef;

export const usage = `Statuses: ok (manifest valid, archive present with the recorded size), broken (what is wrong is
shown), no-manifest (interrupted or not made by pgship). VERIFIED shows the strongest check passed:
readback (when written) or test-restore (by 'backups verify').
verify exits 0 when the backup restores, 1 when it does not (the message says why), 2 on usage errors.
Examples:
  pgship backups --dir /var/backups/app
  pgship backups --dir /var/backups/app --json
  pgship backups verify /var/backups/app/app-20250601T020000Z.dump.age --identity ~/backup-key.txt
  pgship backups verify app-20250601T020000Z.dump --no-restore        # without a database`;

export async function run(ctx: Context, a: Args): Promise<number> {
  const action = a.action as string | undefined;
  if (action === undefined || action === "list") return list(ctx, String(a.dir ?? cwd()));
  if (action !== "verify") throw new UsageError(`unknown backups action "${action}"`, "use 'pgship backups --dir DIR' to list, or 'pgship backups verify FILE'");
  if (!a.file) throw new UsageError("backups verify needs a FILE", "e.g. pgship backups verify /var/backups/app/app-20250601T020000Z.dump");
  return verify(ctx, a, String(a.file));
}

function row(b: StoredBackup) {
  const m = b.manifest;
  const v = m ? lastVerification(m) : null;
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
    verified: v,
  };
}

async function list(ctx: Context, dirArg: string): Promise<number> {
  const dir = resolve(dirArg);
  const { backups, partials } = listBackups(dir);
  const rows = backups.map(row);
  ctx.result({ dir, backups: rows, partials }, () => {
    if (!backups.length && !partials.length) return `No backups in ${dir}.`;
    const t = [["CREATED (UTC)", "DATABASE", "SCHEMA", "SIZE", "ENCRYPTED", "STATUS", "VERIFIED", "FILE"]];
    for (const b of backups) {
      const m = b.manifest;
      const v = m ? lastVerification(m) : null;
      t.push([
        m ? m.createdAt.slice(0, 19).replace("T", " ") : "?",
        m?.database ?? "?",
        m ? (m.schemaVersion ?? "-") : "?",
        b.archiveBytes === null ? "missing" : formatBytes(b.archiveBytes),
        m ? describeEncryption(m.encryption) : b.archivePath?.endsWith(".age") ? "age" : "?",
        b.status,
        v ? `${v.how} ${v.at.slice(0, 10)}` : "no",
        basename(b.archivePath ?? b.manifestPath ?? b.stem),
      ]);
    }
    const out = [`Backups in ${dir}:`, table(t)];
    for (const b of backups) if (b.status !== "ok") out.push(`  ${basename(b.archivePath ?? b.manifestPath ?? b.stem)}: ${b.problems.join("; ")}`);
    const ok = backups.filter((b) => b.status === "ok").length;
    out.push(`${backups.length} backup${backups.length === 1 ? "" : "s"}, ${ok} ok${backups.length - ok ? `, ${backups.length - ok} not restorable as they are` : ""}.`);
    if (partials.length) out.push(`${partials.length} partial file${partials.length === 1 ? "" : "s"} left by interrupted backups (safe to delete): ${partials.map((p) => basename(p)).join(", ")}`);
    return out.join("\n");
  });
  return ExitCode.ok;
}

async function verify(ctx: Context, a: Args, file: string): Promise<number> {
  const b = checkedBackup(resolveBackupFile(file), file, { requireManifest: a.manifest !== false, otherApp: true });
  const keys = keysFor(b, file, decryptKeys(keyFlags(ctx, a), ctx.secrets));
  const tools = toolLocation(a);
  const m = b.manifest;
  const t0 = Date.now();
  let active: RunningProc[] = [];
  const track = (p: RunningProc[]) => (active = p);
  const cancel = () => active.forEach((p) => p.stop());
  let detail: string;
  let restoredVersion: string | null | undefined;
  if (a.restore === false) {
    const pgRestore = await locatePgTool("pg_restore", 0, tools);
    const checked = await ctx.interrupt.track(Object.assign(listArchive(b.archivePath!, file, keys, pgRestore, (p) => track(p ? [p] : []), () => ctx.interrupt.interrupted, true, true), { cancel })).catch((e: unknown) => {
      throw notJudged(ctx, e, `while reading ${file}: the backup was not judged`);
    });
    matchManifest(m, checked.stored.hex(), checked.plain.hex(), file);
    detail = `sha256 checked${keys ? ", decrypted" : ""}, read to the end by pg_restore ${pgRestore.version} (no test restore)`;
  } else {
    const admin = await ctx.connect("backups verify");
    const progress = progressLine(ctx, "test restore");
    try {
      const pgRestore = await locatePgTool("pg_restore", Math.floor(admin.serverVersionNum / 10000), tools);
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
  const how = a.restore === false ? "readback" : "test-restore";
  if (m && b.manifestPath) {
    try {
      saveManifest(b.manifestPath, { ...m, verified: [...m.verified, { at: new Date().toISOString(), how, detail }] });
    } catch (e) {
      ctx.log.warn(`verified, but could not record it in ${b.manifestPath}: ${(e as Error).message}`);
    }
  }
  ctx.result({ ok: true, file: b.archivePath, how, detail, schemaVersion: restoredVersion ?? m?.schemaVersion ?? null, durationMs: Date.now() - t0 }, () => `${file}: OK, ${detail}.`);
  return ExitCode.ok;
}

/**
 * A tool stopped by the signal fails the check, which says nothing about the
 * backup: reported as interrupted (130). A verdict reached before it stands.
 */
function notJudged(ctx: Context, e: unknown, what: string): unknown {
  if (!ctx.interrupt.interrupted || (isPgshipError(e) && e.code === "backup_corrupt")) return e;
  return interrupted(what);
}

async function scratchSummary(sql: Sql, schema: string): Promise<{ tables: number; version: string | null }> {
  const [r] = await sql.unsafe<{ tables: string }[]>(
    `select count(*) as tables from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p') and n.nspname !~ '^pg_' and n.nspname <> 'information_schema'`,
  );
  let version: string | null = null;
  if (await trackingExists(sql, schema)) {
    const [v] = await sql.unsafe<{ v: string | null }[]>(`select max(version) as v from ${quoteIdent(schema)}.migrations where state = 'applied'`);
    version = v?.v ?? null;
  }
  return { tables: Number(r!.tables), version };
}
