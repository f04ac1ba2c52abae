// A unified diff of two texts, line by line, trimmed to the changed lines and a
// little context: what `check` and `verify` show for a view, function, trigger or
// policy whose definition differs, instead of two long definitions to compare by eye.

type Op = { kind: " " | "-" | "+"; line: string };

/** Longest-common-subsequence edit script; definitions are small (hundreds of lines at most). */
function editScript(a: string[], b: string[]): Op[] {
  // Lines are compared without their whitespace, as the catalog comparison does.
  const key = (l: string) => l.trim().replace(/\s+/g, " ");
  const ka = a.map(key);
  const kb = b.map(key);
  // Common prefix and suffix first: most changes touch a few lines of a long body.
  let start = 0;
  while (start < a.length && start < b.length && ka[start] === kb[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && ka[endA - 1] === kb[endB - 1]) {
    endA--;
    endB--;
  }
  const x = ka.slice(start, endA);
  const y = kb.slice(start, endB);
  const xs = a.slice(start, endA);
  const ys = b.slice(start, endB);
  const n = x.length;
  const m = y.length;
  const lcs: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) lcs[i]![j] = x[i] === y[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const ops: Op[] = a.slice(0, start).map((line) => ({ kind: " ", line }));
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && x[i] === y[j]) {
      ops.push({ kind: " ", line: ys[j]! });
      i++;
      j++;
    } else if (i < n && (j === m || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) ops.push({ kind: "-", line: xs[i++]! });
    else ops.push({ kind: "+", line: ys[j++]! });
  }
  for (const line of a.slice(endA)) ops.push({ kind: " ", line });
  return ops;
}

const lines = (s: string) => s.replace(/\r\n/g, "\n").replace(/\s+$/, "").split("\n").map((l) => l.replace(/\s+$/, ""));

/**
 * `--- expected` / `+++ found` and the changed lines with `context` lines around
 * them; runs of unchanged lines between hunks are elided as `@@ … @@` headers with
 * line numbers (of the expected text and the found text), as `diff -u` does.
 */
export function unifiedDiff(expected: string, found: string, opts: { context?: number; maxLines?: number } = {}): string[] {
  const context = opts.context ?? 2;
  const maxLines = opts.maxLines ?? 60;
  const ops = editScript(lines(expected), lines(found));
  const changed = ops.map((o, k) => (o.kind !== " " ? k : -1)).filter((k) => k >= 0);
  if (!changed.length) return [];
  // Group changed positions into hunks whose context windows touch.
  const hunks: [number, number][] = [];
  for (const k of changed) {
    const from = Math.max(0, k - context);
    const to = Math.min(ops.length - 1, k + context);
    const last = hunks[hunks.length - 1];
    if (last && from <= last[1] + 1) last[1] = to;
    else hunks.push([from, to]);
  }
  // Line numbers at each op, in both texts.
  const posA: number[] = [];
  const posB: number[] = [];
  let na = 1;
  let nb = 1;
  for (const o of ops) {
    posA.push(na);
    posB.push(nb);
    if (o.kind !== "+") na++;
    if (o.kind !== "-") nb++;
  }
  const out = ["--- expected", "+++ found"];
  for (const [from, to] of hunks) {
    const slice = ops.slice(from, to + 1);
    const lenA = slice.filter((o) => o.kind !== "+").length;
    const lenB = slice.filter((o) => o.kind !== "-").length;
    out.push(`@@ -${posA[from]},${lenA} +${posB[from]},${lenB} @@`);
    for (const o of slice) out.push(`${o.kind}${o.line}`);
  }
  if (out.length > maxLines) return [...out.slice(0, maxLines), `… ${out.length - maxLines} more lines of the diff`];
  return out;
}
