// The migration file format: `<14-digit UTC version>_<name>.sql` holding
// dbmate-compatible `-- migrate:up` / `-- migrate:down` sections, with options on
// the marker line. Pure: a file's name and text in, a Migration or every problem
// with its line out.

import { createHash } from "node:crypto";
import { nativeSha256, type Sha256 } from "../runtime.ts";
import { MAX_DURATION_MS, parseDuration } from "./duration.ts";
import { MigrationFileError, type FileProblem } from "./errors.ts";
import { SqlSplitError, statements, topLevelWords, type Statement } from "./sql-split.ts";

export interface SectionOptions {
  /** false for `transaction:false`: each statement runs on its own. */
  transaction: boolean;
  lockTimeoutMs?: number;
  statementTimeoutMs?: number;
}

export interface Section {
  sql: string;
  /** 1-based file line of the section's first body line. */
  line: number;
  options: SectionOptions;
}

export interface Migration {
  version: string;
  name: string;
  /** File name, e.g. `20250115103000_create_users.sql`. */
  file: string;
  up: Section;
  /** null when the file has no down section: the migration cannot be rolled back. */
  down: Section | null;
  /** sha256 (hex) of the up section: what ran is what is compared. */
  checksum: string;
}

export const FILE_NAME = /^(\d{14})_([A-Za-z0-9][A-Za-z0-9_-]*)\.sql$/;
const MARKER = /^--\s*migrate:(\S*)(.*)$/;

/** Whitespace as String.prototype.trim sees it (without the line feed, which ends a line). */
function isTrimmed(c: number): boolean {
  return (c >= 9 && c <= 13 && c !== 10) || c === 32 || c === 160 || c === 5760 || (c >= 8192 && c <= 8202) || c === 8232 || c === 8233 || c === 8239 || c === 8287 || c === 12288 || c === 65279;
}

/** Line feeds in text[from, to). */
function newlinesIn(text: string, from: number, to: number): number {
  let count = 0;
  for (let k = text.indexOf("\n", from); k >= 0 && k < to; k = text.indexOf("\n", k + 1)) count++;
  return count;
}

const HASH_CHUNK = 1 << 18;

export function checksumOf(sql: string): string {
  const text = sql.replace(/\r\n/g, "\n").trim();
  const sha = (): Sha256 => nativeSha256() ?? createHash("sha256");
  if (text.length <= HASH_CHUNK) {
    const one = sha();
    one.update(text);
    return one.digest("hex");
  }
  // A big migration is hashed in slices encoded into one reused buffer, so it is not also
  // held as one UTF-8 copy. A slice never ends between the two halves of a surrogate
  // pair, so the digest is that of the whole text.
  const hash = sha();
  const buf = Buffer.allocUnsafe(HASH_CHUNK * 3);
  for (let i = 0; i < text.length; ) {
    let end = Math.min(i + HASH_CHUNK, text.length);
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end--;
    hash.update(buf.subarray(0, buf.write(text.slice(i, end), 0, "utf8")));
    i = end;
  }
  return hash.digest("hex");
}

/** A 14-digit version must also be a real UTC date and time. */
export function versionProblem(version: string): string | null {
  const [y, mo, d, h, mi, s] = [0, 4, 6, 8, 10, 12].map((i, k) => Number(version.slice(i, k === 0 ? 4 : i + 2)));
  const date = new Date(Date.UTC(y!, mo! - 1, d!, h!, mi!, s!));
  const ok =
    date.getUTCFullYear() === y && date.getUTCMonth() === mo! - 1 && date.getUTCDate() === d &&
    date.getUTCHours() === h && date.getUTCMinutes() === mi && date.getUTCSeconds() === s;
  return ok ? null : `version ${version} is not a valid UTC timestamp (YYYYMMDDHHMMSS)`;
}

