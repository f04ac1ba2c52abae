// The migrations and the brand `pack` attaches to a released binary, and their
// reader. A packed binary is the released file, then the payload, then a fixed
// trailer at the very end (or, on a re-signed Mach-O, just before the code
// signature):
//
//   [binary][pad][index part][set part][models part][trailer, 176 bytes]
//
// index part:  JSON { brand, index } — what `status` and `--version` need, no SQL
// set part:    the JSON src/embedded.ts holds in a built binary (SQL included)
// models part: the JSON src/embedded-models.ts holds, or nothing
// trailer:     u32 format, u32 pad, u64 × 3 part lengths, sha256 × 3 of the parts,
//              sha256 of the 128 bytes before it, 16 bytes of magic
//
// Start-up reads the first 64 bytes (to tell a binary with nothing appended
// from one whose trailer was cut off), the trailer, and the index part: three
// small reads. The set and models parts are read, and checked, when a command
// first needs them. Every part is checked against its sha256 before use; a
// mismatch stops the command with `payload_corrupt`.

import { fstatSync, openSync, readSync } from "node:fs";
import type { AlembicMap } from "./core/adopt-map.ts";
import { PgshipError } from "./core/errors.ts";
import type { MigrationIndex } from "./core/migration-set.ts";
import { execPath, platform, sha256 } from "./runtime.ts";

/** Also how `pack` recognises a pgship binary: its code contains this text. */
export const PAYLOAD_MAGIC_TEXT = "pgship-payload1";
const MAGIC = Buffer.from(`\0${PAYLOAD_MAGIC_TEXT}`, "latin1");
export const TRAILER_SIZE = 176;
const FORMAT = 1;

/** Who a packed binary is. */
export interface PackedBrand {
  name: string;
  display: string;
  trackingSchema: string;
  version: string;
  alembic: AlembicMap;
}

export interface PayloadParts {
  brand: PackedBrand;
  indexJson: string;
  setJson: string;
  modelsJson: string | null;
}

export interface Payload {
  brand: PackedBrand;
  index: MigrationIndex;
  /** The set part (what embedded.ts holds), checked. */
  setJson(): string;
  /** The models part, checked; null when the set has no model file. */
  modelsJson(): string | null;
  /** Where the binary the payload was attached to ends (its padding included). */
  baseEnd: number;
  /** Where the trailer ends: the file's size, or where a Mach-O code signature starts. */
  end: number;
}


/** The bytes `pack` appends after `pad` zero bytes. */
export function encodePayload(parts: PayloadParts, pad: number): Buffer {
  const index = Buffer.from(JSON.stringify({ brand: parts.brand, index: JSON.parse(parts.indexJson) }));
  const set = Buffer.from(parts.setJson);
  const models = Buffer.from(parts.modelsJson ?? "");
  const t = Buffer.alloc(TRAILER_SIZE);
  t.writeUInt32LE(FORMAT, 0);
  t.writeUInt32LE(pad, 4);
  t.writeBigUInt64LE(BigInt(index.length), 8);
  t.writeBigUInt64LE(BigInt(set.length), 16);
  t.writeBigUInt64LE(BigInt(models.length), 24);
  sha256(index).copy(t, 32);
  sha256(set).copy(t, 64);
  sha256(models).copy(t, 96);
  sha256(t.subarray(0, 128)).copy(t, 128);
  MAGIC.copy(t, 160);
  return Buffer.concat([Buffer.alloc(pad), index, set, models, t]);
}

export function corrupt(file: string, what: string): PgshipError {
  return new PgshipError("payload_corrupt", `${file}: the migrations attached to this binary are damaged (${what})`, {
    hint: "download the binary again, or pack it again",
  });
}

function pread(fd: number, length: number, position: number): Buffer {
  const b = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, b, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got === length ? b : b.subarray(0, got);
}

/** Where an ELF file's own bytes end (its section header table comes last), or null when not ELF64 LE. */
function elfEnd(head: Buffer): number | null {
  if (head.length < 64 || head.readUInt32BE(0) !== 0x7f454c46 || head[4] !== 2 || head[5] !== 1) return null;
  const shoff = Number(head.readBigUInt64LE(0x28));
  return shoff > 0 ? shoff + head.readUInt16LE(0x3a) * head.readUInt16LE(0x3c) : null;
}

