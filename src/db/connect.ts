// Connections: one postgres.js client per command, errors turned into messages a
// person can act on, and --wait retries with exponential backoff.

import postgres from "postgres";
import { describeTarget, type ConnectionTarget } from "../core/config.ts";
import { formatDuration } from "../core/duration.ts";
import { backoff, interrupted, type Interrupt } from "../core/cancel.ts";
import { isPgshipError, PgshipError } from "../core/errors.ts";
import { sqlName } from "./privileges.ts";
import { redactor, Redactor } from "../core/redact.ts";
import { errorCode, SQLSTATE } from "./sqlstate.ts";
import { mark } from "../runtime.ts";

export type Sql = postgres.Sql<any>;

export interface Db {
  sql: Sql;
  target: ConnectionTarget;
  serverVersion: string;
  serverVersionNum: number;
  close(): Promise<void>;
}

export interface ConnectOptions {
  applicationName: string;
  /** Keep retrying connection failures for this long (ms); 0 = try once. */
  waitMs?: number;
  onRetry?: (reason: string, delayMs: number) => void;
  onNotice?: (message: string) => void;
  connectTimeoutSec?: number;
  /** Stops the attempts (and the wait between them) at once with the interrupted error. */
  interrupt?: Interrupt;
}

export function clientOptions(target: ConnectionTarget, opts: ConnectOptions): postgres.Options<any> {
  // libpq's default is sslmode=prefer: try TLS, fall back to plain.
  const mode = target.sslmode ?? (target.socketDir ? "disable" : "prefer");
  const ssl = mode === "disable" || mode === "allow" ? false : mode === "prefer" || mode === "require" ? mode : "verify-full";
  return {
    host: target.socketDir ?? target.host,
    port: target.port,
    database: target.database,
    username: target.user,
    password: target.password,
    ...(target.socketDir ? { path: `${target.socketDir}/.s.PGSQL.${target.port}` } : {}),
    ssl: ssl as postgres.Options<any>["ssl"],
    max: 1,
    idle_timeout: 0,
    max_lifetime: 0,
    connect_timeout: opts.connectTimeoutSec ?? 10,
    prepare: false,
    fetch_types: false,
    onnotice: (n) => opts.onNotice?.(String(n.message)),
    // The server's first parameter report follows a successful login (the profile's "auth").
    onparameter: () => mark("auth"),
    connection: { ...target.params, application_name: opts.applicationName },
  } as postgres.Options<any>;
}

const WAITING = "while connecting to the database: nothing was done";
const VERSION_QUERY = "select current_setting('server_version') as v, current_setting('server_version_num') as n";
const FIRST_QUERY = `${VERSION_QUERY}, (select set_config('client_connection_check_interval', '1s', false) where current_setting('server_version_num')::int >= 140000) as c`;
/** An error the server sent on a live session (a query's), not a failed connection or login. */
const isServerError = (e: unknown) => typeof (e as { severity?: unknown })?.severity === "string";
const isConnectError = (e: unknown) => /^(08|28|3D|53|57)/.test(errorCode(e));

export async function connect(target: ConnectionTarget, opts: ConnectOptions): Promise<Db> {
  const deadline = Date.now() + (opts.waitMs ?? 0);
  for (let attempt = 1; ; attempt++) {
    const delay = backoff(attempt, { first: 250, factor: 2, max: 5000 });
    const sql: Sql = postgres(clientOptions(target, opts));
    try {
      // One query, one round trip. A backend whose client died (kill -9) should notice soon and
      // roll back: PostgreSQL 14+ checks the socket every second (older servers lack the setting;
      // a server that refuses it anyway is asked for the version alone).
      const first = sql.unsafe<{ v: string; n: string }[]>(FIRST_QUERY).catch((e) => (isServerError(e) && !isConnectError(e) ? sql.unsafe<{ v: string; n: string }[]>(VERSION_QUERY) : Promise.reject(e)));
      const [row] = opts.interrupt ? await opts.interrupt.race(first, WAITING) : await first;
      const num = Number(row!.n);
      return { sql, target, serverVersion: row!.v, serverVersionNum: num, close: () => (mark("queries"), closeQuickly(sql)) };
    } catch (e) {
      await sql.end({ timeout: 0 }).catch(() => undefined);
      if (opts.interrupt?.interrupted) throw isPgshipError(e) ? e : interrupted(WAITING);
      const err = translateConnectError(e, target);
      if (!isRetryable(e) || Date.now() + delay > deadline) {
        if (opts.waitMs) err.message += ` (gave up after waiting ${formatDuration(opts.waitMs)})`;
        throw err;
      }
      opts.onRetry?.(err.message, delay);
      if (opts.interrupt) await opts.interrupt.sleep(delay, WAITING);
      else await new Promise((r) => setTimeout(r, delay));
    }
  }
}

/**
 * Ends the session: pending queries finish, Terminate is sent at once, but the
 * wait for the server to close the socket (10-20 ms) is cut short.
 */
function closeQuickly(sql: Sql): Promise<void> {
  return Promise.race([sql.end({ timeout: 5 }), new Promise<void>((r) => setTimeout(r, 3))]).then(() => undefined);
}

const RETRYABLE = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "CONNECT_TIMEOUT", "ECONNRESET", "ENOENT", "57P03", "53300", "EHOSTUNREACH", "ENETUNREACH", "CONNECTION_CLOSED", "CONNECTION_ENDED"]);

