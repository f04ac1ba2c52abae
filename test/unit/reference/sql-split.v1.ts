// The statement splitter as it was before it streamed (a list built in one go),
// kept verbatim as the reference the streaming one must match statement for
// statement. Test-only.

export interface Statement {
  /** The statement text without its terminating semicolon, trimmed. */
  text: string;
  /** Offset of the first character of `text` in the input. */
  offset: number;
  /** 1-based line of `offset` in the input. */
  line: number;
}

export class SqlSplitError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
  }
}

const isIdentStart = (c: string) => /[A-Za-z_\u0080-\uffff]/.test(c);
const isIdentChar = (c: string) => /[A-Za-z0-9_\u0080-\uffff]/.test(c);

export function splitStatements(sql: string): Statement[] {
  const out: Statement[] = [];
  let start = 0;
  let line = 1;
  let i = 0;
  const n = sql.length;
  let atomicDepth = 0; // inside CREATE FUNCTION ... BEGIN ATOMIC ... END
  let word = "";
  let prevWord = "";

  let startLine = 1; // line of `start`, kept as we go: rescanning from 0 would be quadratic
  const push = (end: number) => {
    const raw = sql.slice(start, end);
    const lead = raw.length - raw.trimStart().length;
    const text = raw.trim();
    if (text && !isOnlyComments(text)) {
      const offset = start + lead;
      out.push({ text, offset, line: startLine + lineAt(raw, lead) - 1 });
    }
  };

  const endWord = () => {
    if (!word) return;
    const w = word.toLowerCase();
    if (prevWord === "begin" && w === "atomic") atomicDepth++;
    else if (atomicDepth > 0 && (w === "case")) atomicDepth++;
    else if (atomicDepth > 0 && w === "end") atomicDepth--;
    prevWord = w;
    word = "";
  };

  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (c === "\n") line++;
    if (c === "-" && next === "-") {
      endWord();
      while (i < n && sql[i] !== "\n") i++;
      continue;
    }
    if (c === "/" && next === "*") {
      endWord();
      const startLine = line;
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (sql[i] === "\n") line++;
        if (sql[i] === "/" && sql[i + 1] === "*") (depth++, (i += 2));
        else if (sql[i] === "*" && sql[i + 1] === "/") (depth--, (i += 2));
        else i++;
      }
      if (depth > 0) throw new SqlSplitError("unterminated /* comment", startLine);
      continue;
    }
    if (c === "'" ) {
      endWord();
      const escapes = i > 0 && /[eE]/.test(sql[i - 1]!) && (i < 2 || !isIdentChar(sql[i - 2]!));
      const startLine = line;
      i++;
      for (;;) {
        if (i >= n) throw new SqlSplitError("unterminated string literal", startLine);
        const ch = sql[i]!;
        if (ch === "\n") line++;
        if (escapes && ch === "\\") { i += 2; continue; }
        if (ch === "'") {
          if (sql[i + 1] === "'") { i += 2; continue; }
          i++;
          break;
        }
        i++;
      }
      continue;
    }
    if (c === '"') {
      endWord();
      const startLine = line;
      i++;
      for (;;) {
        if (i >= n) throw new SqlSplitError("unterminated quoted identifier", startLine);
        const ch = sql[i]!;
        if (ch === "\n") line++;
        if (ch === '"') {
          if (sql[i + 1] === '"') { i += 2; continue; }
          i++;
          break;
        }
        i++;
      }
      continue;
    }
    if (c === "$" && !(i > 0 && isIdentChar(sql[i - 1]!) )) {
      const m = /^\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(sql.slice(i, i + 64));
      if (m) {
        endWord();
        const tag = m[0];
        const startLine = line;
        const close = sql.indexOf(tag, i + tag.length);
        if (close < 0) throw new SqlSplitError(`unterminated dollar-quoted string ${tag}`, startLine);
        for (let k = i; k < close; k++) if (sql[k] === "\n") line++;
        i = close + tag.length;
        continue;
      }
    }
    if (isIdentStart(c) || (word && isIdentChar(c))) {
      word += c;
      i++;
      continue;
    }
    endWord();
    if (c === ";" && atomicDepth === 0) {
      push(i);
      start = i + 1;
      startLine = line;
    }
    i++;
  }
  endWord();
  push(n);
  return out;
}

function isOnlyComments(text: string): boolean {
  return text.replace(/--[^\n]*/g, "").replace(/\/\*[\s\S]*?\*\//g, "").trim() === "";
}

export function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let k = 0; k < offset && k < text.length; k++) if (text.charCodeAt(k) === 10) line++;
  return line;
}

/** The first keyword(s) of a statement, lower-cased, comments skipped. */
export function leadingWords(text: string, count = 3): string[] {
  const cleaned = text.replace(/--[^\n]*/g, " ").replace(/\/\*[\s\S]*?\*\//g, " ");
  return cleaned.trim().split(/\s+/).slice(0, count).map((w) => w.toLowerCase().replace(/;$/, ""));
}
