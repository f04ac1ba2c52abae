// The archive header reader: real pg_dump output, every format version that
// matters, truncation, foreign files; and which pg_restore reads what.

import { describe, expect, test } from "bun:test";
import { canRead, guessFileKind, isAgeFile, majorOf, maxFormatMinor, parseArchiveHeader } from "../../src/backup/archive-header.ts";

/** The first 140 bytes of a `pg_dump -Fc` archive written by pg_dump 15.20 (Debian). */
const REAL_15 = Buffer.from(
  "UEdETVABDgAECAEBAQAAAAAPAAAAADAAAAAAAAAAAAAYAAAAAAoAAAAAfgAAAAAAAAAAAAUAAABzbW9rZQAeAAAAMTUuMjAgKERlYmlhbiAxNS4yMC0wK2RlYjEydTEpAB4AAAAxNS4yMCAoRGViaWFuIDE1LjIwLTArZGViMTJ1MSkALQAAAABdDQA=",
  "base64",
);

/** A header as ReadHead() expects it, for versions no local pg_dump writes. */
function header(minor: number, o: { compression?: number; db?: string; server?: string; dump?: string } = {}): Uint8Array {
  const out: number[] = [..."PGDMP"].map((c) => c.charCodeAt(0));
  out.push(1, minor, 0, 4, 8, 1);
  const int = (v: number) => out.push(v < 0 ? 1 : 0, ...[0, 1, 2, 3].map((i) => (Math.abs(v) >> (8 * i)) & 255));
  const str = (s: string) => {
    const b = new TextEncoder().encode(s);
    int(b.length);
    out.push(...b);
  };
  if (minor >= 15) out.push(o.compression ?? 3);
  else int(o.compression ?? -1);
  for (const v of [5, 4, 3, 2, 0, 125, 0]) int(v);
  str(o.db ?? "app");
  str(o.server ?? "17.2");
  str(o.dump ?? "17.2");
  return new Uint8Array(out);
}

describe("parseArchiveHeader", () => {
  test("a real pg_dump 15 archive", () => {
    const r = parseArchiveHeader(REAL_15);
    expect(r).toEqual({
      ok: true,
      header: {
        version: [1, 14, 0],
        format: "custom",
        compression: "gzip",
        createdAt: "2026-11-24 00:48:15",
        database: "smoke",
        serverVersion: "15.20 (Debian 15.20-0+deb12u1)",
        dumpVersion: "15.20 (Debian 15.20-0+deb12u1)",
      },
    });
  });

  const cases: [string, Uint8Array, Partial<{ version: number[]; compression: string; database: string; dumpVersion: string }>][] = [
    ["1.14, gzip level 6", header(14, { compression: 6 }), { version: [1, 14, 0], compression: "gzip:6" }],
    ["1.14, uncompressed", header(14, { compression: 0 }), { compression: "none" }],
    ["1.15 (pg_dump 16), lz4", header(15, { compression: 2, dump: "16.4" }), { version: [1, 15, 0], compression: "lz4", dumpVersion: "16.4" }],
    ["1.16 (pg_dump 17), zstd", header(16, { compression: 3 }), { version: [1, 16, 0], compression: "zstd", dumpVersion: "17.2" }],
    ["a database name with UTF-8", header(16, { db: "données" }), { database: "données" }],
  ];
  for (const [name, bytes, want] of cases) {
    test(name, () => {
      const r = parseArchiveHeader(bytes);
      if (!r.ok) throw new Error(r.reason);
      expect(r.header).toMatchObject(want);
    });
  }

  test("a header cut anywhere asks for more bytes instead of guessing", () => {
    const full = header(16);
    for (let n = 0; n < full.length; n++) {
      const r = parseArchiveHeader(full.subarray(0, n));
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.needMore).toBe(true);
    }
    expect(parseArchiveHeader(full).ok).toBe(true);
  });

  const foreign: [string, Uint8Array, RegExp][] = [
    ["plain SQL dump", new TextEncoder().encode("--\n-- PostgreSQL database dump\n--\nSET statement_timeout = 0;\n"), /plain SQL script/],
    ["gzip", new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0]), /gzip/],
    ["age", new TextEncoder().encode("age-encryption.org/v1\n-> X25519 abc\n"), /age-encrypted/],
    ["random bytes", new Uint8Array([7, 200, 13, 99, 1, 2, 3, 4, 5, 6]), /not a pg_dump custom-format archive/],
    ["archive format 2.0", (() => { const b = header(16); b[5] = 2; return b; })(), /archive format 2\./],
    ["impossible integer size", (() => { const b = header(16); b[8] = 40; return b; })(), /damaged/],
  ];
  for (const [name, bytes, re] of foreign) {
    test(`refuses ${name}`, () => {
      const r = parseArchiveHeader(bytes);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.reason).toMatch(re);
    });
  }
});

describe("which pg_restore reads which archive", () => {
  const table: [number, number, boolean][] = [
    [15, 14, true],
    [15, 15, false],
    [15, 16, false],
    [16, 15, true],
    [16, 16, false],
    [17, 16, true],
    [18, 16, true],
    [11, 13, true],
    [11, 14, false],
    [30, 16, true],
  ];
  for (const [major, minor, ok] of table) {
    test(`pg_restore ${major} ${ok ? "reads" : "does not read"} format 1.${minor}`, () => {
      const r = parseArchiveHeader(header(minor));
      if (!r.ok) throw new Error(r.reason);
      expect(canRead(major, r.header)).toBe(ok);
    });
  }
  test("maxFormatMinor and majorOf", () => {
    expect(maxFormatMinor(14)).toBe(14);
    expect(maxFormatMinor(99)).toBe(Number.POSITIVE_INFINITY);
    expect(majorOf("15.20 (Debian 15.20-0+deb12u1)")).toBe(15);
    expect(majorOf("17.2")).toBe(17);
    expect(majorOf(null)).toBeNull();
  });
  test("isAgeFile and guessFileKind", () => {
    expect(isAgeFile(new TextEncoder().encode("age-encryption.org/v1\n"))).toBe(true);
    expect(isAgeFile(REAL_15)).toBe(false);
    expect(guessFileKind(new Uint8Array())).toBe("an empty file");
  });
});
