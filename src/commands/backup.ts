// backup: one verified pg_dump archive (+ manifest) in --dir, optionally
// age-encrypted, then retention. Made for cron: no prompts, --json, exit codes.

import type { ArgsDef } from "citty";
import { basename, resolve } from "node:path";
import { ExitCode, UsageError } from "../core/errors.ts";
import { applyRetention, type RetentionOutcome } from "../backup/apply-retention.ts";
import { parseCompression } from "../backup/compression.ts";
import { takeBackup, type BackupOutcome } from "../backup/create.ts";
import { encryptKeys } from "../backup/keys.ts";
import { describeEncryption } from "../backup/manifest.ts";
import { describePolicy, policyIsEmpty } from "../backup/retention.ts";
import { brand, type Context } from "../cli/context.ts";
import type { Args } from "../cli/flags.ts";
import { encryptArgs, formatBytes, keyFlags, progressLine, retentionArgs, retentionPolicy, toolArgs, toolLocation } from "./_backup-flags.ts";

export const args = {
  dir: { type: "string", description: "Directory for the backup files (created, mode 0700, if missing)", valueHint: "dir" },
  ...encryptArgs,
  compress: { type: "string", description: "auto (zstd when pg_dump 16+ has it, else gzip), none, gzip[:1-9], lz4[:N], zstd[:N]", default: "auto", valueHint: "method" },
  ...retentionArgs,
  "dry-run": { type: "boolean", description: "Take no backup, delete nothing: show what the --keep-* flags would delete" },
  ...toolArgs,
} as const satisfies ArgsDef;

export const usage = `Writes DIR/<database>-<UTC time>.dump (.dump.age when encrypted) and a .manifest.json beside it,
only after pg_dump succeeded and the archive read back. Retention runs after that.
Exit codes: 0 ok, 1 error (nothing written under a backup's name), 2 usage, 130 interrupted.
Examples:
  pgship backup --dir /var/backups/app
  pgship backup --dir /var/backups/app --encrypt-to age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p
  pgship backup --dir /var/backups/app --keep-daily 7 --keep-weekly 4 --keep-monthly 12 --json
  pgship backup --dir /var/backups/app --keep-last 3 --dry-run          # what would be deleted
  pgship backup --dir /backups --docker-container db                      # pg_dump inside the db container`;

export function requireDir(a: Args): string {
  if (!a.dir) throw new UsageError("--dir is required", "say where backups go, e.g. pgship backup --dir /var/backups/app");
  return String(a.dir);
}

export async function run(ctx: Context, a: Args): Promise<number> {
  const dir = requireDir(a);
  const policy = retentionPolicy(a);
  const compression = parseCompression(a.compress as string | undefined);
  const tools = toolLocation(a);
  const keys = encryptKeys(keyFlags(ctx, a), ctx.secrets);
  if (a["dry-run"]) return dryRun(ctx, resolve(dir), policy);

  const db = await ctx.connect("backup");
  const progress = progressLine(ctx, "backup");
  let out: BackupOutcome;
  try {
    out = await takeBackup(db, ctx.target(), {
      dir,
      schema: ctx.schema,
      app: { name: brand.binary, version: brand.version },
      tools,
      compression,
      keys,
      retention: policy,
      interrupt: ctx.interrupt,
      log: { info: (m) => ctx.log.info(m), warn: (m) => ctx.log.warn(m), debug: (m) => ctx.log.debug(m) },
      onProgress: (n) => progress.update(n),
    });
  } finally {
    progress.done();
    await db.close().catch(() => undefined);
  }
  const m = out.manifest;
  ctx.result(
    {
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
    },
    () => {
      const lines = [
        `Backup written: ${out.archivePath}`,
        `  ${formatBytes(m.archive.bytes)} (database ${m.databaseBytes === null ? "size unknown" : formatBytes(m.databaseBytes)}), schema ${m.schemaVersion ?? "not managed by pgship"}, ${m.archive.compression}, encrypted: ${describeEncryption(m.encryption)}`,
        `  sha256 ${m.archive.sha256}`,
        `  verified: read back and listed by pg_restore; pg_dump ${m.pgDump.version}, ${(m.durationMs / 1000).toFixed(1)} s`,
      ];
      if (out.retention) lines.push(...renderRetention(out.retention));
      return lines.join("\n");
    },
  );
  return ExitCode.ok;
}

async function dryRun(ctx: Context, dir: string, policy: ReturnType<typeof retentionPolicy>): Promise<number> {
  if (policyIsEmpty(policy)) throw new UsageError("--dry-run shows what retention would delete: give --keep-last, --keep-daily, --keep-weekly or --keep-monthly");
  const database = ctx.target().database;
  const outcome = (await applyRetention(dir, { app: brand.binary, database, createdAt: new Date().toISOString(), hypothetical: true }, policy, { dryRun: true }))!;
  ctx.result({ ok: true, dryRun: true, dir, database, retention: outcome }, () =>
    [`Dry run: no backup taken, nothing deleted. After a backup of "${database}" now:`, ...renderRetention(outcome)].join("\n"),
  );
  return ExitCode.ok;
}

export function renderRetention(r: RetentionOutcome): string[] {
  const verb = r.dryRun ? "would delete" : "deleted";
  const lines = [`Retention (${describePolicy(r.policy)}): keeping ${r.kept.length}, ${verb} ${r.deleted.length}`];
  for (const k of r.kept) lines.push(`  keep    ${basename(k.file)}  (${k.reasons.join(", ")})`);
  for (const d of r.deleted) lines.push(`  ${r.dryRun ? "delete " : "deleted"} ${basename(d.file)}`);
  for (const i of r.ignored) lines.push(`  ignore  ${basename(i.file)}  (${i.why})`);
  return lines;
}
