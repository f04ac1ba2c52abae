// Pinned backups: the pin lives in the manifest (`pinned`), so it travels with the
// backup and every listing and retention run sees it. Manifests without the field
// are simply not pinned. Retention (apply-retention.ts) never deletes a pinned backup.

import type { Manifest, Pin } from "./manifest.ts";
import { listBackups, saveManifest, type StoredBackup } from "./store.ts";

/** Writes (or clears, with null) the pin of a backup that has a manifest; returns the new manifest. */
export function setPin(b: { manifestPath: string; manifest: Manifest }, pin: Pin | null): Manifest {
  const { pinned: _old, ...rest } = b.manifest;
  const m: Manifest = pin ? { ...rest, pinned: pin } : rest;
  saveManifest(b.manifestPath, m);
  return m;
}

/**
 * After an update succeeded with `kept` as the backup taken before it: the
 * earlier pre-update pins of the same app and database in that directory are
 * released (manual pins stay). Returns the archive files unpinned.
 */
export function releaseEarlierPreUpdatePins(dir: string, kept: Manifest): { unpinned: string[]; failed: { file: string; why: string }[] } {
  const unpinned: string[] = [];
  const failed: { file: string; why: string }[] = [];
  for (const b of listBackups(dir).backups) {
    const m = b.manifest;
    if (!m || !b.manifestPath || m.pinned?.reason !== "pre-update") continue;
    if (m.archive.file === kept.archive.file || m.app !== kept.app || m.database !== kept.database) continue;
    if (Date.parse(m.createdAt) > Date.parse(kept.createdAt)) continue; // a later run's: not ours to release
    try {
      setPin(b as StoredBackup & { manifestPath: string; manifest: Manifest }, null);
      unpinned.push(m.archive.file);
    } catch (e) {
      failed.push({ file: m.archive.file, why: (e as Error).message });
    }
  }
  return { unpinned, failed };
}
