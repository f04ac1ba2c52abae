import { brand } from "../brand.ts";
// Reading the first bytes of a file: is it a pg_dump custom-format archive,
// which pg_dump made it, and can this pg_restore read it? Pure. The layout is
// ReadHead() in PostgreSQL's src/bin/pg_dump/pg_backup_archiver.c.
//
// Knowing this before restoring lets pgship refuse a foreign or too-new file
// with a message that names the pg_restore version needed, instead of passing
// on pg_restore's "unsupported version (1.16) in file header".

export interface ArchiveHeader {
  /** Archive format version, e.g. 1.14.0 (pg_dump 12-15), 1.15.0 (16), 1.16.0 (17-18). */
  version: [number, number, number];
  format: "custom" | "tar" | "directory" | "other";
  compression: string;
  createdAt: string | null;
  database: string | null;
  serverVersion: string | null;
  dumpVersion: string | null;
}

export type HeaderResult = { ok: true; header: ArchiveHeader } | { ok: false; reason: string; needMore?: boolean };

const MAGIC = "PGDMP";
const AGE_MAGIC = "age-encryption.org/v1\n";
const FORMATS: Record<number, ArchiveHeader["format"]> = { 1: "custom", 3: "tar", 5: "directory" };
const ALGORITHMS = ["none", "gzip", "lz4", "zstd"];

const ascii = (b: Uint8Array, n: number) => String.fromCharCode(...b.subarray(0, n));

export const isAgeFile = (b: Uint8Array) => b.length >= AGE_MAGIC.length && ascii(b, AGE_MAGIC.length) === AGE_MAGIC;

/** What a file that is not an archive looks like, for the refusal message. */
export function guessFileKind(b: Uint8Array): string {
  if (isAgeFile(b)) return "an age-encrypted file";
  if (b[0] === 0x1f && b[1] === 0x8b) return "a gzip file (a compressed SQL dump? decompress it first)";
  if (b[0] === 0x28 && b[1] === 0xb5 && b[2] === 0x2f && b[3] === 0xfd) return "a zstd file";
  if (/^-----BEGIN PGP|^\x85|^\x8c/.test(ascii(b, Math.min(b.length, 16)))) return "a GnuPG file (decrypt it with gpg first)";
  const start = new TextDecoder().decode(b.subarray(0, 256));
  if (/^(--|SET |CREATE |\\connect|BEGIN)/m.test(start)) return `a plain SQL script (restore it with psql, not ${brand.display})`;
  if (b.length === 0) return "an empty file";
  return "not a pg_dump custom-format archive";
}

/** Reads the header from the first bytes of an archive (a few hundred are enough). */
export function parseArchiveHeader(b: Uint8Array): HeaderResult {
  if (b.length < MAGIC.length || ascii(b, MAGIC.length) !== MAGIC) {
    if (b.length < MAGIC.length) return { ok: false, reason: "the file is too short to be an archive", needMore: true };
    return { ok: false, reason: guessFileKind(b) };
  }
  let pos = MAGIC.length;
  const truncated = { ok: false as const, reason: "the archive header is truncated", needMore: true };
  const byte = () => (pos < b.length ? b[pos++]! : -1);
  const vmaj = byte();
  const vmin = byte();
  if (vmin < 0) return truncated;
  const vrev = vmaj > 1 || (vmaj === 1 && vmin > 0) ? byte() : 0;
  if (vrev < 0) return truncated;
  const version: [number, number, number] = [vmaj, vmin, vrev];
  if (vmaj !== 1 || vmin < 10) {
    return { ok: false, reason: `archive format ${vmaj}.${vmin} is not one ${brand.display} reads (pg_dump 8.0 or later writes 1.10+)` };
  }
  const intSize = byte();
  const offSize = byte();
  const fmt = byte();
  if (fmt < 0) return truncated;
  if (intSize < 1 || intSize > 8 || offSize < 1 || offSize > 8) return { ok: false, reason: "the archive header is damaged (impossible integer sizes)" };
  const readInt = (): number | null => {
    if (pos + 1 + intSize > b.length) return null;
    const negative = b[pos++] !== 0;
    let v = 0;
    for (let i = 0; i < intSize; i++) v += b[pos++]! * 2 ** (8 * i);
    return negative ? -v : v;
  };
  const readStr = (): string | null | undefined => {
    const len = readInt();
    if (len === null) return undefined;
    if (len < 0) return null;
    if (len > 4096) throw new RangeError("string too long");
    if (pos + len > b.length) return undefined;
    const s = new TextDecoder().decode(b.subarray(pos, pos + len));
    pos += len;
    return s;
  };
  let compression: string;
  if (vmin >= 15) {
    const alg = byte();
    if (alg < 0) return truncated;
    compression = ALGORITHMS[alg] ?? `unknown (${alg})`;
  } else {
    const level = readInt();
    if (level === null) return truncated;
    compression = level === 0 ? "none" : level === -1 ? "gzip" : `gzip:${level}`;
  }
  const tm: number[] = [];
  for (let i = 0; i < 7; i++) {
    const v = readInt();
    if (v === null) return truncated;
    tm.push(v);
  }
  const [sec, min, hour, mday, mon, year] = tm as [number, number, number, number, number, number];
  const createdAt = `${1900 + year}-${String(mon + 1).padStart(2, "0")}-${String(mday).padStart(2, "0")} ${String(hour).padStart(2, "0")}:${String(min).padStart(2, "0")}:${String(sec).padStart(2, "0")}`;
  let database: string | null | undefined;
  let serverVersion: string | null | undefined = null;
  let dumpVersion: string | null | undefined = null;
  try {
    database = readStr();
    serverVersion = readStr();
    dumpVersion = readStr();
  } catch {
    return { ok: false, reason: "the archive header is damaged (impossible string length)" };
  }
  if (database === undefined || serverVersion === undefined || dumpVersion === undefined) return truncated;
  return { ok: true, header: { version, format: FORMATS[fmt] ?? "other", compression, createdAt, database, serverVersion, dumpVersion } };
}

/** The major version in "15.8 (Debian 15.8-0+deb12u1)" or "9.6.24". */
export function majorOf(version: string | null): number | null {
  const m = version ? /^(\d+)(?:\.(\d+))?/.exec(version) : null;
  if (!m) return null;
  const major = Number(m[1]);
  return major < 10 && m[2] ? major + Number(m[2]) / 10 : major;
}

/**
 * The newest archive format each pg_restore major reads. Newer majors than the
 * table knows are assumed to read every format listed (pg_restore reads all
 * older formats).
 */
const MAX_FORMAT_READ: [number, number][] = [
  [11, 13], // 1.13 (also back-patched into 9.3 and later)
  [15, 14], // 12-15: 1.14 (table access methods)
  [16, 15], // 16: 1.15 (compression algorithm in the header)
  [18, 16], // 17-18: 1.16 (BLOB METADATA, relkind)
];

export function maxFormatMinor(pgRestoreMajor: number): number {
  for (const [upTo, minor] of MAX_FORMAT_READ) if (pgRestoreMajor <= upTo) return minor;
  return Number.POSITIVE_INFINITY;
}

/** The first pg_dump major that writes each format (for advice when the header has no version string). */
const FIRST_WRITER: Record<number, number> = { 13: 11, 14: 12, 15: 16, 16: 17 };
export const firstMajorWriting = (minor: number): number | null => FIRST_WRITER[minor] ?? null;

export function canRead(pgRestoreMajor: number, h: ArchiveHeader): boolean {
  return h.version[0] === 1 && h.version[1] <= maxFormatMinor(pgRestoreMajor);
}
