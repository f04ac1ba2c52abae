// Streaming an archive to S3 while it is produced: the chunks are gathered
// into parts and sent as a multipart upload, at most IN_FLIGHT parts at a
// time. Waiting for a slot is what slows pg_dump down (backpressure), so
// memory stays at (IN_FLIGHT + 1) part buffers whatever the archive's size.
// An archive smaller than one part is sent with one PUT.
// Any failure or interrupt aborts the multipart upload, so nothing appears:
// the parts in flight are let finish first (a part the server is still
// receiving when the upload is aborted can bring the upload back to life), and
// no request is cut off half-way, so every outcome is known.

import { env } from "../runtime.ts";
import type { S3Client } from "./s3.ts";

/** 5 MiB parts, S3's minimum: three part buffers are most of a backup's memory. */
export const PART_SIZE = 5 * 1024 * 1024;
export const IN_FLIGHT = 2;
const MAX_PARTS = 10_000;
/** Parts after this many are 16 times larger, so an upload can still hold 122 GiB (with 5 MiB parts). */
const SMALL_PARTS = 9_000;

/** The size of part `n` (from 1): `base` for the first 9,000 parts (43.9 GiB at 5 MiB), 16 × base for the last 1,000. */
export const partBytes = (n: number, base: number, small = SMALL_PARTS): number => (n <= small ? base : base * 16);

/** The base part size; PGSHIP_S3_PART_SIZE (bytes) overrides it for tests against servers without S3's 5 MiB minimum. */
export function partSize(): number {
  const v = Number(env().PGSHIP_S3_PART_SIZE);
  return Number.isSafeInteger(v) && v >= 1024 ? v : PART_SIZE;
}

export interface Uploaded {
  bytes: number;
  parts: number;
  partBytes: number;
}

export interface UploadHandle {
  /** Resolves when the object exists under its key. */
  done: Promise<Uploaded>;
  /**
   * Stops the upload: no further part is sent, and once the parts in flight are answered the
   * multipart upload is aborted (the promise then rejects). A completion already under way
   * is let finish (the promise resolves): the caller deletes that object.
   */
  cancel(): void;
}

/** Sends `src` to s3://bucket/key. `onStart` learns the multipart upload id (for a cleanup elsewhere). */
export function uploadStream(
  client: S3Client,
  bucket: string,
  key: string,
  src: AsyncIterable<Uint8Array>,
  o: { onStart?: (uploadId: string) => void; /** The base part size and where the larger parts start (tests). */ partSize?: number; smallParts?: number } = {},
): UploadHandle {
  let cancelled = false;
  const stopIfCancelled = () => {
    if (cancelled) throw new Error("upload cancelled");
  };
  const base = o.partSize ?? partSize();
  const run = async (): Promise<Uploaded> => {
    let uploadId: string | null = null;
    const etags: { n: number; etag: string }[] = [];
    const inFlight = new Set<Promise<void>>();
    let failed: unknown = null;
    // IN_FLIGHT + 1 buffers, reused: one filling while the others are sent (fresh ones per part would
    // leave garbage for the collector and raise the peak).
    const pool: Uint8Array[] = [];
    let n = 0;
    // The buffer for the part after the `n` already sent (a buffer of a smaller size is dropped).
    const take = () => {
      const size = partBytes(n + 1, base, o.smallParts);
      for (let b = pool.pop(); b; b = pool.pop()) if (b.length === size) return b;
      return new Uint8Array(size);
    };
    let largest = 0;
    let buf = take();
    let filled = 0;
    let total = 0;
    const send = async (part: Uint8Array, whole: Uint8Array) => {
      if (uploadId === null) {
        uploadId = await client.createMultipart(bucket, key);
        o.onStart?.(uploadId);
      }
      const id: string = uploadId;
      const partNo = ++n;
      if (partNo > MAX_PARTS) throw new Error(`the archive needs more than ${MAX_PARTS} parts (${base} bytes each, the last 1,000 ${base * 16})`);
      largest = Math.max(largest, part.length);
      const p: Promise<void> = client.uploadPart(bucket, key, id, partNo, part).then(
        (etag) => void etags.push({ n: partNo, etag }),
        (e: unknown) => void (failed ??= e),
      );
      const tracked = p.finally(() => {
        inFlight.delete(tracked);
        pool.push(whole);
      });
      inFlight.add(tracked);
      while (inFlight.size >= IN_FLIGHT && !failed) await Promise.race(inFlight);
      if (failed) throw failed;
    };
    try {
      for await (const chunk of src) {
        stopIfCancelled();
        total += chunk.length;
        let off = 0;
        while (off < chunk.length) {
          const len = Math.min(buf.length - filled, chunk.length - off);
          buf.set(chunk.subarray(off, off + len), filled);
          filled += len;
          off += len;
          if (filled === buf.length) {
            const part = buf;
            await send(part, part);
            buf = take();
            filled = 0;
          }
        }
      }
      stopIfCancelled();
      if (uploadId === null && n === 0) {
        // Smaller than one part: one PUT.
        await client.request("PUT", bucket, key, { body: buf.subarray(0, filled), headers: { "content-type": "application/octet-stream" } }).then((r) => r.arrayBuffer());
        return { bytes: total, parts: 1, partBytes: filled };
      }
      if (filled > 0) await send(buf.subarray(0, filled), buf);
      await Promise.all(inFlight);
      if (failed) throw failed;
      stopIfCancelled();
      etags.sort((a, b) => a.n - b.n);
      await client.completeMultipart(bucket, key, uploadId!, etags);
      return { bytes: total, parts: etags.length, partBytes: largest };
    } catch (e) {
      await Promise.allSettled(inFlight);
      if (uploadId !== null) await client.abortMultipart(bucket, key, uploadId).catch(() => undefined);
      throw failed ?? e;
    }
  };
  return {
    done: run(),
    cancel: () => {
      cancelled = true;
    },
  };
}
