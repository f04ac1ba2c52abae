// Splits SQL text into statements the way the server would see them: semicolons
// inside strings, quoted identifiers, dollar-quoted bodies and comments do not
// count. Used for `transaction:false` migrations (each statement must be its own
// round trip, or the server wraps them in one implicit transaction) and for lint
// rules. Pure; positions are kept so errors can point at file lines.

export interface Statement {
  /** The statement text without its terminating semicolon, trimmed. */
  text: string;
  /** Offset of the first character of `text` in the input. */
  offset: number;
  /** 1-based line of `offset` in the input. */
  line: number;
  /** For `COPY ... FROM stdin`: the data lines that follow it, up to (not including) the `\.` line. */
  copyData?: string;
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
  let firstWord = ""; // of the current statement
  let copyFromStdin = false;

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
    if (!firstWord) firstWord = w;
    if (firstWord === "copy" && prevWord === "from" && w === "stdin") copyFromStdin = true;
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
    if (c === "\\") {
      // Never valid SQL outside a string: a psql meta-command (\i, \set, \copy, \gset...).
      const name = /^\\[A-Za-z!?.]*/.exec(sql.slice(i, i + 32))![0];
      throw new SqlSplitError(
        `psql meta-command "${name}" is not SQL: migrations go to the server as written (inline what \\i includes, write values for \\set variables, use COPY ... FROM stdin for \\copy)`,
        line,
      );
    }
    if (c === ";" && atomicDepth === 0) {
      push(i);
      start = i + 1;
      startLine = line;
      firstWord = "";
      prevWord = "";
      if (copyFromStdin) {
        // psql's inline data: from the next line up to a line holding only "\.".
        copyFromStdin = false;
        const eol = sql.indexOf("\n", i);
        const dataStart = eol < 0 ? n : eol + 1;
        let end = dataStart;
        while (!(sql.startsWith("\\.", end) && (end + 2 === n || sql[end + 2] === "\n" || sql[end + 2] === "\r"))) {
          const nl = sql.indexOf("\n", end);
          if (nl < 0) throw new SqlSplitError('COPY ... FROM stdin without its data ending in a line "\\."', line);
          end = nl + 1;
        }
        out[out.length - 1]!.copyData = sql.slice(dataStart, end);
        for (let k = i; k < end; k++) if (sql.charCodeAt(k) === 10) line++;
        i = end + 2;
        start = i;
        startLine = line;
        continue;
      }
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

/**
 * The words of one statement that the server parses as keywords or names, lower-cased:
 * comments, string literals, quoted identifiers and dollar-quoted bodies are skipped,
 * so a function body that mentions CONCURRENTLY or COMMIT does not count.
 */
export function topLevelWords(text: string, max = 64): string[] {
  const words: string[] = [];
  const n = text.length;
  let i = 0;
  while (i < n && words.length < max) {
    const c = text[i]!;
    const next = text[i + 1];
    if (c === "-" && next === "-") {
      const nl = text.indexOf("\n", i);
      i = nl < 0 ? n : nl + 1;
    } else if (c === "/" && next === "*") {
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (text[i] === "/" && text[i + 1] === "*") (depth++, (i += 2));
        else if (text[i] === "*" && text[i + 1] === "/") (depth--, (i += 2));
        else i++;
      }
    } else if (c === "'" || c === '"') {
      const escapes = c === "'" && i > 0 && /[eE]/.test(text[i - 1]!);
      i++;
      while (i < n) {
        if (escapes && text[i] === "\\") i += 2;
        else if (text[i] === c && text[i + 1] === c) i += 2;
        else if (text[i] === c) break;
        else i++;
      }
      i++;
    } else if (c === "$" && !(i > 0 && isIdentChar(text[i - 1]!))) {
      const m = /^\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(text.slice(i, i + 64));
      if (!m) i++;
      else {
        const close = text.indexOf(m[0], i + m[0].length);
        i = close < 0 ? n : close + m[0].length;
      }
    } else if (isIdentStart(c)) {
      let j = i + 1;
      while (j < n && (isIdentChar(text[j]!) || text[j] === "$")) j++;
      // The letter before a quote is a prefix (E'', U&''), not a word.
      if (text[j] !== "'" && !(text[j] === "&" && text[j + 1] === "'")) words.push(text.slice(i, j).toLowerCase());
      i = j;
    } else i++;
  }
  return words;
}
