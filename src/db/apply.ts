// Executes a plan. Every transactional step commits its effects and its tracking
// row together; a transaction:false step is recorded as running before and
// applied after, so a crash in between is visible and resumable.

import { brand } from "../brand.ts";
import { backoff, interrupted, type Interrupt } from "../core/cancel.ts";
import { PgshipError } from "../core/errors.ts";
import type { StepLabel, Emit } from "../core/events.ts";
import { concurrentIndexNames, type Migration, type Section } from "../core/migration-file.ts";
import type { Plan, Step } from "../core/plan.ts";
import { lineAt, statements } from "../core/sql-split.ts";
import type { Sql } from "./connect.ts";
import { isConnectionLost, safeMessage, withTransaction } from "./connect.ts";
import { isSqlState, SQLSTATE } from "./sqlstate.ts";
import { copyIn, execSql, hasCopyData } from "./run-sql.ts";
import { deleteRow, deleteRowSql, noteHistory, stampRows, upsertRow, upsertRowSql, type RowInput } from "./tracking.ts";

export interface ApplyContext {
  sql: Sql;
  schema: string;
  toolVersion: string;
  runId: number | null;
  emit: Emit;
  interrupt: Interrupt;
  pathOf(file: string): string;
  /** Retries of a migration that hit its lock_timeout. */
  lockRetries: number;
}

export const labelOf = (s: Step): StepLabel =>
  s.kind === "snapshot"
    ? { kind: "snapshot", version: s.snapshot.version, name: "schema snapshot" }
    : { kind: s.kind, version: s.migration.version, name: s.migration.name, ...(s.kind === "up" && s.resume ? { resume: true } : {}) };


export async function executePlan(ctx: ApplyContext, plan: Plan): Promise<void> {
  if (plan.action === "install" && plan.atomicPrefix > 0) {
    let current: Step | undefined;
    try {
      await withTransaction(ctx.sql, async (tx) => {
        for (const step of plan.steps.slice(0, plan.atomicPrefix)) {
          ctx.interrupt.check("during the install; it was rolled back and the database is empty again");
          current = step;
          const t0 = performance.now();
          ctx.emit({ type: "step-start", step: labelOf(step) });
          const record = await runInTx(ctx, tx, step);
          if (record) await tx.unsafe(record);
          ctx.emit({ type: "step-done", step: labelOf(step), durationMs: performance.now() - t0 });
        }
      });
    } catch (e) {
      if (current?.kind === "up") throw asStepError(ctx, e, "install", current.migration, current.migration.up);
      if (current?.kind === "snapshot") {
        const snap = current.snapshot;
        throw asStepError(ctx, e, "install", { version: snap.version, name: "snapshot", file: "schema.sql" } as Migration, { sql: snap.sql, line: 1, options: { transaction: true } });
      }
      throw asStepError(ctx, e, "install");
    }
    for (const step of plan.steps.slice(plan.atomicPrefix)) await runStep(ctx, step);
    return;
  }
  for (const step of plan.steps) await runStep(ctx, step);
}

async function runStep(ctx: ApplyContext, step: Step): Promise<void> {
  ctx.interrupt.check("before the next migration started (the ones reported applied above stay applied)");
  const label = labelOf(step);
  const t0 = performance.now();
  ctx.emit({ type: "step-start", step: label });
  if (step.kind === "snapshot") throw new Error("a snapshot step runs only inside an install");
  const section = step.kind === "up" ? step.migration.up : step.migration.down!;
  if (!section.options.transaction) await runWithoutTransaction(ctx, step.migration, section, step.kind, step.kind === "up" && step.resume, step.kind === "up" ? step.acceptedChange : undefined);
  else {
    for (let attempt = 1; ; attempt++) {
      try {
        if (oneTrip(step, section)) await runInOneTrip(ctx, step, section);
        // Two round trips: BEGIN with the first of its queries, then its tracking row with COMMIT.
        else await withTransaction(ctx.sql, (tx) => runInTx(ctx, tx, step), (record) => record);
        break;
      } catch (e) {
        if (isLockTimeout(e) && attempt <= ctx.lockRetries && !ctx.interrupt.interrupted) {
          const delay = backoff(attempt, LOCK_RETRY);
          ctx.emit({ type: "step-retry", step: label, attempt, delayMs: delay, reason: safeMessage(e) });
          await ctx.interrupt.sleep(delay, `while ${label.version}_${label.name} waited to retry its lock timeout; it was rolled back`);
          continue;
        }
        throw asStepError(ctx, e, step.kind === "up" ? "up" : "down", step.migration, section, attempt > 1 ? attempt : 0);
      }
    }
  }
  ctx.emit({ type: "step-done", step: label, durationMs: performance.now() - t0 });
}