export function parseMigrationFile(file: string, text: string): Migration {
  const problems: FileProblem[] = [];
  const problem = (line: number, message: string) => problems.push({ file, line, message });

  const nameMatch = FILE_NAME.exec(file);
  if (!nameMatch) {
    problem(1, "file name must be <14-digit UTC version>_<name>.sql, e.g. 20250115103000_create_users.sql");
  } else {
    const bad = versionProblem(nameMatch[1]!);
    if (bad) problem(1, bad);
  }
  if (text.includes("\0")) problem(1, "file contains a NUL byte (is it a binary file?)");
  if (text.includes("\uFFFD")) problem(1, "file is not valid UTF-8");

  // One pass over the lines without splitting the text: a big migration is held once,
  // and its sections are slices of it.
  const src = text.replace(/\r\n/g, "\n");
  type Marker = { kind: string; line: number; options: SectionOptions; start: number; after: number };
  const markers: Marker[] = [];
  let lineCount = 0;
  let firstCode = 0; // first line with something other than whitespace or a comment
  const marker = (line: number, start: number, end: number, m: RegExpExecArray) => {
    const kind = m[1]!;
    if (kind !== "up" && kind !== "down") {
      problem(line, `unknown section marker "migrate:${kind}" (expected migrate:up or migrate:down)`);
    } else {
      markers.push({ kind, line, options: parseOptions(m[2]!, (msg) => problem(line, msg)), start, after: Math.min(end + 1, src.length) });
    }
  };
  // Only the lines holding "migrate:" can be markers: those are found with indexOf, not by
  // visiting every line (a big history has hundreds of thousands).
  let lineStartOf = 0; // start of the line whose number is lineNo
  let lineNo = 1;
  let lastMarkerLine = -1;
  for (let hit = src.indexOf("migrate:"); hit >= 0; hit = src.indexOf("migrate:", hit + 8)) {
    const pos = src.lastIndexOf("\n", hit) + 1;
    if (pos === lastMarkerLine) continue;
    lastMarkerLine = pos;
    lineNo += newlinesIn(src, lineStartOf, pos);
    lineStartOf = pos;
    let end = src.indexOf("\n", hit);
    if (end < 0) end = src.length;
    let k = pos;
    while (k < end && isTrimmed(src.charCodeAt(k))) k++;
    if (src.startsWith("--", k)) {
      const m = MARKER.exec(src.slice(k, end).trim());
      if (m) marker(lineNo, pos, end, m);
    }
  }
  lineCount = lineNo + newlinesIn(src, lineStartOf, src.length);
  // The first line of code (not blank, not a comment), looked for only before the first marker.
  const stop = markers[0]?.start ?? src.length + 1;
  for (let pos = 0, line = 1; pos < stop && pos <= src.length; line++) {
    let end = src.indexOf("\n", pos);
    if (end < 0) end = src.length;
    let k = pos;
    while (k < end && isTrimmed(src.charCodeAt(k))) k++;
    if (k < end && !src.startsWith("--", k)) {
      firstCode = line;
      break;
    }
    pos = end + 1;
  }

  const ups = markers.filter((m) => m.kind === "up");
  const downs = markers.filter((m) => m.kind === "down");
  if (ups.length === 0) problem(1, "missing '-- migrate:up' section");
  if (ups.length > 1) problem(ups[1]!.line, `second '-- migrate:up' marker (first on line ${ups[0]!.line})`);
  if (downs.length > 1) problem(downs[1]!.line, `second '-- migrate:down' marker (first on line ${downs[0]!.line})`);
  if (ups[0] && downs[0] && downs[0].line < ups[0].line) {
    problem(downs[0].line, "'-- migrate:down' must come after '-- migrate:up'");
  }

  const first = markers[0]?.line ?? lineCount + 1;
  if (firstCode !== 0 && firstCode < first) problem(firstCode, "SQL before the '-- migrate:up' marker belongs to no section");

  // From the line after the marker to the end of the line before the next marker.
  const body = (m: Marker): Section => {
    const next = markers.find((x) => x.line > m.line);
    return { sql: src.slice(m.after, next ? next.start - 1 : src.length).trim(), line: m.line + 1, options: m.options };
  };

  const up = ups[0] ? body(ups[0]) : null;
  const down = downs[0] ? body(downs[0]) : null;
  if (up && problems.length === 0) {
    checkSection(up, "up", problem, true);
    if (down) checkSection(down, "down", problem, false);
  }

  if (problems.length > 0 || !nameMatch || !up) throw new MigrationFileError(problems);
  return {
    version: nameMatch[1]!,
    name: nameMatch[2]!,
    file,
    up,
    down,
    checksum: checksumOf(up.sql),
  };
}

function parseOptions(rest: string, problem: (msg: string) => void): SectionOptions {
  const options: SectionOptions = { transaction: true };
  const seen = new Set<string>();
  for (const token of rest.trim().split(/\s+/).filter(Boolean)) {
    const m = /^([a-z_]+):(.*)$/.exec(token);
    if (!m) {
      problem(`cannot read option "${token}" (expected key:value, e.g. transaction:false)`);
      continue;
    }
    const [, key, value] = m as unknown as [string, string, string];
    if (seen.has(key)) problem(`option "${key}" given twice`);
    seen.add(key);
    if (key === "transaction") {
      if (value !== "true" && value !== "false") problem(`transaction must be true or false, not "${value}"`);
      options.transaction = value !== "false";
    } else if (key === "lock_timeout" || key === "statement_timeout") {
      const ms = parseDuration(value);
      if (ms === null || ms <= 0 || ms > MAX_DURATION_MS) problem(`${key} must be a positive duration like 5s or 10min (at most 24d), not "${value}"`);
      else if (key === "lock_timeout") options.lockTimeoutMs = ms;
      else options.statementTimeoutMs = ms;
    } else {
      problem(`unknown option "${key}" (known: transaction, lock_timeout, statement_timeout)`);
    }
  }
  return options;
}

