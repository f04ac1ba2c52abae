// What `pack` needs to know about a released binary before it attaches a
// payload: its format (ELF, Mach-O, PE; architecture; C library), that Bun's
// own module graph is there and is pgship's, where the binary proper ends, and
// whether a signature would break.
//
// Where Bun 1.4 keeps the compiled program: in a section of the executable
// (ELF `.bun`, Mach-O `__BUN,__bun`, PE `.bun`), found at run time through the
// section / an exported symbol, never by reading the end of the file. So the
// payload goes after the binary's last byte and Bun still finds its graph:
// - ELF and PE: appended (PE: refused when Authenticode-signed, as appending
//   would break the signature).
// - Mach-O: appended inside __LINKEDIT, whose size grows to cover it; the code
//   signature is removed (it no longer matches), and the binary must be
//   re-signed (`codesign -s -` on macOS, `rcodesign sign` elsewhere) before
//   macOS runs it. An ad-hoc signature (what `bun build --compile` makes) is
//   removed; a signature made with a certificate is refused: it cannot be made
//   again here, and dropping it silently would ship an unsigned app.

import { chmodSync, closeSync, copyFileSync, fstatSync, fsyncSync, openSync, readSync, renameSync, rmSync, truncateSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { PgshipError } from "../core/errors.ts";
import { encodePayload, PAYLOAD_MAGIC_TEXT, readPayload, type Payload, type PayloadParts } from "../payload.ts";
import { pid } from "../runtime.ts";

export interface BinaryFormat {
  os: "linux" | "darwin" | "windows";
  arch: "x64" | "arm64";
  /** Linux only: by the ELF interpreter. */
  libc?: "glibc" | "musl" | "static";
  /** linux-x64-glibc, darwin-arm64, windows-x64 … */
  label: string;
}

/** A Mach-O load command area to rewrite when the payload is attached. */
export interface MachoLayout {
  sizeofcmds: number;
  ncmds: number;
  linkedit: { cmdAt: number; fileoff: number };
  signature: { cmdAt: number; cmdsize: number; dataoff: number; datasize: number } | null;
  pageSize: number;
}

export interface BinaryInfo {
  format: BinaryFormat;
  /** Where the binary proper ends: without an attached payload or a Mach-O signature. */
  baseEnd: number;
  /** The payload it already carries (replaced by `pack`), if any. */
  payload: Payload | null;
  macho: MachoLayout | null;
}

const refuse = (message: string, hint?: string) => new PgshipError("pack_refused", message, { hint });

function pread(fd: number, length: number, position: number): Buffer {
  const b = Buffer.alloc(Math.max(0, length));
  let got = 0;
  while (got < b.length) {
    const n = readSync(fd, b, got, b.length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return b.subarray(0, got);
}

const cstr = (b: Buffer, at: number, max = 256) => {
  const end = b.indexOf(0, at);
  return b.toString("latin1", at, end < 0 || end - at > max ? at + max : end);
};

/** Bun's module graph (its trailer) and pgship's code in it. */
function checkGraph(fd: number, offset: number, size: number, shown: string): void {
  const graph = pread(fd, size, offset);
  if (!graph.includes("\n---- Bun! ----\n")) throw refuse(`${shown}: no compiled program found in its .bun section: not a pgship binary`);
  if (!graph.includes(PAYLOAD_MAGIC_TEXT)) {
    throw refuse(`${shown}: a Bun program that cannot carry migrations: not a pgship binary (or one older than pack)`, "pack a pgship release that has the pack command");
  }
}

function elf(fd: number, head: Buffer, shown: string): { format: BinaryFormat; end: number } {
  if (head[4] !== 2 || head[5] !== 1) throw refuse(`${shown}: a 32-bit or big-endian ELF file: not a pgship binary`);
  const machine = head.readUInt16LE(0x12);
  const arch = machine === 0x3e ? "x64" : machine === 0xb7 ? "arm64" : null;
  if (!arch) throw refuse(`${shown}: an ELF file for machine ${machine}: pgship is built for x64 and arm64`);
  const phoff = Number(head.readBigUInt64LE(0x20));
  const shoff = Number(head.readBigUInt64LE(0x28));
  const [phentsize, phnum, shentsize, shnum, shstrndx] = [0x36, 0x38, 0x3a, 0x3c, 0x3e].map((o) => head.readUInt16LE(o)) as [number, number, number, number, number];
  let libc: "glibc" | "musl" | "static" = "static";
  const ph = pread(fd, phentsize * phnum, phoff);
  for (let i = 0; i + 1 <= phnum && (i + 1) * phentsize <= ph.length; i++) {
    const at = i * phentsize;
    if (ph.readUInt32LE(at) !== 3) continue; // PT_INTERP
    const interp = cstr(pread(fd, Number(ph.readBigUInt64LE(at + 0x20)), Number(ph.readBigUInt64LE(at + 0x08))), 0);
    libc = interp.includes("musl") ? "musl" : "glibc";
  }
  const sh = pread(fd, shentsize * shnum, shoff);
  if (!shnum || sh.length < shentsize * shnum || shstrndx >= shnum) throw refuse(`${shown}: an ELF file without section headers: not a pgship binary`);
  const section = (i: number) => ({ name: sh.readUInt32LE(i * shentsize), offset: Number(sh.readBigUInt64LE(i * shentsize + 0x18)), size: Number(sh.readBigUInt64LE(i * shentsize + 0x20)) });
  const strtab = section(shstrndx);
  const names = pread(fd, strtab.size, strtab.offset);
  let bun = null;
  for (let i = 0; i < shnum; i++) if (cstr(names, section(i).name) === ".bun") bun = section(i);
  if (!bun) throw refuse(`${shown}: an ELF program without a .bun section: not a pgship binary`);
  checkGraph(fd, bun.offset, bun.size, shown);
  return { format: { os: "linux", arch, libc, label: `linux-${arch}-${libc}` }, end: shoff + shentsize * shnum };
}

function macho(fd: number, head: Buffer, shown: string): { format: BinaryFormat; layout: MachoLayout } {
  const cpu = head.readUInt32LE(4);
  const arch = cpu === 0x01000007 ? "x64" : cpu === 0x0100000c ? "arm64" : null;
  if (!arch) throw refuse(`${shown}: a Mach-O file for CPU type ${cpu}: pgship is built for x64 and arm64`);
  const ncmds = head.readUInt32LE(16);
  const sizeofcmds = head.readUInt32LE(20);
  const cmds = pread(fd, sizeofcmds, 32);
  let linkedit: MachoLayout["linkedit"] | null = null;
  let signature: MachoLayout["signature"] = null;
  let graph: { offset: number; size: number } | null = null;
  for (let i = 0, at = 0; i < ncmds; i++) {
    if (at + 8 > cmds.length) throw refuse(`${shown}: a damaged Mach-O file (load commands run past their size)`);
    const cmd = cmds.readUInt32LE(at);
    const size = cmds.readUInt32LE(at + 4);
    if (cmd === 0x19) {
      // LC_SEGMENT_64
      const seg = cstr(cmds, at + 8, 16);
      if (seg === "__LINKEDIT") linkedit = { cmdAt: at, fileoff: Number(cmds.readBigUInt64LE(at + 40)) };
      const nsects = cmds.readUInt32LE(at + 64);
      for (let s = 0; s < nsects; s++) {
        const sAt = at + 72 + s * 80;
        if (cstr(cmds, sAt, 16) === "__bun") graph = { offset: cmds.readUInt32LE(sAt + 48), size: Number(cmds.readBigUInt64LE(sAt + 40)) };
      }
    } else if (cmd === 0x1d) {
      signature = { cmdAt: at, cmdsize: size, dataoff: cmds.readUInt32LE(at + 8), datasize: cmds.readUInt32LE(at + 12) };
    }
    if (size < 8) throw refuse(`${shown}: a damaged Mach-O file (a load command of ${size} bytes)`);
    at += size;
  }
  if (!graph) throw refuse(`${shown}: a Mach-O program without a __BUN,__bun section: not a pgship binary`);
  if (!linkedit) throw refuse(`${shown}: a Mach-O program without __LINKEDIT: not a pgship binary`);
  checkGraph(fd, graph.offset, graph.size, shown);
  if (signature && certificateSigned(fd, signature.dataoff)) {
    throw refuse(
      `${shown}: signed with a certificate; attaching migrations would break that signature, and pack cannot sign it again`,
      "pack the unsigned (or ad-hoc signed) release, then sign the packed binary with your identity: codesign -s 'Developer ID …' FILE",
    );
  }
  return { format: { os: "darwin", arch, label: `darwin-${arch}` }, layout: { sizeofcmds, ncmds, linkedit, signature, pageSize: arch === "arm64" ? 0x4000 : 0x1000 } };
}

/** Whether a code signature superblob holds a CMS signature (ad-hoc ones hold none, or an empty one). */
function certificateSigned(fd: number, dataoff: number): boolean {
  const head = pread(fd, 12, dataoff);
  if (head.length < 12 || head.readUInt32BE(0) !== 0xfade0cc0) return false;
  const count = head.readUInt32BE(8);
  const index = pread(fd, count * 8, dataoff + 12);
  for (let i = 0; i + 8 <= index.length; i += 8) {
    if (index.readUInt32BE(i) !== 0x10000) continue; // CSSLOT_SIGNATURESLOT
    const blob = pread(fd, 8, dataoff + index.readUInt32BE(i + 4));
    return blob.length === 8 && blob.readUInt32BE(0) === 0xfade0b01 && blob.readUInt32BE(4) > 8;
  }
  return false;
}

function pe(fd: number, head: Buffer, shown: string): { format: BinaryFormat; end: number } {
  const at = head.readUInt32LE(0x3c);
  const hdr = pread(fd, 24 + 240, at);
  if (hdr.length < 24 || hdr.readUInt32LE(0) !== 0x4550) throw refuse(`${shown}: an MZ file without a PE header: not a pgship binary`);
  const machine = hdr.readUInt16LE(4);
  const arch = machine === 0x8664 ? "x64" : machine === 0xaa64 ? "arm64" : null;
  if (!arch) throw refuse(`${shown}: a PE file for machine ${machine}: pgship is built for x64 and arm64`);
  const nsections = hdr.readUInt16LE(6);
  const optSize = hdr.readUInt16LE(20);
  if (hdr.readUInt16LE(24) !== 0x20b) throw refuse(`${shown}: a 32-bit PE file: not a pgship binary`);
  if (hdr.length >= 24 + 152 && hdr.readUInt32LE(24 + 148) > 0) {
    throw refuse(`${shown}: Authenticode-signed; attaching migrations would break the signature`, "pack the unsigned release, then sign the packed binary");
  }
  const table = pread(fd, nsections * 40, at + 24 + optSize);
  let end = 0;
  let graph = null;
  for (let i = 0; i + 40 <= table.length; i += 40) {
    const raw = { size: table.readUInt32LE(i + 16), offset: table.readUInt32LE(i + 20) };
    end = Math.max(end, raw.offset + raw.size);
    if (cstr(table, i, 8) === ".bun") graph = raw;
  }
  if (!graph) throw refuse(`${shown}: a Windows program without a .bun section: not a pgship binary`);
  checkGraph(fd, graph.offset, graph.size, shown);
  return { format: { os: "windows", arch, label: `windows-${arch}` }, end };
}

/** Reads `file`'s format and layout; refuses (pack_refused) what pack cannot or must not brand. */
export function inspectBinary(file: string, shown = file): BinaryInfo {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new PgshipError("file", `${shown}: ${code === "ENOENT" ? "does not exist" : code === "EACCES" ? "permission denied" : (e as Error).message}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new PgshipError("file", `${shown}: is not a regular file`);
    const head = pread(fd, 64, 0);
    const notOurs = () => refuse(`${shown}: not an executable pgship can pack (not ELF, Mach-O or PE): not a pgship binary`);
    if (head.length < 64) throw notOurs();
    const magic = head.readUInt32BE(0);
    // The payload already attached, if any (pack replaces it), read once the file is known to be ours.
    const attached = () => readPayload(file, { anyPlatform: true, shown });
    if (magic === 0x7f454c46) {
      const { format, end } = elf(fd, head, shown);
      const payload = attached();
      return { format, baseEnd: payload?.baseEnd ?? end, payload, macho: null };
    }
    if (magic === 0xcafebabe || magic === 0xcafebabf || magic === 0xbebafeca) {
      throw refuse(`${shown}: a universal (fat) Mach-O binary`, "pack each architecture's binary on its own (darwin-x64, darwin-arm64)");
    }
    if (head.readUInt32LE(0) === 0xfeedfacf) {
      const { format, layout } = macho(fd, head, shown);
      const payload = attached();
      return { format, baseEnd: payload?.baseEnd ?? layout.signature?.dataoff ?? st.size, payload, macho: layout };
    }
    if (head.readUInt16BE(0) === 0x4d5a) {
      const { format, end } = pe(fd, head, shown);
      const payload = attached();
      return { format, baseEnd: payload?.baseEnd ?? Math.max(end, st.size), payload, macho: null };
    }
    throw notOurs();
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes a copy of `from` carrying `parts` to `out`: through a temporary file
 * beside it, renamed into place (mode 0755), so `out` is either the old file or
 * the whole new one. Returns the payload's size in bytes.
 */
export function writePacked(from: string, info: BinaryInfo, parts: PayloadParts, out: string): number {
  const tmp = join(dirname(out), `.${basename(out)}.${pid()}.tmp`);
  try {
    copyFileSync(from, tmp);
    truncateSync(tmp, info.baseEnd);
    const fd = openSync(tmp, "r+");
    try {
      let payload = encodePayload(parts, 0);
      if (info.macho) {
        // End on a 16-byte boundary: codesign puts the new signature right after it.
        payload = encodePayload(parts, (16 - ((info.baseEnd + payload.length) % 16)) % 16);
        patchMacho(fd, info.macho, info.baseEnd + payload.length);
      }
      writeSync(fd, payload, 0, payload.length, info.baseEnd);
      fsyncSync(fd);
      chmodSync(tmp, 0o755);
      renameSync(tmp, out);
      return payload.length;
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** Drops LC_CODE_SIGNATURE and makes __LINKEDIT end where the payload ends. */
function patchMacho(fd: number, m: MachoLayout, end: number): void {
  let cmds = pread(fd, m.sizeofcmds, 32);
  let linkeditAt = m.linkedit.cmdAt;
  let { ncmds, sizeofcmds } = m;
  if (m.signature) {
    const { cmdAt, cmdsize } = m.signature;
    cmds = Buffer.concat([cmds.subarray(0, cmdAt), cmds.subarray(cmdAt + cmdsize), Buffer.alloc(cmdsize)]);
    if (linkeditAt > cmdAt) linkeditAt -= cmdsize;
    ncmds -= 1;
    sizeofcmds -= cmdsize;
  }
  const filesize = end - m.linkedit.fileoff;
  cmds.writeBigUInt64LE(BigInt(Math.ceil(filesize / m.pageSize) * m.pageSize), linkeditAt + 32); // vmsize
  cmds.writeBigUInt64LE(BigInt(filesize), linkeditAt + 48); // filesize
  const counts = Buffer.alloc(8);
  counts.writeUInt32LE(ncmds, 0);
  counts.writeUInt32LE(sizeofcmds, 4);
  writeSync(fd, counts, 0, 8, 16);
  writeSync(fd, cmds, 0, cmds.length, 32);
}
