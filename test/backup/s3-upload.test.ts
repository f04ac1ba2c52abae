// The multipart uploader against a real S3-compatible server (s3rver): parts of
// the base size, then 16 times larger once the small ones are used up (the last
// 1,000 of S3's 10,000), and the object is the bytes that went in.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { S3Client, s3Config } from "../../src/backup/s3.ts";
import { partBytes, PART_SIZE, uploadStream } from "../../src/backup/s3-upload.ts";
import { startS3, type S3Server } from "../harness/s3.ts";

let s3: S3Server;
beforeAll(async () => {
  s3 = await startS3(["up"]);
});
afterAll(async () => {
  await s3?.stop();
});

async function* chunks(data: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

async function roundTrip(key: string, bytes: number, o: { base: number; smallParts: number; chunk: number }) {
  const client = new S3Client(s3Config(s3.env));
  const data = new Uint8Array(randomBytes(bytes));
  const up = await uploadStream(client, "up", key, chunks(data, o.chunk), { partSize: o.base, smallParts: o.smallParts }).done;
  const back: Uint8Array[] = [];
  for await (const c of client.get("up", key)) back.push(c);
  return { up, same: Buffer.concat(back).equals(Buffer.from(data)) };
}

describe("uploadStream", () => {
  test("10,000 parts: 9,000 of 5 MiB, then 1,000 of 80 MiB (122 GiB in all)", () => {
    expect(PART_SIZE).toBe(5 * 1024 * 1024);
    expect([1, 9000, 9001, 10000].map((n) => partBytes(n, PART_SIZE) / 1024 ** 2)).toEqual([5, 5, 80, 80]);
    let total = 0;
    for (let n = 1; n <= 10_000; n++) total += partBytes(n, PART_SIZE);
    expect(Math.floor(total / 1024 ** 3)).toBe(122);
  });

  test("the parts grow after the small ones; the object is the bytes sent", async () => {
    // 3 parts of 1 KiB, then parts of 16 KiB: 40 KiB = 3 + 16 + 16 + 5 KiB, fed in 700-byte chunks.
    const r = await roundTrip("grow", 40 * 1024, { base: 1024, smallParts: 3, chunk: 700 });
    expect(r).toEqual({ up: { bytes: 40 * 1024, parts: 6, partBytes: 16 * 1024 }, same: true });
  });

  test("smaller than one part: one PUT", async () => {
    const r = await roundTrip("small", 900, { base: 1024, smallParts: 3, chunk: 256 });
    expect(r).toEqual({ up: { bytes: 900, parts: 1, partBytes: 900 }, same: true });
  });
});
