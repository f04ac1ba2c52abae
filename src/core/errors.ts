// The small set of errors pgship raises on purpose. Each carries a stable `code`
// and the process exit code the top level maps it to; anything else is a bug and
// exits 1. Messages say what happened and what to do next.

export const ExitCode = {
  ok: 0,
  error: 1,
  usage: 2,
  pending: 3,
  drift: 4,
  locked: 5,
  newerDatabase: 6,
  interrupted: 130,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * Every error code pgship reports: the `error.code` of --json output, so a
 * contract (docs/json.md, "Error codes"). Add a code here and there together.
 */
export const ERROR_CODES = [
  "adopt_dirty",
  "adopt_drift",
  "adopt_failed_migration",
  "adopt_source_missing",
  "adopt_unknown_version",
  "adopt_unmapped",
  "already_installed",
  "already_managed",
  "backup_corrupt",
  "backup_dir",
  "backup_foreign",
  "backup_missing",
  "backup_no_manifest",
  "backup_unreadable",
  "backup_unverifiable",
  "backup_write_failed",
  "baseline_empty",
  "bug",
  "cancelled",
  "changed_since_interrupted",
  "checksum_changed",
  "compression_unsupported",
  "connect_failed",
  "connection_lost",
  "database_newer",
  "file",
  "insufficient_privilege",
  "interrupted",
  "irreversible",
  "lock_timeout",
  "migration_failed",
  "migration_file",
  "migration_running",
  "model_invalid",
  "model_unavailable",
  "no_migrations",
  "not_empty",
  "not_installed",
  "nothing_to_undo",
  "pg_dump_failed",
  "project_exists",
  "project_invalid",
  "repair_failed",
  "replay_failed",
  "restore_failed",
  "restore_refused",
  "retention_failed",
  "scratch_failed",
  "swap_failed",
  "tool_failed",
  "tool_missing",
  "tool_too_old",
  "unexpected",
  "unknown_version",
  "usage",
  "wrong_key",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export class PgshipError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: ExitCodeValue;
  /** What the user can do about it, printed under the message. */
  readonly hint?: string;
  constructor(code: ErrorCode, message: string, opts: { exitCode?: ExitCodeValue; hint?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "PgshipError";
    this.code = code;
    this.exitCode = opts.exitCode ?? ExitCode.error;
    this.hint = opts.hint;
  }
}

export class UsageError extends PgshipError {
  constructor(message: string, hint?: string) {
    super("usage", message, { exitCode: ExitCode.usage, hint });
  }
}

/** One problem in a migration file, with its position. */
export interface FileProblem {
  file: string;
  line: number;
  message: string;
}

export class MigrationFileError extends PgshipError {
  readonly problems: FileProblem[];
  constructor(problems: FileProblem[]) {
    const lines = problems.map((p) => `${p.file}:${p.line}: ${p.message}`);
    super("migration_file", `invalid migration files:\n  ${lines.join("\n  ")}`, {
      hint: "fix the files above; every migration needs a 14-digit version, a name and a '-- migrate:up' section",
    });
    this.problems = problems;
  }
}

export const isPgshipError = (e: unknown): e is PgshipError => e instanceof PgshipError;