/** A thin 64-bit Mach-O's code signature offset, when it has one. */
function machoSignatureStart(fd: number, head: Buffer): number | null {
  if (head.length < 32 || head.readUInt32LE(0) !== 0xfeedfacf) return null;
  const ncmds = head.readUInt32LE(16);
  const cmds = pread(fd, head.readUInt32LE(20), 32);
  for (let i = 0, at = 0; i < ncmds && at + 8 <= cmds.length; i++) {
    const cmd = cmds.readUInt32LE(at);
    if (cmd === 0x1d && at + 16 <= cmds.length) return cmds.readUInt32LE(at + 8); // LC_CODE_SIGNATURE dataoff
    at += cmds.readUInt32LE(at + 4) || cmds.length;
  }
  return null;
}

/**
 * The payload attached to `file`, or null when it has none. Throws
 * `payload_corrupt` when one is attached but fails its checks, and when an ELF
 * file has bytes after its end that are not a whole payload (a cut-off download).
 * `anyPlatform`: look for a Mach-O's payload before its signature on any OS (for inspecting).
 */
export function readPayload(file: string, opts: { anyPlatform?: boolean; shown?: string } = {}): Payload | null {
  const shown = opts.shown ?? file;
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    // Running without knowing which migrations it carries would be worse than not running.
    throw new PgshipError("file", `${shown}: cannot read its own file to find the migrations attached to it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, {
      hint: `make it readable: chmod a+r ${file}`,
    });
  }
  const size = fstatSync(fd).size;
  const head = pread(fd, 64, 0);
  let end = size;
  let tail = pread(fd, Math.min(TRAILER_SIZE, size), size - Math.min(TRAILER_SIZE, size));
  const hasMagic = (t: Buffer) => t.length === TRAILER_SIZE && t.subarray(160).equals(MAGIC);
  if (!hasMagic(tail) && (opts.anyPlatform || platform().startsWith("darwin-"))) {
    // A re-signed Mach-O: codesign put its signature after the payload (16-byte aligned).
    const sig = machoSignatureStart(fd, head);
    if (sig !== null && sig >= TRAILER_SIZE) {
      const before = pread(fd, Math.min(sig, TRAILER_SIZE + 64), sig - Math.min(sig, TRAILER_SIZE + 64));
      const at = before.lastIndexOf(MAGIC);
      if (at >= 160) {
        end = sig - before.length + at + 16;
        tail = before.subarray(at - 160, at + 16);
      }
    }
  }
  if (!hasMagic(tail)) {
    const natural = elfEnd(head);
    if (natural !== null && size > natural) throw corrupt(shown, `${size - natural} bytes after the end of the program, without a valid trailer: the file is cut off or damaged`);
    return null;
  }
  if (!sha256(tail.subarray(0, 128)).equals(tail.subarray(128, 160)) || tail.readUInt32LE(0) !== FORMAT) throw corrupt(shown, "the trailer fails its checksum");
  const lens = [8, 16, 24].map((o) => Number(tail.readBigUInt64LE(o)));
  const [indexLen, setLen, modelsLen] = lens as [number, number, number];
  const trailerAt = end - TRAILER_SIZE;
  const indexAt = trailerAt - modelsLen - setLen - indexLen;
  const pad = tail.readUInt32LE(4);
  if (indexAt - pad < 0) throw corrupt(shown, "the file is shorter than its trailer says");
  const part = (at: number, len: number, shaAt: number, what: string) => {
    const b = pread(fd, len, at);
    if (b.length !== len || !sha256(b).equals(tail.subarray(shaAt, shaAt + 32))) throw corrupt(shown, `the ${what} fail their checksum`);
    return b.toString("utf8");
  };
  const indexPart = JSON.parse(part(indexAt, indexLen, 32, "migration list and brand")) as { brand: PackedBrand; index: MigrationIndex };
  let set: string | undefined;
  let models: string | null | undefined;
  return {
    brand: indexPart.brand,
    index: indexPart.index,
    setJson: () => (set ??= part(indexAt + indexLen, setLen, 64, "migrations")),
    modelsJson: () => (models ??= modelsLen ? part(indexAt + indexLen + setLen, modelsLen, 96, "schema models") : null),
    baseEnd: indexAt - pad,
    end,
  };
}

let own: Payload | null | undefined;
/** The payload attached to the running executable (read once), or null: then the embedded set and brand apply. */
export function ownPayload(): Payload | null {
  return own === undefined ? (own = readPayload(execPath(), { shown: "this binary" })) : own;
}
