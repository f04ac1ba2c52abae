// backup: one verified pg_dump archive (+ manifest) in --dir, optionally
// age-encrypted, then retention. Made for cron: no prompts, --json, exit codes.
// The work is the backup operation (src/ops/backup.ts); this turns flags into
// its options and its outcome into text or --json.

import { isS3 } from "../backup/location.ts";
import { brand } from "../brand.ts";
import type { ArgsDef } from "citty";
import { basename } from "node:path";
import { ExitCode, UsageError } from "../core/errors.ts";
import { formatBytes } from "../core/format.ts";
import type { RetentionOutcome } from "../backup/apply-retention.ts";
import { parseCompression } from "../backup/compression.ts";
import { encryptKeys } from "../backup/keys.ts";
import { describeEncryption } from "../backup/manifest.ts";
import { describePolicy } from "../backup/retention.ts";
import { encryptArgs, keyFlags, retentionArgs, retentionPolicy, toolArgs, toolLocation } from "../cli/backup-flags.ts";
import { alertArgs } from "../cli/alert-args.ts";
import type { Context } from "../cli/context.ts";
import { intFlag, type Args } from "../cli/flags.ts";
import { backup, type BackupOptions, type BackupResult } from "../ops/backup.ts";

export const args = {
  dir: { type: "string", description: "Directory for the backup files (created, mode 0700, if missing), or s3://BUCKET/PREFIX", valueHint: "dir" },
  "copy-to": { type: "string", description: "Also upload the verified backup to s3://BUCKET/PREFIX (the --keep-* flags apply there too)", valueHint: "s3-url" },
  ...encryptArgs,
  compress: { type: "string", description: "auto (zstd when pg_dump 16+ has it, else gzip), none, gzip[:1-9], lz4[:N], zstd[:N]", default: "auto", valueHint: "method" },
  jobs: { type: "string", description: "Dump with N parallel pg_dump workers (directory format, archived as one file)", valueHint: "n" },
  ...retentionArgs,
  "dry-run": { type: "boolean", description: "Take no backup, delete nothing: show what the --keep-* flags would delete" },
  ...toolArgs,
  ...alertArgs,
} as const satisfies ArgsDef;

export const usage = `Writes DIR/<database>-<UTC time>.dump (.dump.age when encrypted) and a .manifest.json beside it,
only after pg_dump succeeded and the archive read back. Retention runs after that.
Exit codes: 0 ok, 1 error (nothing written under a backup's name), 2 usage, 130 interrupted.
Examples:
  ${brand.binary} backup --dir /var/backups/app
  ${brand.binary} backup --dir /var/backups/app --encrypt-to age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p
  ${brand.binary} backup --dir /var/backups/app --keep-daily 7 --keep-weekly 4 --keep-monthly 12 --json
  ${brand.binary} backup --dir /var/backups/app --jobs 4                          # 4 parallel pg_dump workers
  ${brand.binary} backup --dir /var/backups/app --keep-last 3 --dry-run          # what would be deleted
  ${brand.binary} backup --dir /backups --docker-container db                      # pg_dump inside the db container
  ${brand.binary} backup --dir /var/backups/app --ping https://hc-ping.com/<uuid>   # monitored: start, then success or failure
  ${brand.binary} backup --dir s3://my-bucket/app --keep-daily 7                  # streamed to S3 (AWS_* credentials from the environment)
  ${brand.binary} backup --dir /var/backups/app --copy-to s3://my-bucket/app      # local backup plus a verified copy in S3`;

export function requireDir(a: Args): string {
  if (!a.dir) throw new UsageError("--dir is required", `say where backups go, e.g. ${brand.binary} backup --dir /var/backups/app`);
  return String(a.dir);
}

export const options = (ctx: Context, a: Args): BackupOptions => ({
  dir: requireDir(a),
  copyTo: a["copy-to"] ? String(a["copy-to"]) : null,
  retention: retentionPolicy(a),
  compression: parseCompression(a.compress as string | undefined),
  tools: toolLocation(a),
  keys: encryptKeys(keyFlags(ctx, a), ctx.secrets),
  dryRun: Boolean(a["dry-run"]),
  jobs: jobsFlag(a),
});

/** --jobs N: a whole number of at least 1; pg_dump / pg_restore run inside a container cannot reach pgship's directories. */
export function jobsFlag(a: Args): number | null {
  const jobs = intFlag(a.jobs, "jobs", 1) ?? null;
  if (jobs !== null && a["docker-container"]) throw new UsageError("--jobs cannot be combined with --docker-container", "the parallel dump is a directory the tools in the container cannot reach; run without --jobs");
  if (jobs !== null && typeof a.dir === "string" && isS3(a.dir)) {
    throw new UsageError("--jobs needs a local --dir", `the parallel dump is written to a directory first; back up to a local --dir with --jobs and add --copy-to ${a.dir}`);
  }
  return jobs;
}

export async function run(ctx: Context, a: Args): Promise<number> {
  const outcome = await backup(ctx, options(ctx, a));
  ctx.result(outcome, () => text(outcome));
  return ExitCode.ok;
}

export function text(o: BackupResult): string {
  if ("dryRun" in o) return [`Dry run: no backup taken, nothing deleted. After a backup of "${o.database}" now:`, ...renderRetention(o.retention)].join("\n");
  const lines = [
    `Backup written: ${o.file}`,
    `  ${formatBytes(o.bytes)} (database ${o.databaseBytes === null ? "size unknown" : formatBytes(o.databaseBytes)}), schema ${o.schemaVersion ?? `not managed by ${brand.display}`}, ${o.compression}, encrypted: ${describeEncryption(o.encryption)}`,
    `  sha256 ${o.sha256}`,
    `  verified: read back and listed by pg_restore; pg_dump ${o.pgDump}, ${(o.durationMs / 1000).toFixed(1)} s`,
  ];
  if (o.upload) lines.push(`  uploaded in ${o.upload.parts} part${o.upload.parts === 1 ? "" : "s"} of up to ${formatBytes(o.upload.partBytes)}`);
  if (o.retention) lines.push(...renderRetention(o.retention));
  if (o.copy) {
    lines.push(`Copied to: ${o.copy.file}`, `  verified: ${o.copy.verified}`);
    if (o.copy.retention) lines.push(...renderRetention(o.copy.retention).map((l) => `  ${l}`));
  }
  return lines.join("\n");
}

export function renderRetention(r: RetentionOutcome): string[] {
  const verb = r.dryRun ? "would delete" : "deleted";
  const lines = [`Retention (${describePolicy(r.policy)}): keeping ${r.kept.length}, ${verb} ${r.deleted.length}`];
  for (const k of r.kept) lines.push(`  keep    ${basename(k.file)}  (${k.reasons.join(", ")})`);
  for (const d of r.deleted) lines.push(`  ${r.dryRun ? "delete " : "deleted"} ${basename(d.file)}`);
  for (const i of r.ignored) lines.push(`  ignore  ${basename(i.file)}  (${i.why})`);
  return lines;
}
