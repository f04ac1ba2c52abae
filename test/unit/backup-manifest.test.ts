// The manifest: names, round trip, and every way an untrusted manifest is refused.

import { describe, expect, test } from "bun:test";
import {
  archiveName,
  backupStem,
  isPartialName,
  lastVerification,
  manifestName,
  parseManifest,
  partialName,
  serialiseManifest,
  stampOf,
  stemOf,
  type Manifest,
} from "../../src/backup/manifest.ts";

const SHA = "a".repeat(64);
function sampleManifest(over: Partial<Manifest> = {}): Manifest {
  return {
    format: "pgship-backup/1",
    app: "pgship",
    appVersion: "0.1.0",
    database: "app",
    schemaVersion: "20250415120000",
    server: { version: "15.8", versionNum: 150008 },
    pgDump: { version: "15.8", major: 15 },
    archive: { file: "app-20250601T020000Z.dump", format: "custom", compression: "gzip", bytes: 10, sha256: SHA, plainBytes: 10, plainSha256: SHA },
    databaseBytes: 8_000_000,
    encryption: null,
    createdAt: "2025-06-01T02:00:00.000Z",
    durationMs: 1200,
    verified: [{ at: "2025-06-01T02:00:01.000Z", how: "readback" }],
    ...over,
  };
}

describe("names", () => {
  test("stems are sortable UTC times with a safe database name", () => {
    const d = new Date("2025-06-01T02:03:04.567Z");
    expect(stampOf(d)).toBe("20250601T020304Z");
    expect(backupStem("app", d)).toBe("app-20250601T020304Z");
    expect(backupStem("my app/prod", d, 2)).toBe("my_app_prod-20250601T020304Z-2");
    expect(backupStem("..hidden", d)).toBe("_hidden-20250601T020304Z");
    expect(archiveName("s", false)).toBe("s.dump");
    expect(archiveName("s", true)).toBe("s.dump.age");
    expect(manifestName("s")).toBe("s.manifest.json");
  });
  test("stemOf recognises archives and manifests only", () => {
    expect(stemOf("app-1.dump")).toBe("app-1");
    expect(stemOf("app-1.dump.age")).toBe("app-1");
    expect(stemOf("app-1.manifest.json")).toBe("app-1");
    expect(stemOf("notes.txt")).toBeNull();
    expect(stemOf(".dump")).toBeNull();
  });
  test("partial files are hidden and recognisable", () => {
    const p = partialName("app-1.dump.age", 123, "9f00ab");
    expect(p).toBe(".app-1.dump.age.partial-123-9f00ab");
    expect(isPartialName(p)).toBe(true);
    expect(stemOf(p)).toBeNull();
    expect(isPartialName("app-1.dump")).toBe(false);
  });
});

describe("parseManifest", () => {
  test("round trip", () => {
    const m = sampleManifest({ encryption: { tool: "age", mode: "recipients", recipients: ["age1abc"] }, archive: { ...sampleManifest().archive, file: "a.dump.age", bytes: 99, sha256: "b".repeat(64) } });
    expect(parseManifest(serialiseManifest(m))).toEqual({ ok: true, manifest: m });
  });

  const bad: [string, string, RegExp][] = [
    ["not JSON", "{", /not JSON/],
    ["an array", "[]", /not a JSON object/],
    ["another tool's JSON", JSON.stringify({ name: "x" }), /not a pgship backup manifest/],
    ["a newer format", JSON.stringify({ ...sampleManifest(), format: "pgship-backup/2" }), /newer than this binary/],
    ["archive outside the directory", JSON.stringify(sampleManifest({ archive: { ...sampleManifest().archive, file: "../etc/passwd" } })), /plain file name/],
    ["a hidden archive name", JSON.stringify(sampleManifest({ archive: { ...sampleManifest().archive, file: ".x.dump" } })), /plain file name/],
    ["a short sha256", JSON.stringify(sampleManifest({ archive: { ...sampleManifest().archive, sha256: "abc" } })), /sha256 must be 64 hex/],
    ["negative size", JSON.stringify(sampleManifest({ archive: { ...sampleManifest().archive, bytes: -1 } })), /whole numbers/],
    ["bad schema version", JSON.stringify(sampleManifest({ schemaVersion: "v1" })), /14-digit/],
    ["bad date", JSON.stringify(sampleManifest({ createdAt: "yesterday" })), /ISO date/],
    ["unknown encryption", JSON.stringify({ ...sampleManifest(), encryption: { tool: "gpg" } }), /encryption must be/],
    ["encrypted name without encryption", JSON.stringify(sampleManifest({ archive: { ...sampleManifest().archive, file: "a.dump.age" } })), /ends in .age/],
    ["encryption with a plain name", JSON.stringify(sampleManifest({ encryption: { tool: "age", mode: "passphrase", scryptWorkFactor: 16 } })), /does not end in .dump.age/],
    ["plain archive whose hashes differ", JSON.stringify(sampleManifest({ archive: { ...sampleManifest().archive, plainSha256: "c".repeat(64) } })), /bytes = plainBytes/],
  ];
  for (const [name, text, re] of bad) {
    test(`refuses ${name}`, () => {
      const r = parseManifest(text);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.problems.join("\n")).toMatch(re);
    });
  }

  test("all problems are reported together", () => {
    const r = parseManifest(JSON.stringify({ ...sampleManifest(), app: "", database: "", durationMs: "x" }));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems.length).toBe(3);
  });
});

test("lastVerification prefers a test restore", () => {
  const m = sampleManifest({
    verified: [
      { at: "2025-06-01T02:00:01.000Z", how: "readback" },
      { at: "2025-06-02T02:00:01.000Z", how: "test-restore" },
      { at: "2025-06-03T02:00:01.000Z", how: "readback" },
    ],
  });
  expect(lastVerification(m)).toEqual({ at: "2025-06-02T02:00:01.000Z", how: "test-restore" });
  expect(lastVerification(sampleManifest({ verified: [] }))).toBeNull();
});

describe("pins", () => {
  test("a manifest written before pins existed is read as not pinned; a pin round-trips", () => {
    const old = parseManifest(serialiseManifest(sampleManifest()));
    expect(old.ok && old.manifest.pinned).toBeUndefined();
    const pinned = sampleManifest({ pinned: { reason: "pre-update", at: "2025-06-01T02:00:02.000Z" } });
    const back = parseManifest(serialiseManifest(pinned));
    expect(back.ok && back.manifest.pinned).toEqual({ reason: "pre-update", at: "2025-06-01T02:00:02.000Z" });
    expect(parseManifest(serialiseManifest(sampleManifest({ pinned: null }))).ok).toBe(true);
  });

  test("a malformed pin is refused", () => {
    for (const pinned of [{ reason: "forever", at: "2025-06-01T02:00:02.000Z" }, { reason: "manual" }, "yes"]) {
      const r = parseManifest(JSON.stringify({ ...sampleManifest(), pinned }));
      expect(r.ok ? [] : r.problems).toEqual(["pinned must be null or {reason: pre-update|manual, at}"]);
    }
  });
});
