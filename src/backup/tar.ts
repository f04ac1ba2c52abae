// A directory-format dump (pg_dump -Fd: toc.dat and one file per table) as one
// stream, so a parallel backup goes through the same hashing, encryption and
// storage as a custom-format one: a POSIX ustar archive of the directory's
// regular files, toc.dat first. The reader accepts only what the writer
// writes (plain file names, regular files), so a crafted file can never write
// outside the directory it is unpacked into.

import { lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { readChunks } from "./pipeline.ts";

const BLOCK = 512;
const TOC = "toc.dat";
/** pg_dump -Fd's file names: toc.dat, 1234.dat(.gz|.lz4|.zst), blob_1234.dat, blobs.toc, blobs_1234.toc. */
const PLAIN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** A tar archive begins with a header whose magic (offset 257) says "ustar". */
export const isTar = (b: Uint8Array) => b.length >= 263 && String.fromCharCode(...b.subarray(257, 262)) === "ustar";

export class TarError extends Error {}

function octal(out: Uint8Array, at: number, width: number, value: number): void {
  const s = value.toString(8).padStart(width - 1, "0");
  for (let i = 0; i < s.length; i++) out[at + i] = s.charCodeAt(i);
  out[at + width - 1] = 0;
}

/** Sizes of 8 GiB and more in GNU base-256 (high bit set, big-endian). */
function size12(out: Uint8Array, at: number, value: number): void {
  if (value < 8 ** 11) return octal(out, at, 12, value);
  out[at] = 0x80;
  for (let i = 11, v = value; i >= 1; i--, v = Math.floor(v / 256)) out[at + i] = v % 256;
}

function header(name: string, size: number, mtime: number): Uint8Array {
  const h = new Uint8Array(BLOCK);
  for (let i = 0; i < name.length; i++) h[i] = name.charCodeAt(i);
  octal(h, 100, 8, 0o600);
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  size12(h, 124, size);
  octal(h, 136, 12, Math.max(0, Math.floor(mtime / 1000)));
  h.fill(0x20, 148, 156);
  h[156] = 0x30; // '0': a regular file
  h.set([0x75, 0x73, 0x74, 0x61, 0x72, 0, 0x30, 0x30], 257); // "ustar\0" "00"
  let sum = 0;
  for (const b of h) sum += b;
  octal(h, 148, 7, sum);
  h[155] = 0x20;
  return h;
}

/** The tar stream of `dir`'s regular files (toc.dat first), read in chunks: memory stays flat. */
export async function* tarDirectory(dir: string): AsyncGenerator<Uint8Array> {
  const names = readdirSync(dir).sort((a, b) => (a === TOC ? -1 : b === TOC ? 1 : a < b ? -1 : a > b ? 1 : 0));
  for (const name of names) {
    const path = join(dir, name);
    const st = lstatSync(path);
    if (!st.isFile() || !PLAIN_NAME.test(name)) throw new TarError(`${path}: not a plain file of a directory-format dump`);
    yield header(name, st.size, st.mtimeMs);
    let n = 0;
    for await (const chunk of readChunks(path)) {
      n += chunk.length;
      yield chunk;
    }
    if (n !== st.size) throw new TarError(`${path} changed while it was archived`);
    if (n % BLOCK) yield new Uint8Array(BLOCK - (n % BLOCK));
  }
  yield new Uint8Array(2 * BLOCK);
}

function readOctal(h: Uint8Array, at: number, width: number): number {
  if (h[at]! & 0x80) {
    let v = 0;
    for (let i = 1; i < width; i++) v = v * 256 + h[at + i]!;
    return v;
  }
  const s = String.fromCharCode(...h.subarray(at, at + width)).replace(/[\0 ]+$/, "").replace(/^ +/, "");
  if (!/^[0-7]+$/.test(s)) throw new TarError("a tar header is damaged");
  return parseInt(s, 8);
}

function parseHeader(h: Uint8Array): { name: string; size: number } | null {
  if (h.every((b) => b === 0)) return null;
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
  if (readOctal(h, 148, 8) !== sum) throw new TarError("a tar header is damaged (checksum mismatch)");
  const end = h.indexOf(0);
  const name = String.fromCharCode(...h.subarray(0, end < 0 || end > 100 ? 100 : end));
  if (h[156] !== 0x30 && h[156] !== 0) throw new TarError(`${name}: not a regular file`);
  if (!PLAIN_NAME.test(name) || h[345] !== 0) throw new TarError(`"${name}" is not a plain file name`);
  return { name, size: readOctal(h, 124, 12) };
}

/** Where one member's bytes go; null skips them. */
export interface TarSink {
  write(chunk: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

/**
 * Reads a tar stream written by tarDirectory, handing each member's bytes to
 * the sink `open` returns for it. `open` returning "stop" ends reading there
 * (the rest of the source is not read). Throws TarError on anything but a
 * complete, well-formed archive of plain files.
 */
export async function untar(src: AsyncIterable<Uint8Array>, open: (name: string, size: number) => Promise<TarSink | null | "stop">): Promise<{ names: string[]; stopped: boolean }> {
  const names = new Set<string>();
  const head = new Uint8Array(BLOCK);
  let headUsed = 0;
  let sink: TarSink | null = null;
  let left = 0; // bytes of the current member still to come
  let pad = 0; // padding after it
  let ended = false;
  for await (let chunk of src) {
    while (chunk.length) {
      if (ended) {
        if (chunk.some((b) => b !== 0)) throw new TarError("data after the end of the tar archive");
        break;
      }
      if (left > 0) {
        const part = chunk.subarray(0, Math.min(left, chunk.length));
        left -= part.length;
        chunk = chunk.subarray(part.length);
        await sink?.write(part);
        if (left === 0) {
          await sink?.close();
          sink = null;
        }
        continue;
      }
      if (pad > 0) {
        const n = Math.min(pad, chunk.length);
        pad -= n;
        chunk = chunk.subarray(n);
        continue;
      }
      const n = Math.min(BLOCK - headUsed, chunk.length);
      head.set(chunk.subarray(0, n), headUsed);
      headUsed += n;
      chunk = chunk.subarray(n);
      if (headUsed < BLOCK) continue;
      headUsed = 0;
      const h = parseHeader(head);
      if (!h) {
        ended = true;
        continue;
      }
      if (names.has(h.name)) throw new TarError(`${h.name} appears twice`);
      names.add(h.name);
      const s = await open(h.name, h.size);
      if (s === "stop") return { names: [...names], stopped: true };
      sink = s;
      left = h.size;
      pad = (BLOCK - (h.size % BLOCK)) % BLOCK;
      if (left === 0) {
        await sink?.close();
        sink = null;
      }
    }
  }
  if (!ended || left > 0) throw new TarError("the tar archive is cut short");
  if (!names.has(TOC)) throw new TarError("the archive holds no toc.dat");
  return { names: [...names], stopped: false };
}
