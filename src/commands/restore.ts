// restore FILE: check everything first (manifest, sha256, decryption, that
// pg_restore reads it), then build the database beside the live one and swap
// it in, keeping the old one; without CREATEDB, replace in place in one
// transaction. `restore --drop-old` without FILE drops what earlier restores kept.

import type { ArgsDef } from "citty";
import { basename } from "node:path";
import { ExitCode } from "../core/errors.ts";
import { formatBytes, plural } from "../core/format.ts";
import { decryptKeys } from "../backup/keys.ts";
import { decryptArgs, keyFlags, toolArgs, toolLocation } from "../cli/backup-flags.ts";
import { brand, type Context } from "../cli/context.ts";
import { intFlag, type Args } from "../cli/flags.ts";
import { restore, type RestoreOptions, type RestoreOutcome } from "../ops/restore.ts";

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
  manifest: { type: "boolean", default: true, description: "Require the manifest", negativeDescription: "Restore a pg_dump -Fc archive that has no manifest" },
  "other-app": { type: "boolean", description: `Accept a backup made by another ${brand.display}-built binary` },
  undo: { type: "boolean", description: "Go back to the state before the last restore: swap back the database it kept, or restore its safety backup in place" },
  "safety-dir": { type: "string", description: `In-place restore: where the safety backup of the current database goes (default: the backup file's directory when writable, else ./${brand.binary}-safety)`, valueHint: "dir" },
  "safety-backup": { type: "boolean", default: true, description: "In-place restore: back up the current database first, so --undo can go back", negativeDescription: "In-place restore: take no safety backup of the current database (no way back)" },
  jobs: { type: "string", description: "Restore with N parallel pg_restore workers (the backup is unpacked into a private directory under TMPDIR first)", valueHint: "n" },
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
  ${brand.binary} restore /var/backups/app/app-20250601T020000Z.dump --yes
  ${brand.binary} restore app-20250601T020000Z.dump.age --identity ~/backup-key.txt --update
  ${brand.binary} restore app-20250601T020000Z.dump --into app_copy       # beside the live database
  ${brand.binary} restore app-20250601T020000Z.dump --jobs 4 --yes          # 4 parallel pg_restore workers
  ${brand.binary} restore app-20250601T020000Z.dump --dry-run
  ${brand.binary} restore --undo --yes                                     # back to before the last restore
  ${brand.binary} restore --drop-old --yes                                 # drop databases kept by earlier restores`;

export const options = (ctx: Context, a: Args): RestoreOptions => ({
  file: a.file === undefined ? null : String(a.file),
  undo: Boolean(a.undo),
  into: a.into === undefined ? null : String(a.into),
  inPlace: Boolean(a["in-place"]),
  dropOld: Boolean(a["drop-old"]),
  keepOwner: Boolean(a["keep-owner"]),
  keepAcl: Boolean(a["keep-acl"]),
  update: Boolean(a.update),
  dryRun: Boolean(a["dry-run"]),
  requireManifest: a.manifest !== false,
  otherApp: Boolean(a["other-app"]),
  safetyDir: a["safety-dir"] === undefined ? null : String(a["safety-dir"]),
  safetyBackup: a["safety-backup"] !== false,
  keys: decryptKeys(keyFlags(ctx, a), ctx.secrets),
  tools: toolLocation(a),
  jobs: intFlag(a.jobs, "jobs", 1) ?? null,
});

export async function run(ctx: Context, a: Args): Promise<number> {
  const opts = options(ctx, a);
  const outcome = await restore(ctx, opts);
  // How the dry run checked is said in the text only.
  const json = "check" in outcome ? (({ check: _, ...rest }) => rest)(outcome) : outcome;
  ctx.result(json, () => text(outcome, opts.file ?? "", ctx.target().database));
  return ExitCode.ok;
}

/** `file`: the backup as named on the command line; `live`: the database restored. */
export function text(o: RestoreOutcome, file: string, live: string): string {
  if (!("mode" in o)) return o.dropped.length ? `Dropped ${o.dropped.join(", ")}.` : `No databases kept by earlier restores of "${live}", and none left by interrupted runs.`;
  if ("dryRun" in o) {
    if (!("check" in o)) return `Plan (dry run, nothing changed): ${o.plan}`;
    file ||= o.backup.file; // --undo restoring a safety backup
    // A dry run reads the whole archive.
    return [`Checked ${file}: sha256${o.check.manifest ? " matches the manifest" : " computed (no manifest)"}${o.backup.encrypted ? ", decrypts" : ""}, pg_restore ${o.check.pgRestore} reads it to the end.`, `Plan (dry run, nothing changed): ${o.plan}`].join("\n");
  }
  if ("restored" in o) {
    return [
      `Undone: "${o.restored}" is "${o.database}" again${o.endedSessions ? ` (ended ${plural(o.endedSessions, "session")})` : ""}.`,
      `  the database the restore had put in place is kept as "${o.kept}": '${brand.binary} restore --undo' swaps it back, '${brand.binary} restore --drop-old' drops it`,
    ].join("\n");
  }
  const { mode, after, safetyBackup } = o;
  file ||= o.backup.file;
  const lines = [`Restored ${basename(file)} (${formatBytes(o.backup.bytes)}) into "${o.database}" (${mode === "in-place" ? "in place, one transaction" : mode === "swap" ? "built beside it and swapped in" : "new database"}).`];
  if (o.endedSessions) lines.push(`  ended ${plural(o.endedSessions, "session")} on the old database`);
  if (o.kept) lines.push(`  the replaced database is kept as "${o.kept}": go back with '${brand.binary} restore --undo', or drop it with '${brand.binary} restore --drop-old' once you are happy`);
  if (o.dropped) lines.push("  the replaced database was dropped (--drop-old): there is no way back but another backup");
  if (safetyBackup) lines.push(`  safety backup of the previous contents: ${safetyBackup}; go back with '${brand.binary} restore --undo'`);
  if (mode === "in-place" && !safetyBackup) lines.push("  no copy of the previous contents was kept (--no-safety-backup)");
  if (after) lines.push(`  schema version ${after.schemaVersion ?? `(not managed by ${brand.display})`}${after.pending ? `, ${after.pending} pending: run '${brand.binary} update'` : ""}${after.update ? " (updated with --update)" : ""}`);
  return lines.join("\n");
}
