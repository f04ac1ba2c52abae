// The manifest written beside every backup archive, and the file names of a
// backup. Pure: building, serialising and validating; no file system here.
//
// A manifest is the commit marker of a backup: it is renamed into place last,
// so an archive without one is an interrupted or foreign file, never a backup
// that looks good. Everything restore checks before touching a database
// (sizes, sha256 of the stored and of the decrypted bytes, encryption) is here.

import { brand } from "../brand.ts";
import { plural } from "../core/format.ts";

export const MANIFEST_FORMAT = "pgship-backup/1";

export type Encryption =
  | { tool: "age"; mode: "recipients"; recipients: string[] }
  | { tool: "age"; mode: "passphrase"; scryptWorkFactor: number };

export interface Verification {
  at: string;
  /** readback: read back and listed when written; test-restore: `backups verify` restored it into a scratch database. */
  how: "readback" | "test-restore";
  detail?: string;
}

/**
 * A pinned backup is never deleted by retention. `pre-update`: taken before an
 * update (`up --backup`, the wizard); the next successful update's backup takes
 * its place. `manual`: `backups pin`, until `backups unpin`.
 */
export interface Pin {
  reason: "pre-update" | "manual";
  at: string;
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  app: string;
  appVersion: string;
  database: string;
  /** Newest applied migration (the tracking table), null when the database is not managed. */
  schemaVersion: string | null;
  server: { version: string; versionNum: number };
  pgDump: { version: string; major: number };
  archive: {
    /** File name only, in the manifest's directory. */
    file: string;
    /** custom: pg_dump -Fc's archive; directory: a tar stream of pg_dump -Fd's directory (backup --jobs). */
    format: "custom" | "directory";
    compression: string;
    /** The file as stored (encrypted when encryption is set). */
    bytes: number;
    sha256: string;
    /** The pg_dump archive itself (equal to the above when not encrypted). */
    plainBytes: number;
    plainSha256: string;
  };
  /** pg_database_size() when the backup started. */
  databaseBytes: number | null;
  encryption: Encryption | null;
  createdAt: string;
  durationMs: number;
  verified: Verification[];
  /** Absent in manifests written before pins existed: not pinned. */
  pinned?: Pin | null;
}

export const ARCHIVE_EXT = ".dump";
export const ENCRYPTED_EXT = ".dump.age";
export const MANIFEST_EXT = ".manifest.json";

/** 2025-06-01T12:00:00.000Z -> 20250601T120000Z: sortable, no characters that need quoting. */
export function stampOf(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z").replace(/[-:]/g, "");
}

/** `app-20250601T120000Z` (a suffix -2, -3 … when that second is taken). */
export function backupStem(database: string, at: Date, n = 1): string {
  const safe = database.replace(/[^A-Za-z0-9_.-]/g, "_").replace(/^\.+/, "_") || "db";
  return `${safe}-${stampOf(at)}${n > 1 ? `-${n}` : ""}`;
}

export function archiveName(stem: string, encrypted: boolean): string {
  return stem + (encrypted ? ENCRYPTED_EXT : ARCHIVE_EXT);
}

export function manifestName(stem: string): string {
  return stem + MANIFEST_EXT;
}

/** The stem of an archive or manifest file name, or null for other files. */
export function stemOf(fileName: string): string | null {
  for (const ext of [ENCRYPTED_EXT, ARCHIVE_EXT, MANIFEST_EXT]) {
    if (fileName.endsWith(ext) && fileName.length > ext.length) return fileName.slice(0, -ext.length);
  }
  return null;
}

/** Temporary files are hidden and say what they are, so nobody mistakes one for a backup. */
export function partialName(finalName: string, pid: number, tag: string): string {
  return `.${finalName}.partial-${pid}-${tag}`;
}

export const isPartialName = (fileName: string) => /^\..+\.partial-\d+-[0-9a-z]+$/.test(fileName);

export function serialiseManifest(m: Manifest): string {
  return `${JSON.stringify(m, null, 2)}\n`;
}

export type ManifestResult = { ok: true; manifest: Manifest } | { ok: false; problems: string[] };

const SHA256 = /^[0-9a-f]{64}$/;
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
const isIsoDate = (v: unknown): v is string => typeof v === "string" && /^\d{4}-\d\d-\d\dT/.test(v) && !Number.isNaN(Date.parse(v));

/**
 * Validates untrusted manifest text and reports every problem at once. The
 * archive name must be a bare file name: a crafted manifest cannot point
 * restore at a file elsewhere.
 */