/** Retrying a lock timeout: ~1 s, 2 s, 4 s, 8 s ... capped at 30 s, with jitter so runners do not retry in step. */
const LOCK_RETRY = { first: 1000, factor: 2, max: 30_000, jitter: 0.25 };

const isLockTimeout = (e: unknown) => isSqlState(e, SQLSTATE.lockNotAvailable);

function rowFor(ctx: ApplyContext, m: Migration, via: RowInput["via"], durationMs: number | null): RowInput {
  return { version: m.version, name: m.name, checksum: m.checksum, via, durationMs, toolVersion: ctx.toolVersion, runId: ctx.runId };
}

async function setTimeouts(sql: Sql, section: Section, local: boolean) {
  const scope = local ? "local " : "";
  const o = section.options;
  if (o.lockTimeoutMs) await sql.unsafe(`set ${scope}lock_timeout = '${o.lockTimeoutMs}ms'`);
  if (o.statementTimeoutMs) await sql.unsafe(`set ${scope}statement_timeout = '${o.statementTimeoutMs}ms'`);
}

/** A resumed migration whose file changed since its interrupted run started (--accept-changed): said and recorded. */
async function recordAcceptedChange(ctx: ApplyContext, sql: Sql, m: Migration, from: string): Promise<void> {
  ctx.emit({ type: "warn", message: `resuming ${m.version}_${m.name} with its edited text (--accept-changed): checksum ${from.slice(0, 12)}… -> ${m.checksum.slice(0, 12)}…` });
  if (ctx.runId !== null) await noteHistory(sql, ctx.schema, ctx.runId, `accepted changed ${m.version}: checksum ${from} -> ${m.checksum}`);
}

/** A step that can go to the server as BEGIN, its SQL as one query, and its tracking row with COMMIT, all at once. */
function oneTrip(step: Step, section: Section): step is Extract<Step, { kind: "up" | "down" }> {
  if (step.kind === "snapshot" || (step.kind === "up" && step.acceptedChange)) return false;
  const o = section.options;
  return o.transaction && !o.lockTimeoutMs && !o.statementTimeoutMs && section.sql.length <= ONE_QUERY_MAX && !hasCopyData(section.sql);
}

/**
 * One round trip for a migration: BEGIN, its SQL and its tracking row with COMMIT are sent
 * together (the row's duration is taken by the server). When the SQL fails, the server
 * refuses the rest of the transaction, COMMIT (in the row's message) is skipped, and the
 * rollback below runs; the first failure is the one reported.
 */
async function runInOneTrip(ctx: ApplyContext, step: Extract<Step, { kind: "up" | "down" }>, section: Section): Promise<void> {
  const record = step.kind === "up" ? upsertRowSql(ctx.schema, rowFor(ctx, step.migration, "migration", null), "applied", true) : deleteRowSql(ctx.schema, step.migration.version);
  // Queued in this order (postgres.js sends a query when it is first awaited or executed).
  const begin = ctx.sql.unsafe("begin").execute();
  const body = ctx.interrupt.track(ctx.sql.unsafe(section.sql));
  const end = ctx.sql.unsafe(`${record};\ncommit`).execute();
  const results = await Promise.allSettled([begin, body, end]);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (!failed) return;
  if (!isConnectionLost(failed.reason)) await ctx.sql.unsafe("rollback").catch(() => undefined);
  throw failed.reason;
}

