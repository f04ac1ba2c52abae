// doctor: everything that can be wrong, each finding with the command that fixes
// it. The exit code reflects the worst finding. Used by the doctor command and
// the wizard's health check.

import { plural } from "../core/format.ts";
import { describeTarget } from "../core/config.ts";
import { ExitCode, isPgshipError } from "../core/errors.ts";
import { computeStatus } from "../core/plan.ts";
import { verifyDatabase } from "../catalog/verify-db.ts";
import { connect, type Db } from "../db/connect.ts";
import { describeHolder, lockHolder } from "../db/lock.ts";
import { lastRun, readState } from "../db/tracking.ts";
import { lackGrants, lackSentence, lacking, readTrackingPrivileges } from "../db/privileges.ts";
import { findPgTool } from "../tools/pg-tools.ts";
import { describeLeftovers, keptDatabases, leftoverDatabases, type Leftover } from "../backup/restore-db.ts";
import { brand } from "../brand.ts";
import type { OpContext } from "./context.ts";

export interface DoctorOptions {
  /** Directory holding pg_dump / pg_restore. */
  pgBin?: string;
}

export interface DoctorOutcome {
  ok: boolean;
  /** The exit code of the worst finding. */
  exitCode: number;
  checks: Check[];
  /** Migrations the database has not applied yet: when any, update before repairing anything. */
  pending: number;
}

export interface Check {
  name: string;
  status: "ok" | "warn" | "fail";
  detail: string;
  /** The command (or action) that fixes it. */
  fix?: string;
  exitCode: number;
}

/** Worst first: a newer database, drift, an error, a held lock, pending work. */
const RANK = [ExitCode.newerDatabase, ExitCode.drift, ExitCode.error, ExitCode.locked, ExitCode.pending, ExitCode.ok];
export const worstExit = (checks: Check[]) => RANK.find((code) => checks.some((c) => c.exitCode === code)) ?? ExitCode.ok;

export async function doctor(ctx: OpContext, opts: DoctorOptions): Promise<DoctorOutcome> {
  const { checks, code, pending } = await runDoctor(ctx, opts.pgBin);
  return { ok: code === ExitCode.ok, exitCode: code, checks, pending };
}

/** Every check, in order, and the exit code of the worst; used by the command and the wizard. */
export async function runDoctor(ctx: OpContext, pgBin?: string): Promise<{ checks: Check[]; code: number; pending: number }> {
  const checks: Check[] = [];
  const add = (c: Omit<Check, "exitCode"> & { exitCode?: number }) => checks.push({ exitCode: ExitCode.ok, ...c });
  const target = ctx.target();
  let db: Db | undefined;
  try {
    db = await connect(target, { applicationName: `${brand.binary} doctor`, waitMs: ctx.waitMs, interrupt: ctx.interrupt });
    add({ name: "connection", status: "ok", detail: `${describeTarget(target)}, PostgreSQL ${db.serverVersion}` });
  } catch (e) {
    if (ctx.interrupt.interrupted) throw e;
    add({ name: "connection", status: "fail", detail: isPgshipError(e) ? e.message : String(e), fix: isPgshipError(e) ? e.hint : undefined, exitCode: ExitCode.error });
  }
  const major = db ? Math.floor(db.serverVersionNum / 10000) : 0;
  for (const tool of ["pg_dump", "pg_restore", "psql"] as const) {
    try {
      const t = await findPgTool(tool, major, pgBin);
      add({ name: tool, status: "ok", detail: `${t.path} (${t.version})` });
    } catch (e) {
      // Found, but older than the server: backups (pg_dump) or restores (pg_restore) cannot run. A problem, not a
      // warning; a machine without the tools at all may not be meant to back up (a warning).
      const tooOld = tool !== "psql" && /all older than the server/.test((e as Error).message);
      add({ name: tool, status: tooOld ? "fail" : "warn", detail: (e as Error).message, fix: isPgshipError(e) ? e.hint : undefined, exitCode: tooOld ? ExitCode.error : ExitCode.ok });
    }
  }
  let pending = 0;
  if (db) {
    try {
      await leftovers(db, target.database, add);
      pending = await diagnose(ctx, db, add);
    } finally {
      await db.close();
    }
  }
  return { checks, code: worstExit(checks), pending };
}

/** Databases left by killed restores and verifies of this database (nobody connected to them). */
async function leftovers(db: Db, live: string, add: (c: Omit<Check, "exitCode"> & { exitCode?: number }) => void): Promise<void> {
  let left: Leftover[];
  let kept: string[];
  try {
    left = await leftoverDatabases(db.sql, live);
    kept = (await keptDatabases(db, live)).map((k) => k.name);
  } catch (e) {
    add({ name: "leftovers", status: "warn", detail: `could not look for databases left by interrupted runs: ${(e as Error).message}` });
    return;
  }
  if (!left.length) return add({ name: "leftovers", status: "ok", detail: "no databases left by interrupted restores or verifies" });
  add({
    name: "leftovers",
    status: "warn",
    detail: `left by interrupted runs, nobody connected: ${describeLeftovers(left)}${kept.length ? `; the same command also drops the databases kept by earlier restores: ${kept.join(", ")}` : ""}`,
    fix: `${brand.binary} restore --drop-old --yes`,
  });
}