export function parseManifest(text: string): ManifestResult {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return { ok: false, problems: [`not JSON (${(e as Error).message})`] };
  }
  if (!isObj(v)) return { ok: false, problems: ["not a JSON object"] };
  if (v.format !== MANIFEST_FORMAT) {
    return { ok: false, problems: [typeof v.format === "string" && v.format.startsWith("pgship-backup/") ? `manifest format ${v.format} is newer than this binary understands` : `not a ${brand.display} backup manifest (no "format": "${MANIFEST_FORMAT}")`] };
  }
  const p: string[] = [];
  const need = (ok: boolean, what: string) => {
    if (!ok) p.push(what);
  };
  need(typeof v.app === "string" && v.app !== "", "app must be a non-empty string");
  need(typeof v.appVersion === "string", "appVersion must be a string");
  need(typeof v.database === "string" && v.database !== "", "database must be a non-empty string");
  need(v.schemaVersion === null || (typeof v.schemaVersion === "string" && /^\d{14}$/.test(v.schemaVersion)), "schemaVersion must be null or a 14-digit version");
  need(isObj(v.server) && typeof v.server.version === "string" && isCount(v.server.versionNum), "server must have version and versionNum");
  need(isObj(v.pgDump) && typeof v.pgDump.version === "string" && isCount(v.pgDump.major), "pgDump must have version and major");
  const a = v.archive;
  if (!isObj(a)) p.push("archive is missing");
  else {
    need(typeof a.file === "string" && a.file !== "" && !/[/\\]/.test(a.file) && !a.file.startsWith("."), "archive.file must be a plain file name");
    need(a.format === "custom" || a.format === "directory", "archive.format must be custom or directory");
    need(typeof a.compression === "string", "archive.compression must be a string");
    need(isCount(a.bytes) && isCount(a.plainBytes), "archive.bytes and archive.plainBytes must be whole numbers");
    need(typeof a.sha256 === "string" && SHA256.test(a.sha256), "archive.sha256 must be 64 hex digits");
    need(typeof a.plainSha256 === "string" && SHA256.test(a.plainSha256), "archive.plainSha256 must be 64 hex digits");
  }
  need(v.databaseBytes === null || isCount(v.databaseBytes), "databaseBytes must be null or a whole number");
  const e = v.encryption;
  need(
    e === null ||
      (isObj(e) && e.tool === "age" &&
        ((e.mode === "recipients" && Array.isArray(e.recipients) && e.recipients.every((r) => typeof r === "string" && r.startsWith("age1"))) ||
          (e.mode === "passphrase" && isCount(e.scryptWorkFactor)))),
    "encryption must be null, age recipients or an age passphrase",
  );
  need(isIsoDate(v.createdAt), "createdAt must be an ISO date");
  need(isCount(v.durationMs), "durationMs must be a whole number");
  need(Array.isArray(v.verified) && v.verified.every((x) => isObj(x) && isIsoDate(x.at) && (x.how === "readback" || x.how === "test-restore")), "verified must be a list of {at, how}");
  const pin = v.pinned;
  need(pin === undefined || pin === null || (isObj(pin) && (pin.reason === "pre-update" || pin.reason === "manual") && isIsoDate(pin.at)), "pinned must be null or {reason: pre-update|manual, at}");
  if (isObj(a) && typeof a.file === "string" && e !== undefined) {
    const encryptedName = a.file.endsWith(ENCRYPTED_EXT);
    if (e === null && encryptedName) p.push("archive.file ends in .age but encryption is null");
    if (e !== null && !encryptedName) p.push("archive is encrypted but archive.file does not end in .dump.age");
    if (e === null && isObj(a) && (a.bytes !== a.plainBytes || a.sha256 !== a.plainSha256)) p.push("an unencrypted archive must have bytes = plainBytes and sha256 = plainSha256");
  }
  if (p.length) return { ok: false, problems: p };
  return { ok: true, manifest: v as unknown as Manifest };
}

/** The strongest check a backup has passed, for listings. */
export function lastVerification(m: Manifest): Verification | null {
  const restored = m.verified.filter((x) => x.how === "test-restore");
  return restored.at(-1) ?? m.verified.at(-1) ?? null;
}

export function describeEncryption(e: Encryption | null): string {
  if (!e) return "no";
  return e.mode === "passphrase" ? "age (passphrase)" : `age (${plural(e.recipients.length, "recipient")})`;
}