/** Runs a step in the caller's transaction; returns the statement that records it (null: recorded already), for the caller to send. */
async function runInTx(ctx: ApplyContext, tx: Sql, step: Step): Promise<string | null> {
  if (step.kind === "snapshot") {
    await execSql(tx, step.snapshot.sql, (q) => ctx.interrupt.track(q));
    // The snapshot's prologue changes session settings; put them back for what follows.
    await tx.unsafe(
      "reset search_path; reset check_function_bodies; reset client_min_messages; reset row_security; reset xmloption; reset statement_timeout; reset lock_timeout",
    );
    await stampRows(tx, ctx.schema, step.stamps.map((m) => rowFor(ctx, m, "snapshot", null)));
    return null;
  }
  const section = step.kind === "up" ? step.migration.up : step.migration.down!;
  if (step.kind === "up" && step.acceptedChange) await recordAcceptedChange(ctx, tx, step.migration, step.acceptedChange);
  const t0 = performance.now();
  await setTimeouts(tx, section, true);
  if (section.sql.length <= ONE_QUERY_MAX) await execSql(tx, section.sql, (q) => ctx.interrupt.track(q));
  else await runStatementsInTx(ctx, tx, section, step.migration);
  if (section.options.lockTimeoutMs) await tx.unsafe("set local lock_timeout to default");
  if (section.options.statementTimeoutMs) await tx.unsafe("set local statement_timeout to default");
  return step.kind === "up"
    ? upsertRowSql(ctx.schema, rowFor(ctx, step.migration, "migration", Math.round(performance.now() - t0)), "applied")
    : deleteRowSql(ctx.schema, step.migration.version);
}

/**
 * A transactional section up to this many characters goes to the server as one query.
 * A bigger one is sent statement by statement inside its transaction (the same effect):
 * the driver would otherwise build copies of the whole text to send it, a few times
 * the file's size in memory.
 */
const ONE_QUERY_MAX = 1 << 20;

async function runStatementsInTx(ctx: ApplyContext, tx: Sql, section: Section, m: Migration): Promise<void> {
  for (const st of statements(section.sql)) {
    if (ctx.interrupt.interrupted) throw interrupted(`while running ${m.file}; it was rolled back`);
    try {
      if (st.copyData === undefined) await ctx.interrupt.track(tx.unsafe(st.text));
      else await copyIn(tx, st.text, st.copyData);
    } catch (e) {
      // The server's error position is within the statement: make it one within the section.
      const err = e as { position?: string };
      if (err && typeof err === "object" && err.position) err.position = String(st.offset + Number(err.position));
      throw e;
    }
  }
}

/** Drops INVALID indexes a failed CREATE INDEX CONCURRENTLY of this migration left behind. */
async function dropInvalidIndexes(ctx: ApplyContext, section: Section): Promise<void> {
  for (const name of concurrentIndexNames(section.sql)) {
    const [schema, index] = name.includes(".") ? name.split(".") : [null, name];
    const rows = await ctx.sql.unsafe<{ qname: string }[]>(
      `select format('%I.%I', n.nspname, c.relname) as qname
         from pg_index i join pg_class c on c.oid = i.indexrelid join pg_namespace n on n.oid = c.relnamespace
        where not i.indisvalid and c.relname = $1
          and (($2::text is null and n.nspname = any (current_schemas(false))) or n.nspname = $2)`,
      [index!, schema],
    );
    for (const r of rows) {
      await ctx.sql.unsafe(`drop index concurrently if exists ${r.qname}`);
      ctx.emit({ type: "invalid-index-dropped", index: r.qname });
    }
  }
}

