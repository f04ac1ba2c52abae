// The diff check and verify show for a changed view, function, trigger or policy.

import { describe, expect, test } from "bun:test";
import { renderFindings } from "../../src/catalog/diff.ts";
import { unifiedDiff } from "../../src/core/line-diff.ts";

const body = (n: number, changed: Record<number, string> = {}) =>
  Array.from({ length: n }, (_, i) => changed[i] ?? `  select ${i} as c${i},`).join("\n");

describe("unifiedDiff", () => {
  test("one changed line in a 40-line definition: only that line and its context", () => {
    const d = unifiedDiff(body(40), body(40, { 20: "  select 20 as renamed," }));
    expect(d).toEqual([
      "--- expected",
      "+++ found",
      "@@ -19,5 +19,5 @@",
      "   select 18 as c18,",
      "   select 19 as c19,",
      "-  select 20 as c20,",
      "+  select 20 as renamed,",
      "   select 21 as c21,",
      "   select 22 as c22,",
    ]);
  });

  test("changes far apart are separate hunks with their own line numbers; an added line shifts the found side", () => {
    const found = body(40, { 2: "  select 2 as x,", 35: "  select 35 as y,\n  select 'new' as z," });
    const d = unifiedDiff(body(40), found);
    expect(d.filter((l) => l.startsWith("@@"))).toEqual(["@@ -1,5 +1,5 @@", "@@ -34,5 +34,6 @@"]);
    expect(d.filter((l) => /^[-+] /.test(l))).toEqual(["-  select 2 as c2,", "+  select 2 as x,", "-  select 35 as c35,", "+  select 35 as y,", "+  select 'new' as z,"]);
  });

  test("whitespace-only differences are not shown; identical texts give no diff", () => {
    expect(unifiedDiff("select 1\n  from t", "select   1\nfrom t  ")).toEqual([]);
    expect(unifiedDiff("a\nb\nc", "a\nB\nc", { context: 0 })).toEqual(["--- expected", "+++ found", "@@ -2,1 +2,1 @@", "-b", "+B"]);
  });

  test("a long diff is cut with the number of lines left out", () => {
    const d = unifiedDiff(body(200), body(200, Object.fromEntries(Array.from({ length: 200 }, (_, i) => [i, `x${i}`]))), { maxLines: 20 });
    expect(d.length).toBe(21);
    expect(d[20]).toMatch(/^… \d+ more lines of the diff$/);
  });
});

describe("renderFindings", () => {
  test("a changed view, function, trigger and policy each come with the diff of their definitions", () => {
    const text = renderFindings([
      { kind: "changed", type: "view", name: "public.v", group: "public.v", attribute: "definition", expected: " SELECT a,\n    b\n   FROM t;", actual: " SELECT a,\n    c\n   FROM t;" },
      { kind: "changed", type: "function", name: "public.f()", group: "public.f()", attribute: "definition", expected: "begin\n  return 1;\nend", actual: "begin\n  return 2;\nend" },
      { kind: "changed", type: "trigger", name: "public.t.tr", group: "public.t", attribute: "definition", expected: "CREATE TRIGGER tr BEFORE UPDATE ON public.t", actual: "CREATE TRIGGER tr AFTER UPDATE ON public.t" },
      { kind: "changed", type: "policy", name: "public.t.p", group: "public.t", attribute: "definition", expected: "for select using (owner = current_user)", actual: "for select using (true)" },
    ]);
    expect(text).toContain("  changed view: the definition differs\n    --- expected\n    +++ found\n    @@ -1,3 +1,3 @@\n      SELECT a,\n    -    b\n    +    c\n        FROM t;");
    expect(text).toContain("changed function: the body differs");
    expect(text).toContain("    -  return 1;\n    +  return 2;");
    expect(text).toContain("  changed trigger tr: the definition differs");
    expect(text).toContain("    -CREATE TRIGGER tr BEFORE UPDATE ON public.t\n    +CREATE TRIGGER tr AFTER UPDATE ON public.t");
    expect(text).toContain("    -for select using (owner = current_user)\n    +for select using (true)");
  });
});
