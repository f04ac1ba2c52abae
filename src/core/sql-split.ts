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

// Character codes, not a regular expression per character: the splitter reads every character of every migration.
const NL = 10, DQUOTE = 34, DOLLAR = 36, QUOTE = 39, STAR = 42, DASH = 45, SLASH = 47, SEMICOLON = 59, BACKSLASH = 92;
const isIdentStartCode = (k: number) => (k >= 97 && k <= 122) || (k >= 65 && k <= 90) || k === 95 || k >= 0x80;
const isIdentCode = (k: number) => isIdentStartCode(k) || (k >= 48 && k <= 57);

/** Line feeds in sql[from, to). */
function newlines(sql: string, from: number, to: number): number {
  let count = 0;
  for (let k = sql.indexOf("\n", from); k >= 0 && k < to; k = sql.indexOf("\n", k + 1)) count++;
  return count;
}

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
    const c = sql.charCodeAt(i);
    if (c === NL) line++;
    if (isIdentStartCode(c)) {
      // A whole word at once (a word ends before a $, as a dollar quote cannot start in a word).
      wordStart = i++;
      while (i < n && isIdentCode(sql.charCodeAt(i))) i++;
      endWord();
      continue;
    }
    const next = sql.charCodeAt(i + 1);
    if (c === DASH && next === DASH) {
      const nl = sql.indexOf("\n", i);
      i = nl < 0 ? n : nl;
      continue;
    }
    if (c === SLASH && next === STAR) {
      const startLine = line;
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        const k = sql.charCodeAt(i);
        if (k === NL) line++;
        if (k === SLASH && sql.charCodeAt(i + 1) === STAR) (depth++, (i += 2));
        else if (k === STAR && sql.charCodeAt(i + 1) === SLASH) (depth--, (i += 2));
        else i++;
      }
      if (depth > 0) throw new SqlSplitError("unterminated /* comment", startLine);
      continue;
    }
    if (c === QUOTE) {
      const e = sql.charCodeAt(i - 1);
      const escapes = i > 0 && (e === 101 || e === 69) && (i < 2 || !isIdentCode(sql.charCodeAt(i - 2)));
      const startLine = line;
      i++;
      for (;;) {
        if (i >= n) throw new SqlSplitError("unterminated string literal", startLine);
        const ch = sql.charCodeAt(i);
        if (ch === NL) line++;
        if (escapes && ch === BACKSLASH) { i += 2; continue; }
        if (ch === QUOTE) {
          if (sql.charCodeAt(i + 1) === QUOTE) { i += 2; continue; }
          i++;
          break;
        }
        i++;
      }
      continue;
    }
    if (c === DQUOTE) {
      const startLine = line;
      i++;
      for (;;) {
        if (i >= n) throw new SqlSplitError("unterminated quoted identifier", startLine);
        const ch = sql.charCodeAt(i);
        if (ch === NL) line++;
        if (ch === DQUOTE) {
          if (sql.charCodeAt(i + 1) === DQUOTE) { i += 2; continue; }
          i++;
          break;
        }
        i++;
      }
      continue;
    }
    if (c === DOLLAR && !(i > 0 && isIdentCode(sql.charCodeAt(i - 1)))) {
      const m = /^\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(sql.slice(i, i + 64));
      if (m) {
        const tag = m[0];
        const startLine = line;
        const close = sql.indexOf(tag, i + tag.length);
        if (close < 0) throw new SqlSplitError(`unterminated dollar-quoted string ${tag}`, startLine);
        line += newlines(sql, i, close);
        i = close + tag.length;
        continue;
      }
    }
    if (c === BACKSLASH) {
      // Never valid SQL outside a string: a psql meta-command (\i, \set, \copy, \gset...).
      const name = /^\\[A-Za-z!?.]*/.exec(sql.slice(i, i + 32))![0];
      throw new SqlSplitError(
        `psql meta-command "${name}" is not SQL: migrations go to the server as written (inline what \\i includes, write values for \\set variables, use COPY ... FROM stdin for \\copy)`,
        line,
      );
    }
    if (c === SEMICOLON && atomicDepth === 0) {
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
        line += newlines(sql, i, end);
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
    const c = text.charCodeAt(i);
    const next = text.charCodeAt(i + 1);
    if (c === DASH && next === DASH) {
      const nl = text.indexOf("\n", i);
      i = nl < 0 ? n : nl + 1;
    } else if (c === SLASH && next === STAR) {
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        const k = text.charCodeAt(i);
        if (k === SLASH && text.charCodeAt(i + 1) === STAR) (depth++, (i += 2));
        else if (k === STAR && text.charCodeAt(i + 1) === SLASH) (depth--, (i += 2));
        else i++;
      }
    } else if (c === QUOTE || c === DQUOTE) {
      const e = text.charCodeAt(i - 1);
      const escapes = c === QUOTE && i > 0 && (e === 101 || e === 69);
      i++;
      while (i < n) {
        const k = text.charCodeAt(i);
        if (escapes && k === BACKSLASH) i += 2;
        else if (k === c && text.charCodeAt(i + 1) === c) i += 2;
        else if (k === c) break;
        else i++;
      }
      i++;
    } else if (c === DOLLAR && !(i > 0 && isIdentCode(text.charCodeAt(i - 1)))) {
      const m = /^\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(text.slice(i, i + 64));
      if (!m) i++;
      else {
        const close = text.indexOf(m[0], i + m[0].length);
        i = close < 0 ? n : close + m[0].length;
      }
    } else if (isIdentStartCode(c)) {
      let j = i + 1;
      for (let k = text.charCodeAt(j); j < n && (isIdentCode(k) || k === DOLLAR); k = text.charCodeAt(++j));
      // The letter before a quote is a prefix (E'', U&''), not a word.
      const after = text.charCodeAt(j);
      if (after !== QUOTE && !(after === 38 && text.charCodeAt(j + 1) === QUOTE)) words.push(text.slice(i, j).toLowerCase());
      i = j;
    } else i++;
  }
  return words;
}
