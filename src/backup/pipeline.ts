// The plumbing between pg_dump / pg_restore and files: async iterables of
// chunks, pulled one at a time, so a slow consumer slows the producer down
// (backpressure) and memory stays flat whatever the archive size. Hashes are
// computed on the bytes as they pass.

import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { PgshipError } from "../core/errors.ts";
import { endInput, writeChunk, type RunningProc } from "../tools/proc.ts";
import { isS3 } from "./location.ts";
import { s3Chunks } from "./s3-store.ts";
import { collectGarbage } from "../runtime.ts";

/** Collect the garbage every this many bytes that pass a Meter (see collectGarbage). */
const GC_EVERY = 16 * 1024 * 1024;
/**
 * ... and every this many on the way to or from S3, where the part buffers and the HTTP client's
 * chunks pile up faster than they are collected: an S3 backup then peaks near 86 MiB instead of
 * 98-105. Not everywhere: a local restore would pay ~0.5 s of CPU per 150 MiB for it.
 */
export const S3_GC_EVERY = 2 * 1024 * 1024;

/** Counts and hashes the bytes that flow past it, collecting the garbage every `gcEvery` bytes. */
export class Meter {
  bytes = 0;
  private readonly hash: Hash = createHash("sha256");
  private digest: string | null = null;
  private nextGc: number;
  constructor(private readonly gcEvery = GC_EVERY) {
    this.nextGc = gcEvery;
  }
  update(chunk: Uint8Array): void {
    this.bytes += chunk.length;
    this.hash.update(chunk);
    if (this.bytes >= this.nextGc) {
      this.nextGc = this.bytes + this.gcEvery;
      collectGarbage();
    }
  }
  hex(): string {
    this.digest ??= this.hash.digest("hex");
    return this.digest;
  }
}

/** A Meter for the bytes read from `path`: collecting more often when they come from S3. */
export const meterFor = (path: string): Meter => new Meter(isS3(path) ? S3_GC_EVERY : GC_EVERY);

export async function* tap(src: AsyncIterable<Uint8Array>, fn: (chunk: Uint8Array) => void): AsyncGenerator<Uint8Array> {
  for await (const chunk of src) {
    fn(chunk);
    yield chunk;
  }
}

/** Keeps the first `limit` bytes that pass (the archive header), without copying the rest. */
export class HeadKeeper {
  private parts: Uint8Array[] = [];
  private size = 0;
  constructor(private readonly limit: number) {}
  update(chunk: Uint8Array): void {
    if (this.size >= this.limit) return;
    const part = chunk.subarray(0, this.limit - this.size);
    this.parts.push(Uint8Array.from(part));
    this.size += part.length;
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

export function readChunks(path: string, start = 0): AsyncIterable<Uint8Array> {
  if (isS3(path)) return s3Chunks(path, start);
  return createReadStream(path, { highWaterMark: 256 * 1024, start });
}

/** Why a write to the backup file failed, in words. */
export function describeWriteError(e: unknown, path: string): PgshipError {
  const err = e as NodeJS.ErrnoException;
  const code = err?.code ?? "";
  const msg = String(err?.message ?? e);
  if (code === "EFBIG" || /file too large/i.test(msg)) {
    return new PgshipError("backup_write_failed", `could not write ${path}: the file size limit was reached`, {
      hint: "raise the limit (ulimit -f, or the service's LimitFSIZE) or back up to a file system without one",
      cause: e,
    });
  }
  if (code === "ENOSPC" || /no space left/i.test(msg)) {
    return new PgshipError("backup_write_failed", `could not write ${path}: the disk is full`, { hint: "free space there, or back up to another directory with --dir", cause: e });
  }
  if (code === "EDQUOT") return new PgshipError("backup_write_failed", `could not write ${path}: disk quota exceeded`, { cause: e });
  return new PgshipError("backup_write_failed", `could not write ${path}: ${msg}`, { cause: e });
}

/** Writes every chunk to the file (complete writes only), in order. */
export async function writeAll(src: AsyncIterable<Uint8Array>, fh: FileHandle): Promise<void> {
  for await (const chunk of src) {
    let off = 0;
    while (off < chunk.length) {
      const { bytesWritten } = await fh.write(chunk, off, chunk.length - off);
      if (bytesWritten <= 0) throw Object.assign(new Error("write returned 0 bytes"), { code: "EIO" });
      off += bytesWritten;
    }
  }
}

/**
 * Feeds a child's stdin. When the child closes its end early (pg_restore
 * --list stops after the table of contents) the rest of the source is still
 * drained when asked, so the hashes tapped upstream cover the whole file.
 */
export async function feed(src: AsyncIterable<Uint8Array>, child: RunningProc, opts: { drain: boolean; stop?: () => boolean }): Promise<{ closedEarly: boolean }> {
  let open = true;
  for await (const chunk of src) {
    if (open) open = await writeChunk(child, chunk);
    // A restore whose pg_restore died need not read on: its exit status is the news. Nor an interrupted check.
    if (!open && (!opts.drain || opts.stop?.())) break;
  }
  endInput(child);
  return { closedEarly: !open };
}
