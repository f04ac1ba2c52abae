import { describe, expect, test } from "bun:test";
import { formatBytes, plural, quoteIdent, quoteLiteral } from "../../src/core/format.ts";

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