export function isRetryable(e: unknown): boolean {
  return RETRYABLE.has(errorCode(e));
}

/** sslmode=require (or verify-*) against a server that answered "no TLS": the TLS handshake dies on a plain socket. */
function serverRefusedTls(e: unknown, t: ConnectionTarget): boolean {
  if (!t.sslmode || !["require", "verify-ca", "verify-full"].includes(t.sslmode)) return false;
  const msg = e instanceof Error ? e.message : String(e);
  return errorCode(e) === "ECONNRESET" || /before secure TLS connection was established/i.test(msg);
}

/** One readable sentence and a next step for every way connecting can fail. */
export function translateConnectError(e: unknown, t: ConnectionTarget): PgshipError {
  const code = errorCode(e);
  const where = describeTarget(t);
  const hostPort = t.socketDir ? `socket ${t.socketDir}/.s.PGSQL.${t.port}` : `${t.host}:${t.port}`;
  const make = (message: string, hint: string) =>
    new PgshipError("connect_failed", message, { hint, cause: e });
  if (serverRefusedTls(e, t)) {
    return make(`the server does not offer SSL; use sslmode=prefer or enable SSL on the server (${hostPort}, sslmode=${t.sslmode})`, "sslmode=prefer uses TLS when the server offers it and connects without it otherwise");
  }
  switch (code) {
    case SQLSTATE.invalidPassword:
      return make(
        `password authentication failed for user "${t.user}" (wrong password, or the user does not exist) on ${hostPort}/${t.database}`,
        "check the user and password in DATABASE_URL / .env (special characters in a URL must be percent-encoded)",
      );
    case SQLSTATE.invalidAuthorizationSpecification:
      return make(`the server refused user "${t.user}" on ${where}: ${safeMessage(e, t)}`, "check the user name, and that pg_hba.conf allows this host, user and database");
    case SQLSTATE.insufficientPrivilege:
      return make(`role "${t.user}" may not connect to database "${t.database}"`, `GRANT CONNECT ON DATABASE ${sqlName(t.database)} TO ${sqlName(t.user)}; (run it as the database's owner or a superuser)`);
    case SQLSTATE.invalidCatalogName:
      return make(`database "${t.database}" does not exist on ${hostPort}`, `create it (createdb -h ${t.host} -U ${t.user} ${t.database}) or fix the database name`);
    case "ECONNREFUSED":
      return make(`connection refused by ${hostPort}`, "is PostgreSQL running and listening on that host and port? (use --wait 30s while it starts)");
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return make(`host "${t.host}" not found`, "check the host name in the database URL");
    case "ETIMEDOUT":
    case "CONNECT_TIMEOUT":
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return make(`could not reach ${hostPort} (timed out)`, "check the host, port and any firewall between here and the server");
    case "ENOENT":
      return make(`no PostgreSQL socket at ${hostPort}`, "check the socket directory and port, or connect over TCP with a host name");
    case SQLSTATE.cannotConnectNow:
      return make(`the server at ${hostPort} is starting up or shutting down`, "try again, or pass --wait 60s");
    case SQLSTATE.tooManyConnections:
      return make(`the server at ${hostPort} has too many connections`, "close idle connections or raise max_connections");
    case "SASL_SIGNATURE_MISMATCH":
      return make(`the server's SCRAM signature did not match for ${where}`, "check you are connecting to the right server");
    default:
      return make(`cannot connect to ${where}: ${safeMessage(e, t)}`, "check the database URL and that the server is reachable");
  }
}

/** An error's message with the target's password and every registered secret scrubbed. */
export function safeMessage(e: unknown, t?: ConnectionTarget): string {
  const msg = e instanceof Error ? e.message : String(e);
  const scrubbed = redactor.scrub(msg);
  return t?.password ? new Redactor().add(t.password).scrub(scrubbed) : scrubbed;
}

const CONNECTION_GONE = new Set<string>([SQLSTATE.adminShutdown, SQLSTATE.crashShutdown, SQLSTATE.cannotConnectNow, "CONNECTION_CLOSED", "CONNECTION_DESTROYED", "CONNECTION_ENDED", "ECONNRESET", "EPIPE"]);
export const isConnectionLost = (e: unknown) => CONNECTION_GONE.has(errorCode(e));

/**
 * BEGIN ... COMMIT on the command's single connection (max: 1, so every query
 * runs on it, under its advisory lock). Not sql.begin(): after the server drops
 * the connection, its automatic ROLLBACK writes to a closed socket. `beforeCommit`
 * gives a last statement (e.g. the tracking row) to send in COMMIT's message.
 */
export async function withTransaction<T>(sql: Sql, fn: (tx: Sql) => Promise<T>, beforeCommit?: (result: T) => string | null): Promise<T> {
  // BEGIN goes out with fn's first query, not a round trip ahead of it (a failed BEGIN fails that query too).
  const begin = sql.unsafe("begin");
  begin.catch(() => undefined);
  try {
    const result = await fn(sql);
    await begin;
    // beforeCommit's statement and COMMIT in one message: when it fails, COMMIT is skipped and the rollback below runs.
    const last = beforeCommit?.(result);
    await sql.unsafe(last ? `${last};\ncommit` : "commit");
    return result;
  } catch (e) {
    if (!isConnectionLost(e)) await sql.unsafe("rollback").catch(() => undefined);
    throw e;
  }
}
