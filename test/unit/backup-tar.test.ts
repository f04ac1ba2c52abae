// The tar stream a parallel backup stores pg_dump -Fd's directory in: what the
// writer writes the reader gives back, byte for byte, in any chunking; and the
// reader refuses anything else (other names, other file types, a cut).

import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isTar, tarDirectory, untar, TarError } from "../../src/backup/tar.ts";

function dumpDir(files: Record<string, Uint8Array | string>): string {
  const d = mkdtempSync(join(tmpdir(), "pgship-tar-"));
  for (const [name, body] of Object.entries(files)) writeFileSync(join(d, name), body);
  return d;
}

async function bytesOf(src: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of src) parts.push(c);
  return Buffer.concat(parts);
}

/** Feeds `b` in pieces of `n` bytes. */
async function* pieces(b: Uint8Array, n: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < b.length; i += n) yield b.subarray(i, i + n);
}

async function unpack(b: Uint8Array, n = 7919): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  await untar(pieces(b, n), async (name) => {
    const parts: Uint8Array[] = [];
    return { write: async (c) => void parts.push(Uint8Array.from(c)), close: async () => void (out[name] = Buffer.concat(parts).toString("latin1")) };
  });
  return out;
}

const random = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 2654435761) >>> 24);

describe("tar stream of a directory-format dump", () => {
  test("round trip in any chunking, toc.dat first; GNU tar reads it too", async () => {
    const files = { "3344.dat.gz": random(70_001), "toc.dat": "PGDMP toc", "3345.dat.gz": "", "blobs.toc": random(512) };
    const d = dumpDir(files);
    const b = await bytesOf(tarDirectory(d));
    expect(isTar(b)).toBe(true);
    expect(b.subarray(0, 7).toString()).toBe("toc.dat");
    expect(b.length % 512).toBe(0);
    for (const n of [1, 511, 512, 4096, 1 << 20]) {
      const got = await unpack(b, n);
      expect(Object.keys(got).sort()).toEqual(Object.keys(files).sort());
      for (const [name, body] of Object.entries(files)) expect(got[name]).toBe(Buffer.from(body).toString("latin1"));
    }
    const out = mkdtempSync(join(tmpdir(), "pgship-tar-x-"));
    writeFileSync(join(out, "a.tar"), b);
    mkdirSync(join(out, "x"));
    expect(spawnSync("tar", ["-xf", join(out, "a.tar"), "-C", join(out, "x")]).status).toBe(0);
    expect(readFileSync(join(out, "x", "3344.dat.gz"))).toEqual(Buffer.from(files["3344.dat.gz"]));
  });

  test("stops where asked: only toc.dat is read", async () => {
    const b = await bytesOf(tarDirectory(dumpDir({ "toc.dat": "t", "1.dat": random(3000) })));
    const seen: string[] = [];
    const r = await untar(pieces(b, 100), async (name) => (seen.push(name), name === "toc.dat" ? null : "stop"));
    expect(r.stopped).toBe(true);
    expect(seen).toEqual(["toc.dat", "1.dat"]);
  });

  test("refuses a cut, a damaged header, names with a path, and files that are not regular", async () => {
    const b = await bytesOf(tarDirectory(dumpDir({ "toc.dat": "t", "1.dat": random(3000) })));
    const refused = (x: Uint8Array) => expect(unpack(x)).rejects.toBeInstanceOf(TarError);
    await refused(b.subarray(0, b.length - 1100));
    const damaged = Uint8Array.from(b);
    damaged[3] = 0x41;
    await refused(damaged);
    const withSymlink = dumpDir({ "toc.dat": "t" });
    symlinkSync("/etc/passwd", join(withSymlink, "2.dat"));
    await expect(bytesOf(tarDirectory(withSymlink))).rejects.toBeInstanceOf(TarError);
    // GNU tar's own archive of a path with a directory part.
    const d = dumpDir({ "toc.dat": "t" });
    mkdirSync(join(d, "sub"));
    writeFileSync(join(d, "sub", "x"), "x");
    const t = spawnSync("tar", ["--format=ustar", "-cf", "-", "-C", d, "toc.dat", "sub/x"]);
    await refused(new Uint8Array(t.stdout));
    const dir = spawnSync("tar", ["--format=ustar", "-cf", "-", "-C", d, "sub"]);
    await refused(new Uint8Array(dir.stdout));
  });
});
