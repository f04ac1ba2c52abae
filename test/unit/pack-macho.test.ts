// pack on Mach-O, on a small file laid out as Bun and codesign lay out a macOS
// binary (no macOS here to run one): the ad-hoc signature is removed and
// __LINKEDIT grows over the payload; after re-signing (a signature appended
// after the payload, as codesign does) the payload is still found and can be
// replaced; a certificate signature and a universal binary are refused.

import { expect, test } from "bun:test";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isPgshipError } from "../../src/core/errors.ts";
import { inspectBinary, writePacked } from "../../src/pack/binary.ts";
import { PAYLOAD_MAGIC_TEXT, readPayload, type PayloadParts } from "../../src/payload.ts";

const dir = mkdtempSync(join(tmpdir(), "pack-macho-"));
const GRAPH_AT = 4096;
const LINKEDIT_AT = 8192;

/** A code signature superblob: a code directory, plus a CMS blob of `cms` bytes when given. */
function superblob(cms?: number): Buffer {
  const cd = Buffer.alloc(64);
  cd.writeUInt32BE(0xfade0c02, 0);
  cd.writeUInt32BE(64, 4);
  const slots = cms === undefined ? 1 : 2;
  const headLen = 12 + slots * 8;
  const blobs = [cd];
  if (cms !== undefined) {
    const c = Buffer.alloc(cms);
    c.writeUInt32BE(0xfade0b01, 0);
    c.writeUInt32BE(cms, 4);
    blobs.push(c);
  }
  const head = Buffer.alloc(headLen);
  head.writeUInt32BE(0xfade0cc0, 0);
  head.writeUInt32BE(headLen + blobs.reduce((n, b) => n + b.length, 0), 4);
  head.writeUInt32BE(slots, 8);
  head.writeUInt32BE(0, 12);
  head.writeUInt32BE(headLen, 16);
  if (cms !== undefined) {
    head.writeUInt32BE(0x10000, 20);
    head.writeUInt32BE(headLen + 64, 24);
  }
  return Buffer.concat([head, ...blobs]);
}

const seg = (name: string, fileoff: number, filesize: number, sections: Buffer[] = []) => {
  const b = Buffer.alloc(72);
  b.writeUInt32LE(0x19, 0);
  b.writeUInt32LE(72 + sections.length * 80, 4);
  b.write(name, 8, "latin1");
  b.writeBigUInt64LE(BigInt(fileoff + 0x100000000), 24);
  b.writeBigUInt64LE(BigInt(Math.ceil(filesize / 0x4000) * 0x4000), 32);
  b.writeBigUInt64LE(BigInt(fileoff), 40);
  b.writeBigUInt64LE(BigInt(filesize), 48);
  b.writeUInt32LE(sections.length, 64);
  return Buffer.concat([b, ...sections]);
};

/** A thin arm64 Mach-O: __BUN,__bun holding a graph with pgship's code, __LINKEDIT, and a signature at its end. */
function machO(cms?: number): Buffer {
  const graph = Buffer.from(`\0\0\0\0code ${PAYLOAD_MAGIC_TEXT} more code\n---- Bun! ----\n`, "latin1");
  const sect = Buffer.alloc(80);
  sect.write("__bun", 0, "latin1");
  sect.write("__BUN", 16, "latin1");
  sect.writeBigUInt64LE(BigInt(graph.length), 40);
  sect.writeUInt32LE(GRAPH_AT, 48);
  const linkeditData = Buffer.alloc(100, 7);
  const sigAt = LINKEDIT_AT + 112;
  const sig = superblob(cms);
  const sigCmd = Buffer.alloc(16);
  sigCmd.writeUInt32LE(0x1d, 0);
  sigCmd.writeUInt32LE(16, 4);
  sigCmd.writeUInt32LE(sigAt, 8);
  sigCmd.writeUInt32LE(sig.length, 12);
  const cmds = Buffer.concat([seg("__BUN", GRAPH_AT, 4096, [sect]), seg("__LINKEDIT", LINKEDIT_AT, 112 + sig.length), sigCmd]);
  const header = Buffer.alloc(32);
  header.writeUInt32LE(0xfeedfacf, 0);
  header.writeUInt32LE(0x0100000c, 4);
  header.writeUInt32LE(2, 12);
  header.writeUInt32LE(3, 16);
  header.writeUInt32LE(cmds.length, 20);
  const file = Buffer.alloc(sigAt + sig.length);
  Buffer.concat([header, cmds]).copy(file, 0);
  graph.copy(file, GRAPH_AT);
  linkeditData.copy(file, LINKEDIT_AT);
  sig.copy(file, sigAt);
  return file;
}

/** The load commands of a 64-bit Mach-O: name → [offset in the file, bytes]. */
function commands(file: Buffer) {
  const out: { cmd: number; at: number; seg?: string }[] = [];
  for (let i = 0, at = 32; i < file.readUInt32LE(16); i++) {
    const cmd = file.readUInt32LE(at);
    out.push({ cmd, at, ...(cmd === 0x19 ? { seg: file.toString("latin1", at + 8, at + 24).replace(/\0+$/, "") } : {}) });
    at += file.readUInt32LE(at + 4);
  }
  return out;
}

