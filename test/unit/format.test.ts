import { describe, expect, test } from "bun:test";
import { formatBytes, plural, quoteIdent, quoteLiteral } from "../../src/core/format.ts";
import { backoff } from "../../src/core/cancel.ts";

describe("format", () => {
  test("bytes: exact under 1 KiB, then two significant decimals under 10, one above", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1023)).toBe("1023 B");
    expect(formatBytes(1536)).toBe("1.50 KiB");
    expect(formatBytes(15 * 1024 * 1024)).toBe("15.0 MiB");
    expect(formatBytes(3 * 1024 ** 5)).toBe("3072.0 TiB");
  });
  test("plural", () => {
    expect(plural(1, "session")).toBe("1 session");
    expect(plural(0, "session")).toBe("0 sessions");
    expect(plural(2, "pending migration")).toBe("2 pending migrations");
  });
  test("identifiers and literals are quoted with their quotes doubled", () => {
    expect(quoteIdent('we"ird')).toBe('"we""ird"');
    expect(quoteLiteral("it's")).toBe("'it''s'");
  });
});

describe("backoff: the one delay schedule of every retry loop", () => {
  test("grows by the factor from the first delay and stops at the cap", () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => backoff(n, { first: 250, factor: 2, max: 5000 }))).toEqual([250, 500, 1000, 2000, 4000, 5000]);
    expect([1, 2, 3, 4, 8, 9].map((n) => backoff(n, { first: 50, factor: 1.6, max: 1000 }))).toEqual([50, 80, 128, 205, 1000, 1000]);
  });
  test("jitter stays within the spread", () => {
    for (let i = 0; i < 200; i++) {
      const d = backoff(3, { first: 1000, factor: 2, max: 30_000, jitter: 0.25 });
      expect(d).toBeGreaterThanOrEqual(3000);
      expect(d).toBeLessThanOrEqual(5000);
    }
  });
});
