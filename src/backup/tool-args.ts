// Arguments and environment for pg_dump, pg_restore and psql. Pure builders:
// the caller turns them into a process with toolSpec() (which adds `docker
// exec` for --docker-container). Passwords only ever go in the environment.

import type { ConnectionTarget } from "../core/config.ts";
import { libpqEnv } from "../tools/pg-tools.ts";
import { compressionArgs, type Compression } from "./compression.ts";

/** libpq variables for a tool that connects to `database` on the target's server. */
export function toolEnv(target: ConnectionTarget, database: string, appName: string): Record<string, string> {
  return { ...libpqEnv({ ...target, database }), PGAPPNAME: appName };
}

/**
 * A database name as a libpq connection string: a bare name containing "="
 * would itself be parsed as one.
 */
export function conninfoDbname(name: string): string {
  return `dbname='${name.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/** pg_dump writing a custom-format archive to stdout; never prompts for a password (cron). */
export function pgDumpArgs(c: Compression, pgDumpMajor: number): string[] {
  return ["--format=custom", "--no-password", ...compressionArgs(c, pgDumpMajor)];
}

/** pg_dump writing a directory-format dump into `dir` (which must not exist) with `jobs` parallel workers. */
export function pgDumpDirectoryArgs(c: Compression, pgDumpMajor: number, dir: string, jobs: number): string[] {
  return ["--format=directory", `--jobs=${jobs}`, `--file=${dir}`, "--no-password", ...compressionArgs(c, pgDumpMajor)];
}

/**
 * Asks pg_dump whether this build supports a compression method without
 * touching a server: it checks --compress before connecting, and the host is a
 * socket directory that cannot exist.
 */
export function compressionProbeArgs(c: Compression, pgDumpMajor: number): string[] {
  return ["--format=custom", "--schema-only", "--no-password", "--file=/dev/null", "--host=/nonexistent/pgship-compression-probe", ...compressionArgs(c, pgDumpMajor)];
}

export const isUnsupportedCompression = (stderr: string) => /does not support compression|invalid compression|unrecognized compression|not built with/i.test(stderr);

/** pg_restore reading an archive on stdin and printing its table of contents: the "does it read back" check. */
export const pgRestoreListArgs = (): string[] => ["--list"];
/** pg_restore reads every data block (writing the script nowhere): a truncated or damaged archive fails. */
export const pgRestoreReadAllArgs = (): string[] => ["--file=/dev/null"];

export interface OwnershipFlags {
  /** Restore the original owners (ALTER … OWNER TO): the roles must exist. Default: objects belong to the restoring role. */
  keepOwner: boolean;
  /** Restore GRANTs and REVOKEs: the roles must exist. */
  keepAcl: boolean;
}

const ownership = (o: OwnershipFlags) => [...(o.keepOwner ? [] : ["--no-owner"]), ...(o.keepAcl ? [] : ["--no-acl"])];

/**
 * pg_restore into a database, stopping at the first error: from stdin, or
 * from an unpacked archive (a file or a directory) with `jobs` parallel workers.
 */
export function pgRestoreArgs(database: string, o: OwnershipFlags, from?: { path: string; jobs: number }): string[] {
  const args = [`--dbname=${conninfoDbname(database)}`, "--exit-on-error", "--no-password", ...ownership(o)];
  return from ? [...args, ...(from.jobs > 1 ? [`--jobs=${from.jobs}`] : []), from.path] : args;
}

/**
 * pg_restore turning the archive on stdin into a SQL script on stdout, for the
 * in-place restore through psql. --single-transaction makes its only COMMIT the
 * script's last statement (without it, large objects get BEGIN/COMMIT blocks of
 * their own), which pgship forwards only once everything checked out.
 */
export function pgRestoreScriptArgs(o: OwnershipFlags, from?: string): string[] {
  return ["--file=-", "--single-transaction", ...ownership(o), ...(from ? [from] : [])];
}

/**
 * psql running a script from stdin, stopping at the first error. The
 * transaction is opened by pgship's preamble, not by psql --single-transaction:
 * psql commits that one when its input ends, so a pgship killed part-way would
 * commit half a restore. An explicit BEGIN without its COMMIT is rolled back.
 */
export function psqlScriptArgs(database: string): string[] {
  return ["--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=1", "--no-password", `--dbname=${conninfoDbname(database)}`, "--file=-"];
}
