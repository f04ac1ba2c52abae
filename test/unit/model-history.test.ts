// The per-version model file: deltas rebuild every version exactly, the text is
// stable, and the older head-only format is read as "head only".

import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { applyChanges, buildHistory, diffTree, parseModelHistory, serializeHistory } from "../../src/catalog/model-history.ts";
import { emptyModel, stableStringify, type Model } from "../../src/catalog/model.ts";

const col = (type: string) => ({ type, notNull: false, default: null, identity: "", generated: "", collation: null });
const table = (columns: Record<string, ReturnType<typeof col>>) => ({ kind: "r", partitionKey: null, partitionOf: null, rowSecurity: false, forceRowSecurity: false, columns, constraints: {}, indexes: {}, triggers: {}, policies: {} });

const v1: Model = { ...emptyModel(15), schemas: ["public"], tables: { "public.a": table({ id: col("integer"), constructor: col("text") }) } };
const v2: Model = { ...v1, tables: { "public.a": table({ id: col("bigint"), ["__proto__"]: col("text") }), "public.b": table({}) }, enums: { "public.e": ["x", "y"] } };
const v3: Model = { ...v2, tables: { "public.b": table({}) } };
const versions = [
  { version: "20250101000000", model: v1 },
  { version: "20250102000000", model: JSON.parse(JSON.stringify(v2)) as Model },
  { version: "20250103000000", model: v3 },
];

test("every version is rebuilt exactly from the deltas, odd keys included", () => {
  const h = parseModelHistory(serializeHistory(buildHistory(versions)), "x.json");
  expect(h.perVersion).toBe(true);
  expect(h.versions).toEqual(versions.map((v) => v.version));
  for (const v of versions) {
    expect(stableStringify(h.rebuild(v.version))).toBe(stableStringify(v.model));
    expect(stableStringify(h.modelAt(v.version))).toBe(stableStringify(v.model));
  }
  expect(h.modelAt("20250104000000")).toBeNull();
  expect(Object.getPrototypeOf(h.rebuild("20250102000000")!.tables["public.a"]!.columns)).toBe(Object.prototype);
});

test("a delta names only what changed", () => {
  expect(diffTree(v2, v3)).toEqual([{ delete: ["tables", "public.a"] }]);
  expect(diffTree(v1, v1)).toEqual([]);
  expect(applyChanges(v2, diffTree(v2, v3))).toEqual(v3);
});

test("the text is stable and the older head-only format is read as the head only", () => {
  const text = serializeHistory(buildHistory(versions));
  expect(serializeHistory(buildHistory(versions))).toBe(text);
  const legacy = parseModelHistory(JSON.stringify({ version: "20250103000000", model: v3 }), "old.json");
  expect(legacy.perVersion).toBe(false);
  expect(legacy.has("20250102000000")).toBe(false);
  expect(legacy.modelAt("20250103000000")).toEqual(v3);
  expect(() => parseModelHistory("{", "bad.json")).toThrow("bad.json is not valid JSON");
  expect(() => parseModelHistory(JSON.stringify({ format: 3, version: "1", model: v1 }), "new.json")).toThrow("format this binary does not read");
});

test("the repository's model file describes every migration and stays small", () => {
  const root = join(import.meta.dir, "../..");
  const text = readFileSync(join(root, "schema.model.json"), "utf8");
  const h = parseModelHistory(text, "schema.model.json");
  expect(h.versions).toHaveLength(8);
  expect(stableStringify(h.rebuild(h.head))).toBe(stableStringify(h.headModel));
  // The deltas cost about as much as the head model itself, not one full model per version.
  expect(text.length).toBeLessThan(3 * stableStringify(h.headModel).length);
});
