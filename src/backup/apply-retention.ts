// Applying a retention policy to a backup directory, after a new backup was
// written and verified (or, with --dry-run, as if one were written now).
// Only good backups of the same app and database are candidates: a broken
// or foreign file is never deleted by retention, and neither is the backup
// just written nor a pinned one (kept with the reason "pinned …").

import { basename } from "node:path";
import { PgshipError } from "../core/errors.ts";
import type { Manifest } from "./manifest.ts";
import { policyIsEmpty, selectRetention, type RetentionPolicy } from "./retention.ts";
import { listBackups, removeBackup, type StoredBackup } from "./store.ts";

export interface RetentionOutcome {
  policy: RetentionPolicy;
  dryRun: boolean;
  kept: { file: string; createdAt: string; reasons: string[] }[];
  /** Archive file names deleted (or that would be, on a dry run). */
  deleted: { file: string; createdAt: string }[];
  /** Files in the directory that retention does not touch, and why. */
  ignored: { file: string; why: string }[];
}

const NEW = "(the new backup)";

export async function applyRetention(
  dir: string,
  newest: Manifest | { app: string; database: string; createdAt: string; hypothetical: true },
  policy: RetentionPolicy,
  opts: { dryRun: boolean },
): Promise<RetentionOutcome | null> {
  if (policyIsEmpty(policy)) return null;
  const { backups } = listBackups(dir);
  const ignored: RetentionOutcome["ignored"] = [];
  const candidates: StoredBackup[] = [];
  for (const b of backups) {
    const file = basename(b.archivePath ?? b.manifestPath ?? b.stem);
    if (b.status !== "ok") ignored.push({ file, why: b.problems.join("; ") || b.status });
    else if (b.manifest!.app !== newest.app || b.manifest!.database !== newest.database) ignored.push({ file, why: `another database (${b.manifest!.app}/${b.manifest!.database})` });
    else candidates.push(b);
  }
  const justWritten = "hypothetical" in newest ? NEW : newest.archive.file;
  const items = candidates.map((b) => ({ id: b.manifest!.archive.file, createdAt: new Date(b.manifest!.createdAt) }));
  if ("hypothetical" in newest) items.push({ id: NEW, createdAt: new Date(newest.createdAt) });
  const decision = selectRetention(items, policy);
  const byId = new Map(candidates.map((b) => [b.manifest!.archive.file, b]));
  const when = (id: string) => (id === NEW ? (newest as { createdAt: string }).createdAt : byId.get(id)!.manifest!.createdAt);
  const pinOf = (id: string) => (id === NEW ? null : (byId.get(id)?.manifest?.pinned ?? null));
  const pinReason = (id: string) => `pinned (${pinOf(id)!.reason})`;
  const kept = decision.keep.map((k) => ({ file: k.id, createdAt: when(k.id), reasons: pinOf(k.id) ? [...k.reasons, pinReason(k.id)] : k.reasons }));
  for (const id of decision.remove) if (pinOf(id)) kept.push({ file: id, createdAt: when(id), reasons: [pinReason(id)] });
  const remove = decision.remove.filter((id) => id !== justWritten && !pinOf(id));
  if (decision.remove.includes(justWritten)) kept.unshift({ file: justWritten, createdAt: when(justWritten), reasons: ["just written"] });
  const deleted: RetentionOutcome["deleted"] = [];
  for (const id of remove) {
    if (!opts.dryRun) {
      try {
        removeBackup(byId.get(id)!);
      } catch (e) {
        throw new PgshipError("retention_failed", `could not delete old backup ${id}: ${(e as Error).message}`, {
          hint: `${deleted.length ? `deleted before this: ${deleted.map((d) => d.file).join(", ")}; ` : ""}check the permissions of ${dir}`,
          cause: e,
        });
      }
    }
    deleted.push({ file: id, createdAt: when(id) });
  }
  return { policy, dryRun: opts.dryRun, kept, deleted, ignored };
}
