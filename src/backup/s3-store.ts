// A backup location in S3 (s3://BUCKET/PREFIX): the same layout as a local
// directory (archive + manifest per backup, the manifest written last), read
// with ListObjectsV2 and GET. A backup's upload goes to a hidden temporary key
// named like a local partial file; those objects (a backup killed after its
// upload) and unfinished multipart uploads (killed mid-upload) are the S3 form
// of a local directory's partial files.

import { brand } from "../brand.ts";
import { PgshipError } from "../core/errors.ts";
import { keyIn, parseLocation, parseS3File, type Location } from "./location.ts";
import { ARCHIVE_EXT, ENCRYPTED_EXT, isPartialName, MANIFEST_EXT, manifestName, parseManifest, serialiseManifest, stemOf, type Manifest } from "./manifest.ts";
import { s3Client, type S3Client } from "./s3.ts";
import { judged, type StoredBackup } from "./store.ts";

type S3Loc = Location & { kind: "s3" };

export const s3Url = (loc: { bucket: string }, key: string) => `s3://${loc.bucket}/${key}`;

/** A stale multipart upload or a leftover temporary object. */
export interface S3Partial {
  url: string;
  uploadId: string | null;
  initiated: string | null;
}

export interface S3Listing {
  backups: StoredBackup[];
  partials: S3Partial[];
  /** Why unfinished uploads could not be listed (the server does not implement ListMultipartUploads …). */
  partialsUnknown: string | null;
}

function judge(loc: S3Loc, stem: string, sizes: Map<string, number>, manifestText: string | null): StoredBackup {
  const mName = manifestName(stem);
  const b: StoredBackup = { stem, dir: loc.url, archivePath: null, manifestPath: null, manifest: null, archiveBytes: null, status: "ok", problems: [] };
  if (manifestText !== null) {
    b.manifestPath = s3Url(loc, keyIn(loc, mName));
    const parsed = parseManifest(manifestText);
    if (parsed.ok) b.manifest = parsed.manifest;
    else b.problems.push(`manifest: ${parsed.problems.join("; ")}`);
  }
  const names = b.manifest ? [b.manifest.archive.file] : [stem + ENCRYPTED_EXT, stem + ARCHIVE_EXT];
  const name = names.find((n) => sizes.has(n));
  if (name) {
    b.archivePath = s3Url(loc, keyIn(loc, name));
    b.archiveBytes = sizes.get(name)!;
  }
  return judged(b);
}

/** Every backup under the location, oldest first; with `partials`, also the unfinished uploads. */
export async function listS3(loc: S3Loc, o: { partials: boolean } = { partials: true }, client: S3Client = s3Client()): Promise<S3Listing> {
  const prefix = loc.prefix ? `${loc.prefix}/` : "";
  const objects = await client.list(loc.bucket, prefix);
  const sizes = new Map<string, number>();
  const stems = new Set<string>();
  const partials: S3Partial[] = [];
  for (const o of objects) {
    const name = o.key.slice(prefix.length);
    if (isPartialName(name)) partials.push({ url: s3Url(loc, o.key), uploadId: null, initiated: null });
    else if (!name.startsWith(".")) {
      sizes.set(name, o.bytes);
      const stem = stemOf(name);
      if (stem) stems.add(stem);
    }
  }
  const backups: StoredBackup[] = [];
  for (const stem of stems) {
    const m = manifestName(stem);
    const text = sizes.has(m) ? await client.getText(loc.bucket, keyIn(loc, m)) : null;
    backups.push(judge(loc, stem, sizes, text));
  }
  const when = (b: StoredBackup) => b.manifest?.createdAt ?? "";
  backups.sort((a, b) => (when(a) < when(b) ? -1 : when(a) > when(b) ? 1 : a.stem < b.stem ? -1 : 1));
  let partialsUnknown: string | null = null;
  if (o.partials) {
    try {
      for (const u of await client.listMultipart(loc.bucket, prefix)) {
        if (u.key.slice(prefix.length).includes("/")) continue;
        partials.push({ url: s3Url(loc, u.key), uploadId: u.uploadId, initiated: u.initiated });
      }
    } catch (e) {
      if (!(e instanceof PgshipError) || e.code !== "s3_failed") throw e;
      partialsUnknown = `the server did not list unfinished multipart uploads (${e.message})`;
    }
  }
  return { backups, partials, partialsUnknown };
}