/** Returns the number of pending migrations. */
async function diagnose(ctx: OpContext, db: Db, add: (c: Omit<Check, "exitCode"> & { exitCode?: number }) => void): Promise<number> {
  const holder = await lockHolder(db.sql, ctx.schema);
  add(holder
    ? { name: "lock", status: "warn", detail: `held by ${describeHolder(holder)}`, fix: "wait for that run to finish (it may be migrating right now)", exitCode: ExitCode.locked }
    : { name: "lock", status: "ok", detail: "free" });
  const set = await ctx.migrations();
  // Privileges first (pipelined with the state read): a role that cannot read the tracking
  // tables, or cannot create what an install creates, is told the GRANT, not "<binary> up".
  const [privileges, read] = await Promise.all([readTrackingPrivileges(db.sql, ctx.schema), readState(db.sql, ctx.schema).then((s) => ({ s }), (e: unknown) => ({ e }))]);
  const cannotRead = lacking(privileges, ["read"]);
  if (cannotRead.length) {
    add({ name: "privileges", status: "fail", detail: lackSentence(privileges, cannotRead), fix: lackGrants(privileges, cannotRead), exitCode: ExitCode.error });
    return 0;
  }
  if ("e" in read) throw read.e;
  const state = read.s;
  // What '<binary> up' needs next, when this role cannot do it: the GRANT is the fix.
  const upFix = (install: boolean) => {
    const l = lacking(privileges, install ? ["record", "apply", "create", "create-public"] : ["record", "apply"]);
    return l.length ? { detail: lackSentence(privileges, l), fix: lackGrants(privileges, l) } : null;
  };
  if (!state.managed || state.applied.length === 0) {
    const blocked = state.empty ? upFix(true) : null;
    if (state.empty && blocked) add({ name: "install", status: "fail", detail: `the database is empty, and ${blocked.detail}`, fix: blocked.fix, exitCode: ExitCode.error });
    else if (state.empty) add({ name: "install", status: "warn", detail: "the database is empty", fix: `${brand.binary} up`, exitCode: ExitCode.pending });
    else add({ name: "install", status: "fail", detail: `not managed by ${brand.display}${state.foreign ? ` (${state.foreign.tool} at ${state.foreign.version})` : ""}`, fix: state.foreign ? `${brand.binary} up --adopt (or ${brand.binary} baseline --from ${state.foreign.tool})` : `${brand.binary} baseline V (once you know which version the schema is at)`, exitCode: ExitCode.error });
    return 0;
  }
  const report = computeStatus(set, state);
  const c = report.counts;
  add({ name: "version", status: "ok", detail: `${report.version} (binary head ${report.head})` });
  if (c.unknown) add({ name: "migrations", status: "fail", detail: `${c.unknown} applied migration(s) unknown to this binary: the database is newer`, fix: "use the newer release of the app", exitCode: ExitCode.newerDatabase });
  if (c.changed) add({ name: "migrations", status: "fail", detail: `${c.changed} applied migration(s) changed since they ran`, fix: `restore the original files (${brand.binary} status lists them)`, exitCode: ExitCode.drift });
  if (c.running) add({ name: "migrations", status: "fail", detail: `${c.running} transaction:false migration(s) did not finish`, fix: `${brand.binary} up (resumes them)`, exitCode: ExitCode.error });
  const blocked = c.pending ? upFix(false) : null;
  if (c.pending) add({ name: "migrations", status: "warn", detail: `${c.pending} pending${blocked ? `; ${blocked.detail}` : ""}`, fix: blocked ? `${blocked.fix}, then ${brand.binary} up (or run it as a role that may migrate)` : `${brand.binary} up`, exitCode: ExitCode.pending });
  if (!c.unknown && !c.changed && !c.running && !c.pending) add({ name: "migrations", status: "ok", detail: `${c.applied} applied, none pending` });
  const last = await lastRun(db.sql, ctx.schema);
  if (last?.result === "error") add({ name: "last run", status: "warn", detail: `${last.command} failed at ${last.startedAt}: ${last.error?.split("\n")[0]}`, fix: `${brand.binary} status; fix the cause and run ${brand.binary} up` });
  else if (last?.result === "running" && !holder) add({ name: "last run", status: "warn", detail: `${last.command} started at ${last.startedAt} never finished (killed?)`, fix: `${brand.binary} status, then ${brand.binary} up` });
  else if (last) add({ name: "last run", status: "ok", detail: `${last.command} ${last.result} at ${last.startedAt}` });
  if (c.unknown) return c.pending;
  try {
    // Against the exact schema of the database's version: pending migrations are not drift.
    const v = await verifyDatabase(db, set, ctx.schema, () => undefined);
    const update = `${brand.binary} up first (${plural(v.pending.length, "migration")} pending), then ${brand.binary} verify`;
    add(v.findings.length
      ? { name: "drift", status: "fail", detail: `${v.findings.length} difference(s) from the schema of ${v.version} (${v.expected.note})`, fix: v.pending.length ? update : `${brand.binary} verify (then ${brand.binary} verify --fix)`, exitCode: ExitCode.drift }
      : { name: "drift", status: "ok", detail: `schema matches ${v.version}` });
  } catch (e) {
    add({ name: "drift", status: "warn", detail: `could not verify: ${(e as Error).message}`, fix: isPgshipError(e) ? e.hint : undefined });
  }
  return c.pending;
}
