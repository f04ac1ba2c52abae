// The scaffolding of a run that changes the database: connect, take the
// migration lock, read the state, record the run in the history (also when it
// fails), release and close whatever happens.

import { isPgshipError } from "../core/errors.ts";
import type { DatabaseState } from "../core/plan.ts";
import { connect, type Db } from "../db/connect.ts";
import { acquireLock, releaseLock } from "../db/lock.ts";
import { ensureTracking, finishHistory, readState, startHistory } from "../db/tracking.ts";
import { checked, lacking, requirePrivileges, type Need, type TrackingPrivileges } from "../db/privileges.ts";
import type { LoadedSet } from "../source.ts";
import { brand } from "../brand.ts";
import type { OpContext } from "./context.ts";

export interface RunSession {
  db: Db;
  state: DatabaseState;
  set: LoadedSet;
  runId: number | null;
  /** What the role may do with the tracking schema (read with the state, in the same round trip). */
  privileges: TrackingPrivileges;
  /** Whether the role has what `needs` says (see src/db/privileges.ts). */
  can(needs: Need[]): boolean;
  /** Fails with the missing privilege and the GRANT that gives it. */
  require(needs: Need[]): void;
  /** Creates the tracking schema and starts the history row (once the plan is accepted). */
  begin(fromVersion: string | null): Promise<number>;
}

/**
 * Owns a mutating run: connect, take the lock, read the state, record the run in
 * the history (also when it fails), release and close whatever happens.
 */
export async function withRun<T>(
  ctx: OpContext,
  command: string,
  fn: (s: RunSession) => Promise<{ value: T; toVersion: string | null }>,
): Promise<T> {
  const set = await ctx.migrations();
  const db = await ctx.connect(command);
  let runId: number | null = null;
  try {
    await acquireLock(db.sql, ctx.schema, ctx.lockTimeoutMs, (holder) => ctx.emit({ type: "lock-wait", holder }), ctx.interrupt);
    // Every run reads the tracking tables: a role that cannot is told which GRANT it lacks.
    const { value: state, privileges } = await checked(db.sql, ctx.schema, ["read"], () => readState(db.sql, ctx.schema));
    const argsText = ctx.invocation;
    const session: RunSession = {
      db,
      state,
      set,
      privileges,
      get runId() {
        return runId;
      },
      can: (needs) => lacking(privileges, needs).length === 0,
      require: (needs) => requirePrivileges(privileges, needs),
      async begin(fromVersion) {
        if (runId !== null) return runId;
        requirePrivileges(privileges, ["record"]);
        await ensureTracking(db.sql, ctx.schema);
        runId = await startHistory(db.sql, ctx.schema, command, argsText, brand.version, fromVersion);
        return runId;
      },
    };
    try {
      const { value, toVersion } = await fn(session);
      if (runId !== null) await finishHistory(db.sql, ctx.schema, runId, "ok", null, toVersion);
      return value;
    } catch (e) {
      if (runId !== null) await recordFailure(ctx, db, runId, e);
      throw e;
    }
  } finally {
    await releaseLock(db.sql, ctx.schema).catch(() => undefined);
    await db.close().catch(() => undefined);
  }
}

/** The history row must say why a run failed, even when the failure took the connection with it. */
async function recordFailure(ctx: OpContext, db: Db, runId: number, e: unknown): Promise<void> {
  const message = isPgshipError(e) ? e.message : e instanceof Error ? e.message : String(e);
  const text = ctx.secrets.scrub(message);
  try {
    await finishHistory(db.sql, ctx.schema, runId, "error", text, null);
  } catch {
    let fresh: Db | undefined;
    try {
      fresh = await connect(db.target, { applicationName: `${ctx.binary} history`, connectTimeoutSec: 5 });
      await finishHistory(fresh.sql, ctx.schema, runId, "error", text, null);
    } catch (again) {
      ctx.emit({ type: "warn", message: `could not record the failure in ${ctx.schema}.history: ${(again as Error).message}` });
    } finally {
      await fresh?.close().catch(() => undefined);
    }
  }
}

