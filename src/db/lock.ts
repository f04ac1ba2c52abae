// One runner at a time per database: a session-level advisory lock held by the
// connection that runs the migrations, so it lives exactly as long as that
// backend. Waiters poll pg_try_advisory_lock instead of blocking in
// pg_advisory_lock: a blocked waiter holds a snapshot, and CREATE INDEX
// CONCURRENTLY in the holder would wait for that snapshot forever.

import { brand } from "../brand.ts";
import { formatDuration } from "../core/duration.ts";
import { backoff, type Interrupt } from "../core/cancel.ts";
import { ExitCode, PgshipError } from "../core/errors.ts";
import type { Sql } from "./connect.ts";

/** "pgsh" as a 32-bit key; the second key is a hash of the tracking schema. */
const NAMESPACE = 0x70677368;

export function lockKeys(schema: string): [number, number] {
  let h = 0x811c9dc5;
  for (const ch of new TextEncoder().encode(schema)) {
    h ^= ch;
    h = Math.imul(h, 0x01000193);
  }
  return [NAMESPACE, h | 0];
}

export interface LockHolder {
  pid: number;
  applicationName: string;
  user: string;
  clientAddr: string | null;
  since: string;
  state: string | null;
  query: string | null;
}

export async function lockHolder(sql: Sql, schema: string): Promise<LockHolder | null> {
  // Two integers written into the text: a query without parameters is one round trip, not two.
  const [k1, k2] = lockKeys(schema);
  const [r] = await sql.unsafe<Record<string, unknown>[]>(
    // The holder's activity row only (pg_stat_get_activity(pid)), not the pg_stat_activity view of
    // every backend: a fresh session pays for the view's catalogs even when no lock is held.
    `select a.pid, a.application_name, pg_get_userbyid(a.usesysid)::text as usename, a.client_addr::text as client_addr,
            coalesce(a.backend_start, now()) as since, a.state, left(a.query, 200) as query
       from pg_locks l cross join lateral pg_stat_get_activity(l.pid) a
      where l.locktype = 'advisory' and l.granted and l.database = (select oid from pg_database where datname = current_database())
        and l.classid = ${k1}::bigint::oid and l.objid = (${k2}::bigint & 4294967295)::oid and l.objsubid = 2
      limit 1`,
  );
  if (!r) return null;
  return {
    pid: Number(r.pid),
    applicationName: String(r.application_name ?? ""),
    user: String(r.usename ?? ""),
    clientAddr: (r.client_addr as string | null) ?? null,
    since: new Date(r.since as string).toISOString(),
    state: (r.state as string | null) ?? null,
    query: (r.query as string | null) ?? null,
  };
}

export function describeHolder(h: LockHolder): string {
  const from = h.clientAddr ? ` from ${h.clientAddr}` : "";
  return `pid ${h.pid} (${h.applicationName || "unknown application"}, user ${h.user}${from}), connected since ${h.since}`;
}

export async function acquireLock(
  sql: Sql,
  schema: string,
  timeoutMs: number,
  onWait?: (holder: LockHolder | null) => void,
  interrupt?: Interrupt,
): Promise<void> {
  const [k1, k2] = lockKeys(schema);
  const deadline = Date.now() + timeoutMs;
  let told = false;
  for (let attempt = 1; ; attempt++) {
    const [row] = await sql.unsafe<{ ok: boolean }[]>(`select pg_try_advisory_lock($1, $2) as ok`, [k1, k2]);
    if (row!.ok) return;
    if (!told) {
      told = true;
      onWait?.(await lockHolder(sql, schema));
    }
    if (Date.now() >= deadline) {
      const holder = await lockHolder(sql, schema);
      throw new PgshipError(
        "lock_timeout",
        `another ${brand.display} run holds the migration lock${holder ? `: ${describeHolder(holder)}` : ""}; gave up after ${formatDuration(timeoutMs)}`,
        {
          exitCode: ExitCode.locked,
          hint: holder
            ? `wait for it to finish, or raise --lock-timeout; if it is stuck, end it with: select pg_terminate_backend(${holder.pid});`
            : "try again, or raise --lock-timeout",
        },
      );
    }
    const pause = Math.min(backoff(attempt, { first: 50, factor: 1.6, max: 1000 }), Math.max(0, deadline - Date.now()));
    if (interrupt) await interrupt.sleep(pause, "while waiting for the migration lock: nothing was changed");
    else await new Promise((r) => setTimeout(r, pause));
  }
}

export async function releaseLock(sql: Sql, schema: string): Promise<void> {
  const [k1, k2] = lockKeys(schema);
  await sql.unsafe(`select pg_advisory_unlock($1, $2)`, [k1, k2]);
}