/** Aborts stale multipart uploads and deletes leftover temporary objects. */
export async function cleanS3Partials(partials: S3Partial[], client: S3Client = s3Client()): Promise<void> {
  for (const p of partials) {
    const f = parseS3File(p.url);
    if (p.uploadId) await client.abortMultipart(f.bucket, f.key, p.uploadId);
    else await client.delete(f.bucket, f.key);
  }
}

/** The backup a user names by URL (its archive or its manifest), with the first bytes of the archive. */
export async function resolveS3Backup(file: string, client: S3Client = s3Client()): Promise<StoredBackup> {
  const f = parseS3File(file);
  const stem = stemOf(f.name);
  const loc = f.dir;
  const sizes = new Map<string, number>();
  let manifestText: string | null = null;
  if (stem) {
    const mKey = keyIn(loc, manifestName(stem));
    if (await client.head(loc.bucket, mKey)) manifestText = await client.getText(loc.bucket, mKey);
  }
  const archiveName = manifestText !== null && f.name.endsWith(MANIFEST_EXT) ? (parseManifest(manifestText) as { manifest?: Manifest }).manifest?.archive.file ?? null : f.name;
  if (archiveName) {
    const h = await client.head(loc.bucket, keyIn(loc, archiveName));
    if (h) sizes.set(archiveName, h.bytes);
  }
  if (!sizes.size && manifestText === null) {
    // HEAD answers a bare 404 for a missing bucket too: a listing tells them apart (and throws s3_no_bucket).
    await client.list(loc.bucket, keyIn(loc, f.name));
  }
  if (!sizes.size && manifestText === null) throw new PgshipError("backup_missing", `${file} does not exist`, { hint: `list the backups with '${brand.binary} backups --dir ${loc.url}'` });
  let b: StoredBackup;
  if (stem && manifestText !== null) {
    b = judge(loc, stem, sizes, manifestText);
    // The manifest beside it belongs to another file: treat the named file on its own.
    if (b.manifest && !f.name.endsWith(MANIFEST_EXT) && b.manifest.archive.file !== f.name) b = judge(loc, stem, sizes, null);
  } else {
    b = judge(loc, stem ?? f.name, sizes, null);
    b.problems = ["no manifest beside it"];
    if (!b.archivePath && sizes.has(f.name)) {
      b.archivePath = file;
      b.archiveBytes = sizes.get(f.name)!;
    }
  }
  if (b.archivePath) b.head = await firstS3Bytes(b.archivePath, 4096, client);
  return b;
}

async function firstS3Bytes(url: string, n: number, client: S3Client): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let got = 0;
  for await (const c of s3Chunks(url, 0, n - 1, client)) {
    parts.push(c);
    got += c.length;
  }
  return Buffer.concat(parts).subarray(0, Math.min(got, n));
}

/** The object's bytes, streamed. */
export function s3Chunks(url: string, start = 0, end?: number, client?: S3Client): AsyncIterable<Uint8Array> {
  const f = parseS3File(url);
  return (client ?? s3Client()).get(f.bucket, f.key, { start, end });
}

export async function removeS3Backup(b: StoredBackup, client: S3Client = s3Client()): Promise<void> {
  // The manifest first, so a half-removed backup never looks good.
  for (const p of [b.manifestPath, b.archivePath]) {
    if (!p) continue;
    const f = parseS3File(p);
    await client.delete(f.bucket, f.key);
  }
}

export async function putS3Manifest(url: string, m: Manifest, client: S3Client = s3Client()): Promise<void> {
  const f = parseS3File(url);
  await client.put(f.bucket, f.key, serialiseManifest(m), "application/json");
}

/** The S3 location of a string, or null for a local path. */
export function s3Location(raw: string, what?: string): S3Loc | null {
  const loc = parseLocation(raw, what);
  return loc.kind === "s3" ? loc : null;
}
