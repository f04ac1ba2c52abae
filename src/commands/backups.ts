// backups: what is in a backup directory (cheap checks only), and
// `backups verify FILE`: sha256, decryption, and a test restore into a
// scratch database that is dropped afterwards.

import { brand } from "../brand.ts";
import type { ArgsDef } from "citty";
import { basename } from "node:path";
import { ExitCode, UsageError } from "../core/errors.ts";
import { formatBytes, plural } from "../core/format.ts";
import { decryptKeys } from "../backup/keys.ts";
import { describeEncryption } from "../backup/manifest.ts";
import { decryptArgs, keyFlags, s3EndpointFlag, toolArgs, toolLocation } from "../cli/backup-flags.ts";
import type { Context } from "../cli/context.ts";
import type { Args } from "../cli/flags.ts";
import { table } from "../cli/output.ts";
import { listBackups, pinBackup, verifyBackup, type BackupListing, type ListedBackup, type PinOutcome } from "../ops/backups.ts";
import { cwd } from "../runtime.ts";
export const args = {
  action: { type: "positional", required: false, description: "verify, pin or unpin (or nothing, to list)" },
  file: { type: "positional", required: false, description: "backup file to verify, pin or unpin" },
  dir: { type: "string", description: "Directory to list (default: the current directory), or s3://BUCKET/PREFIX", valueHint: "dir" },
  "clean-partials": { type: "boolean", description: "Delete the partial files interrupted backups left (in S3: their temporary objects, and abort their unfinished multipart uploads)" },
  ...decryptArgs,
  restore: { type: "boolean", default: true, description: "verify: test-restore into a scratch database", negativeDescription: "verify: only checksum, decrypt and list the archive; no test restore, no database" },
  manifest: { type: "boolean", default: true, description: "verify: require the manifest", negativeDescription: "verify: check an archive that has no manifest" },
  ...toolArgs,
} as const satisfies ArgsDef;

export const usage = `Statuses: ok (manifest valid, archive present with the recorded size), broken (what is wrong is
shown), no-manifest (interrupted or not made by ${brand.display}). VERIFIED shows the strongest check passed:
readback (when written) or test-restore (by 'backups verify').
verify exits 0 when the backup restores, 1 when it does not (the message says why), 2 on usage errors.
PINNED: retention never deletes the backup. 'pre-update': taken before an update (up --backup, the
wizard), unpinned when a later update succeeds; 'manual': by 'backups pin', until 'backups unpin'.
Examples:
  ${brand.binary} backups --dir /var/backups/app
  ${brand.binary} backups --dir /var/backups/app --json
  ${brand.binary} backups verify /var/backups/app/app-20250601T020000Z.dump.age --identity ~/backup-key.txt
  ${brand.binary} backups verify app-20250601T020000Z.dump --no-restore        # without a database
  ${brand.binary} backups pin /var/backups/app/app-20250601T020000Z.dump         # keep it whatever --keep-* says
  ${brand.binary} backups unpin /var/backups/app/app-20250601T020000Z.dump
  ${brand.binary} backups --dir s3://my-bucket/app --clean-partials            # list, abort stale uploads`;

export async function run(ctx: Context, a: Args): Promise<number> {
  const action = a.action as string | undefined;
  if (action === undefined || action === "list") {
    s3EndpointFlag(a);
    const listing = await listBackups(ctx, { dir: String(a.dir ?? cwd()), cleanPartials: Boolean(a["clean-partials"]) });
    ctx.result(listing, () => listText(listing));
    return ExitCode.ok;
  }
  if (action === "pin" || action === "unpin") {
    if (!a.file) throw new UsageError(`backups ${action} needs a FILE`, `e.g. ${brand.binary} backups ${action} /var/backups/app/app-20250601T020000Z.dump`);
    const outcome = await pinBackup(ctx, { file: String(a.file), pin: action === "pin" });
    ctx.result(outcome, () => pinText(outcome));
    return ExitCode.ok;
  }
  if (action !== "verify") throw new UsageError(`unknown backups action "${action}"`, `use '${brand.binary} backups --dir DIR' to list, or '${brand.binary} backups verify|pin|unpin FILE'`);
  if (!a.file) throw new UsageError("backups verify needs a FILE", `e.g. ${brand.binary} backups verify /var/backups/app/app-20250601T020000Z.dump`);
  const file = String(a.file);
  const outcome = await verifyBackup(ctx, {
    file,
    requireManifest: a.manifest !== false,
    keys: decryptKeys(keyFlags(ctx, a), ctx.secrets),
    tools: toolLocation(a),
    restore: a.restore !== false,
  });
  ctx.result(outcome, () => `${file}: OK, ${outcome.detail}.`);
  return ExitCode.ok;
}

const nameOf = (b: ListedBackup) => (b.file ? basename(b.file) : "?");

export function pinText(o: PinOutcome): string {
  const name = basename(o.file);
  if (!o.pinned) return o.changed ? `${name}: unpinned; retention may delete it again.` : `${name}: was not pinned.`;
  const what = o.pinned.reason === "pre-update" ? "pinned as the backup before an update" : "pinned";
  return `${name}: ${o.changed ? "" : "already "}${what} (since ${o.pinned.at.slice(0, 19).replace("T", " ")} UTC); retention never deletes it.`;
}

export function listText(l: BackupListing): string {
  const { dir, backups, partials } = l;
  if (!backups.length && !partials.length) return [`No backups in ${dir}.`, ...(l.partialsUnknown ? [`Note: ${l.partialsUnknown}.`] : [])].join("\n");
  const t = [["CREATED (UTC)", "DATABASE", "SCHEMA", "SIZE", "ENCRYPTED", "STATUS", "VERIFIED", "FILE", "PINNED"]];
  for (const b of backups) {
    // Without a manifest (app is null) little is known.
    const known = b.app !== null;
    const v = b.verified;
    t.push([
      known ? b.createdAt!.slice(0, 19).replace("T", " ") : "?",
      b.database ?? "?",
      known ? (b.schemaVersion ?? "-") : "?",
      b.bytes === null ? "missing" : formatBytes(b.bytes),
      known ? describeEncryption(b.encryption) : b.encrypted ? "age" : "?",
      b.status,
      v ? `${v.how} ${v.at.slice(0, 10)}` : "no",
      nameOf(b),
      b.pinned ? b.pinned.reason : "no",
    ]);
  }
  const out = [`Backups in ${dir}:`, table(t)];
  for (const b of backups) if (b.status !== "ok") out.push(`  ${nameOf(b)}: ${b.problems.join("; ")}`);
  const ok = backups.filter((b) => b.status === "ok").length;
  out.push(`${plural(backups.length, "backup")}, ${ok} ok${backups.length - ok ? `, ${backups.length - ok} not restorable as they are` : ""}.`);
  if (l.cleaned) out.push(l.cleaned.length ? `Removed ${plural(l.cleaned.length, "partial file")} left by interrupted backups: ${l.cleaned.map((p) => basename(p)).join(", ")}` : "No partial files to remove.");
  else if (partials.length) {
    out.push(`${plural(partials.length, "partial file")} left by interrupted backups (safe to delete): ${partials.map((p) => basename(p)).join(", ")}`);
    out.push(`  remove them with '${brand.binary} backups --dir ${dir} --clean-partials'`);
  }
  if (l.partialsUnknown) out.push(`Note: ${l.partialsUnknown}.`);
  return out.join("\n");
}