/** What codesign does: the signature after the file's end (16-byte aligned), LC_CODE_SIGNATURE added, __LINKEDIT grown. */
function resign(file: Buffer): Buffer {
  const sigAt = Math.ceil(file.length / 16) * 16;
  const sig = superblob();
  const out = Buffer.concat([file, Buffer.alloc(sigAt - file.length), sig]);
  const cmds = commands(out);
  const end = 32 + out.readUInt32LE(20);
  out.writeUInt32LE(0x1d, end);
  out.writeUInt32LE(16, end + 4);
  out.writeUInt32LE(sigAt, end + 8);
  out.writeUInt32LE(sig.length, end + 12);
  out.writeUInt32LE(out.readUInt32LE(16) + 1, 16);
  out.writeUInt32LE(out.readUInt32LE(20) + 16, 20);
  const le = cmds.find((c) => c.seg === "__LINKEDIT")!;
  out.writeBigUInt64LE(BigInt(out.length - LINKEDIT_AT), le.at + 48);
  return out;
}

const parts = (name: string): PayloadParts => ({
  brand: { name, display: "Notes", trackingSchema: "notes_db", version: "1.0.0", alembic: {} },
  indexJson: JSON.stringify({ migrations: [{ version: "20240101000000", name: "a", file: "20240101000000_a.sql", checksum: "x" }], snapshot: null }),
  setJson: JSON.stringify({ migrations: [], snapshot: null, builtAt: "2024-01-01T00:00:00.000Z" }),
  modelsJson: null,
});

const write = (name: string, bytes: Buffer) => {
  const f = join(dir, name);
  writeFileSync(f, bytes);
  return f;
};

test("an ad-hoc signed Mach-O: signature removed, __LINKEDIT covers the payload, everything before it kept", () => {
  const original = machO();
  const from = write("adhoc", original);
  const info = inspectBinary(from);
  expect(info.format).toEqual({ os: "darwin", arch: "arm64", label: "darwin-arm64" });
  expect(info.baseEnd).toBe(LINKEDIT_AT + 112);
  const out = join(dir, "adhoc-packed");
  writePacked(from, info, parts("notes-db"), out);
  const packed = readFileSync(out);
  expect(packed.length % 16).toBe(0);
  expect(commands(packed).map((c) => c.cmd)).toEqual([0x19, 0x19]);
  expect(packed.readUInt32LE(20)).toBe(original.readUInt32LE(20) - 16);
  const le = commands(packed).find((c) => c.seg === "__LINKEDIT")!;
  expect(Number(packed.readBigUInt64LE(le.at + 40)) + Number(packed.readBigUInt64LE(le.at + 48))).toBe(packed.length);
  expect(packed.subarray(GRAPH_AT, LINKEDIT_AT + 112).equals(original.subarray(GRAPH_AT, LINKEDIT_AT + 112))).toBe(true);
  expect(readPayload(out, { anyPlatform: true })?.brand.name).toBe("notes-db");
});

test("re-signed after packing: the payload is found before the signature, and packing again replaces it", () => {
  const from = write("adhoc2", machO());
  const first = join(dir, "first");
  writePacked(from, inspectBinary(from), parts("notes-db"), first);
  const signed = write("signed", resign(readFileSync(first)));
  const p = readPayload(signed, { anyPlatform: true });
  expect(p?.brand.name).toBe("notes-db");
  expect(p?.index.migrations).toHaveLength(1);
  expect(p!.end).toBe(statSync(first).size);
  // Packing the re-signed file again: the signature and the old payload go, the new payload comes.
  const info = inspectBinary(signed);
  expect(info.payload?.brand.name).toBe("notes-db");
  const again = join(dir, "again");
  writePacked(signed, info, parts("notes-db"), again);
  expect(readFileSync(again).equals(readFileSync(first))).toBe(true);
  const other = join(dir, "other");
  writePacked(signed, info, parts("other-db"), other);
  expect(readPayload(other, { anyPlatform: true })?.brand.name).toBe("other-db");
});

const refused = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return isPgshipError(e) ? `${e.code}: ${e.message}` : String(e);
  }
  return "accepted";
};

test("a certificate signature and a universal binary are refused (pack_refused); an empty CMS blob is ad-hoc", () => {
  expect(refused(() => inspectBinary(write("cert", machO(400))))).toMatch(/^pack_refused: .*signed with a certificate/);
  expect(refused(() => inspectBinary(write("empty-cms", machO(8))))).toBe("accepted");
  const fat = Buffer.alloc(4096);
  fat.writeUInt32BE(0xcafebabe, 0);
  expect(refused(() => inspectBinary(write("fat", fat)))).toMatch(/^pack_refused: .*universal \(fat\) Mach-O/);
});
