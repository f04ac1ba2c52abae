// Migration file parsing as it was before files were scanned without splitting
// them into lines, kept as the reference the current parser must match. Test-only.

import { createHash } from "node:crypto";
import { MAX_DURATION_MS, parseDuration } from "../../../src/core/duration.ts";
import { MigrationFileError, type FileProblem } from "../../../src/core/errors.ts";
import { needsNoTransaction, transactionControl } from "../../../src/core/migration-file.ts";
import { splitStatements, SqlSplitError } from "./sql-split.v1.ts";

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

export function checksumOf(sql: string): string {
  return createHash("sha256").update(sql.replace(/\r\n/g, "\n").trim()).digest("hex");
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

  const lines = text.replace(/\r\n/g, "\n").split("\n");
  type Marker = { kind: string; line: number; options: SectionOptions };
  const markers: Marker[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = MARKER.exec(lines[i]!.trim());
    if (!m) continue;
    const kind = m[1]!;
    if (kind !== "up" && kind !== "down") {
      problem(i + 1, `unknown section marker "migrate:${kind}" (expected migrate:up or migrate:down)`);
      continue;
    }
    markers.push({ kind, line: i + 1, options: parseOptions(m[2]!, (msg) => problem(i + 1, msg)) });
  }

  const ups = markers.filter((m) => m.kind === "up");
  const downs = markers.filter((m) => m.kind === "down");
  if (ups.length === 0) problem(1, "missing '-- migrate:up' section");
  if (ups.length > 1) problem(ups[1]!.line, `second '-- migrate:up' marker (first on line ${ups[0]!.line})`);
  if (downs.length > 1) problem(downs[1]!.line, `second '-- migrate:down' marker (first on line ${downs[0]!.line})`);
  if (ups[0] && downs[0] && downs[0].line < ups[0].line) {
    problem(downs[0].line, "'-- migrate:down' must come after '-- migrate:up'");
  }

  const first = markers[0]?.line ?? lines.length + 1;
  for (let i = 0; i < first - 1; i++) {
    const l = lines[i]!.trim();
    if (l && !l.startsWith("--")) {
      problem(i + 1, "SQL before the '-- migrate:up' marker belongs to no section");
      break;
    }
  }

  const body = (m: Marker): Section => {
    const next = markers.find((x) => x.line > m.line);
    const end = next ? next.line - 1 : lines.length;
    return { sql: lines.slice(m.line, end).join("\n").trim(), line: m.line + 1, options: m.options };
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


function checkSection(section: Section, kind: string, problem: (line: number, msg: string) => void, required: boolean) {
  let statements;
  try {
    statements = splitStatements(section.sql);
  } catch (e) {
    if (e instanceof SqlSplitError) return problem(section.line + e.line - 1, e.message);
    throw e;
  }
  if (required && statements.length === 0) {
    return problem(section.line - 1, `empty ${kind} section`);
  }
  if (!section.options.transaction) return;
  for (const st of statements) {
    // The statement rules are today's (by kind); what this copy keeps is the list-building shape.
    const at = section.line + st.line - 1;
    const control = transactionControl(st.text);
    if (control) problem(at, `"${control}" in a migration that already runs in a transaction; remove it, or add transaction:false to the marker`);
    const why = needsNoTransaction(st.text);
    if (why) problem(at, `${why} cannot run inside a transaction; add transaction:false to the '-- migrate:${kind}' marker`);
  }
}