async function runWithoutTransaction(ctx: ApplyContext, m: Migration, section: Section, kind: "up" | "down", resume: boolean, acceptedChange?: string): Promise<void> {
  const t0 = performance.now();
  if (kind === "up" && acceptedChange) {
    // The row takes the new checksum and the run's history entry says so, in one transaction.
    await withTransaction(ctx.sql, async (tx) => {
      await upsertRow(tx, ctx.schema, rowFor(ctx, m, "migration", null), "running");
      await recordAcceptedChange(ctx, tx, m, acceptedChange);
    });
  } else if (kind === "up") {
    await upsertRow(ctx.sql, ctx.schema, rowFor(ctx, m, "migration", null), "running");
  }
  if (kind === "up") {
    if (resume) await dropInvalidIndexes(ctx, section);
  }
  await setTimeouts(ctx.sql, section, false);
  try {
    // One statement at a time, as they are split: the list of them is never built.
    for (const st of statements(section.sql)) {
      ctx.interrupt.check(`while running ${m.file}; its earlier statements stay applied and it is marked as running: '${brand.binary} up' resumes it`);
      for (let attempt = 1; ; attempt++) {
        try {
          if (st.copyData === undefined) await ctx.interrupt.track(ctx.sql.unsafe(st.text));
          else await copyIn(ctx.sql, st.text, st.copyData);
          break;
        } catch (e) {
          if (isLockTimeout(e) && attempt <= ctx.lockRetries && !ctx.interrupt.interrupted) {
            const delay = backoff(attempt, LOCK_RETRY);
            ctx.emit({ type: "step-retry", step: { kind, version: m.version, name: m.name }, attempt, delayMs: delay, reason: safeMessage(e) });
            await ctx.interrupt.sleep(delay, `while ${m.file} waited to retry a statement that hit its lock timeout; its earlier statements stay applied and it is marked as running: '${brand.binary} up' resumes it`);
            continue;
          }
          throw asStepError(ctx, e, kind, m, { ...section, sql: st.text, line: section.line + st.line - 1 }, attempt > 1 ? attempt : 0, true);
        }
      }
    }
  } finally {
    if (section.options.lockTimeoutMs || section.options.statementTimeoutMs) {
      await ctx.sql.unsafe("reset lock_timeout; reset statement_timeout").catch(() => undefined);
    }
  }
  if (kind === "up") await upsertRow(ctx.sql, ctx.schema, rowFor(ctx, m, "migration", Math.round(performance.now() - t0)), "applied");
  else await deleteRow(ctx.sql, ctx.schema, m.version);
}

/** Turns a failure inside a step into one message with the file, the line and what happened to the data. */
export function asStepError(
  ctx: ApplyContext,
  e: unknown,
  kind: "install" | "up" | "down",
  m?: Migration,
  section?: Section,
  attempts = 0,
  nonTransactional = false,
): PgshipError {
  if (e instanceof PgshipError) return e;
  const err = e as { code?: string; position?: string; detail?: string; hint?: string; where?: string };
  if (isSqlState(e, SQLSTATE.queryCanceled) && ctx.interrupt.interrupted) {
    return interrupted(
      nonTransactional
        ? `while running ${m?.file}; its earlier statements stay applied and it is marked as running: '${brand.binary} up' resumes it`
        : kind === "install" ? "during the install; it was rolled back and the database is empty again" : `while running ${m?.file}; it was rolled back`,
    );
  }
  let where = "";
  if (m && section && err.position) {
    const line = section.line + lineAt(section.sql, Number(err.position) - 1) - 1;
    where = ` at ${ctx.pathOf(m.file)}:${line}`;
  } else if (m && section && nonTransactional) {
    // One statement was sent: its first line is where it failed.
    where = ` at ${ctx.pathOf(m.file)}:${section.line}`;
  } else if (m) where = ` in ${ctx.pathOf(m.file)}`;
  const lost = isConnectionLost(e);
  const what = lost ? `the connection to the server was lost (${safeMessage(e)})` : safeMessage(e);
  const detail = [err.detail && `detail: ${err.detail}`, err.hint && `server hint: ${err.hint}`].filter(Boolean).join("\n");
  const after = attempts ? ` after ${attempts} attempts` : "";
  const subject =
    kind === "install" ? `install${m ? ` (at ${m.name === "snapshot" && m.file === "schema.sql" ? "the snapshot" : `${m.version}_${m.name}`})` : ""}` : `${kind === "down" ? "rolling back" : "migration"} ${m?.version}_${m?.name}`;
  const fate = nonTransactional
    ? `it runs without a transaction: statements before this one stay applied and it is marked as running; fix the cause and run '${brand.binary} up' to resume it`
    : kind === "install"
      ? "the install was rolled back: the database is as empty as before"
      : "it was rolled back: nothing from it was applied";
  return new PgshipError(lost ? "connection_lost" : "migration_failed", `${subject} failed${where}${after}: ${what}${detail ? `\n${detail}` : ""}`, {
    hint: fate,
    cause: e,
  });
}
