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

/** Every statement, as a list. Prefer `statements()` for large texts: it holds one statement at a time. */
export function splitStatements(sql: string): Statement[] {
  return [...statements(sql)];
}

/**
 * The statements of `sql`, one at a time, in order. Each is a slice of the input
 * (no other copy is made), and nothing is kept of the ones already yielded, so a
 * caller that runs them as they come holds the input plus one statement.
 * Throws SqlSplitError at the first unterminated string, identifier, comment or
 * dollar quote; the statements before it have been yielded by then.
 */
export function* statements(sql: string): Generator<Statement, void, undefined> {
  let start = 0;
  let line = 1;
  let i = 0;
  const n = sql.length;
  let atomicDepth = 0; // inside CREATE FUNCTION ... BEGIN ATOMIC ... END
  let wordStart = -1; // index of the identifier being read, or -1
  let prevWord = "";
  let words = 0; // of the current statement
  let isCopy = false; // the statement starts with COPY
  let copyFromStdin = false;

  let startLine = 1; // line of `start`, kept as we go: rescanning from 0 would be quadratic
  /** The statement between `start` and `end`, or null when there is only whitespace and comments. */
  const statementAt = (end: number): Statement | null => {
    const raw = sql.slice(start, end);
    const lead = raw.length - raw.trimStart().length;
    const text = raw.trim();
    if (!text || isOnlyComments(text)) return null;
    return { text, offset: start + lead, line: startLine + lineAt(raw, lead) - 1 };
  };

  // Only begin, atomic, case and end matter: a longer word is never copied out.
  const endWord = () => {
    if (wordStart < 0) return;
    const w = i - wordStart <= 6 ? sql.slice(wordStart, i).toLowerCase() : "";
    if (words++ === 0) isCopy = w === "copy";
    else if (isCopy && prevWord === "from" && w === "stdin") copyFromStdin = true;
    if (prevWord === "begin" && w === "atomic") atomicDepth++;
    else if (atomicDepth > 0 && (w === "case")) atomicDepth++;
    else if (atomicDepth > 0 && w === "end") atomicDepth--;
    prevWord = w;
    wordStart = -1;
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
    if (wordStart >= 0 ? isIdentChar(c) : isIdentStart(c)) {
      if (wordStart < 0) wordStart = i;
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
      const st = statementAt(i);
      start = i + 1;
      startLine = line;
      words = 0;
      isCopy = false;
      prevWord = "";
      if (copyFromStdin && st) {
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
        st.copyData = sql.slice(dataStart, end);
        for (let k = i; k < end; k++) if (sql.charCodeAt(k) === 10) line++;
        i = end + 2;
        start = i;
        startLine = line;
        yield st;
        continue;
      }
      if (st) yield st;
    }
    i++;
  }
  endWord();
  const last = statementAt(n);
  if (last) yield last;
}

function isOnlyComments(text: string): boolean {
  // `text` is trimmed: a first character that cannot open a comment settles it without copying.
  const c = text.charCodeAt(0);
  if (c !== 45 && c !== 47) return false;
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