/**
 * Why a statement cannot run inside a transaction block, or null. Decided on the
 * statement's kind, from its words outside strings, comments and function bodies:
 * only the statements PostgreSQL itself refuses in a transaction block (PostgreSQL 13+).
 */
export function needsNoTransaction(text: string): string | null {
  const w = topLevelWords(text);
  const [a, b, c] = w;
  const has = (x: string) => w.includes(x);
  if (a === "create" && (b === "index" || (b === "unique" && c === "index")) && has("concurrently")) return "CREATE INDEX CONCURRENTLY";
  if (a === "drop" && b === "index" && c === "concurrently") return "DROP INDEX CONCURRENTLY";
  if (a === "reindex" && has("concurrently")) return "REINDEX ... CONCURRENTLY";
  if (a === "reindex" && (has("schema") || has("database") || has("system"))) return "REINDEX SCHEMA/DATABASE/SYSTEM";
  if (a === "alter" && b === "table" && has("detach") && has("partition") && has("concurrently")) return "DETACH PARTITION ... CONCURRENTLY";
  if (a === "vacuum") return "VACUUM";
  if (a === "cluster" && w.filter((x) => x !== "verbose").length === 1 && !text.includes("(")) return "CLUSTER without a table";
  if ((a === "create" || a === "drop") && b === "database") return `${a.toUpperCase()} DATABASE`;
  if (a === "alter" && b === "database" && has("set") && has("tablespace")) return "ALTER DATABASE ... SET TABLESPACE";
  if ((a === "create" || a === "drop") && b === "tablespace") return `${a.toUpperCase()} TABLESPACE`;
  if (a === "alter" && b === "system") return "ALTER SYSTEM";
  return null;
}

const CONCURRENT_INDEX = /create\s+(?:unique\s+)?index\s+concurrently\s+(?:if\s+not\s+exists\s+)?((?:"[^"]+"|[A-Za-z_][\w$]*)(?:\s*\.\s*(?:"[^"]+"|[A-Za-z_][\w$]*))?)/gi;

/** Index names a migration builds concurrently (schema-qualified when written so). */
export function concurrentIndexNames(sql: string): string[] {
  const names: string[] = [];
  for (const m of sql.matchAll(CONCURRENT_INDEX)) {
    const parts = m[1]!.split(/\s*\.\s*/).map((p) => (p.startsWith('"') ? p.slice(1, -1).replace(/""/g, '"') : p.toLowerCase()));
    names.push(parts.join("."));
  }
  return names;
}

/** Statements that end or start the migration's own transaction. SAVEPOINT and ROLLBACK TO are fine inside it. */
export function transactionControl(text: string): string | null {
  const [a, b] = topLevelWords(text, 2);
  if (a === "begin" || a === "commit" || a === "end" || a === "abort") return a.toUpperCase();
  if (a === "start" && b === "transaction") return "START TRANSACTION";
  if (a === "rollback" && b !== "to") return "ROLLBACK";
  return null;
}

/** The first line of `new`'s template: an up section that holds only the template's comments is not written yet. */
export const TEMPLATE_MARK = "-- Not written yet: replace these comments with this migration's SQL.";

function checkSection(section: Section, kind: string, problem: (line: number, msg: string) => void, required: boolean) {
  // One statement at a time: a big section is never held as a list of copies. Findings
  // count only when the whole section splits (an unterminated string is the one problem).
  let count = 0;
  const found: [number, string][] = [];
  try {
    for (const st of statements(section.sql)) {
      count++;
      if (section.options.transaction) checkStatement(st, section, kind, (line, msg) => found.push([line, msg]));
    }
  } catch (e) {
    if (e instanceof SqlSplitError) return problem(section.line + e.line - 1, e.message);
    throw e;
  }
  if (required && count === 0) {
    const template = section.sql.includes(TEMPLATE_MARK);
    return problem(section.line - 1, template ? `not written yet: the ${kind} section holds only the template's comments; write its SQL` : `empty ${kind} section`);
  }
  for (const [line, msg] of found) problem(line, msg);
}

function checkStatement(st: Statement, section: Section, kind: string, problem: (line: number, msg: string) => void) {
  {
    const at = section.line + st.line - 1;
    const control = transactionControl(st.text);
    if (control) problem(at, `"${control}" in a migration that already runs in a transaction; remove it, or add transaction:false to the marker`);
    const why = needsNoTransaction(st.text);
    if (why) problem(at, `${why} cannot run inside a transaction; add transaction:false to the '-- migrate:${kind}' marker`);
  }
}
