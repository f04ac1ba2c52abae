// PostgreSQL error codes (SQLSTATE) pgship reacts to, by name, and the one place
// that reads an error's code: server errors are postgres.PostgresError; the
// client's own failures (ECONNREFUSED, CONNECTION_CLOSED, ...) carry a code too.

import postgres from "postgres";

export const SQLSTATE = {
  queryCanceled: "57014",
  adminShutdown: "57P01",
  crashShutdown: "57P02",
  cannotConnectNow: "57P03",
  tooManyConnections: "53300",
  invalidAuthorizationSpecification: "28000",
  invalidPassword: "28P01",
  invalidCatalogName: "3D000",
  insufficientPrivilege: "42501",
  lockNotAvailable: "55P03",
  objectInUse: "55006",
} as const;
export type SqlState = (typeof SQLSTATE)[keyof typeof SQLSTATE];

/** The SQLSTATE of a server error, else undefined. */
export function sqlState(e: unknown): string | undefined {
  return e instanceof postgres.PostgresError ? e.code : undefined;
}

/** True when `e` is a server error with this SQLSTATE. */
export const isSqlState = (e: unknown, state: SqlState): boolean => sqlState(e) === state;

/** A server error's SQLSTATE, or the client's / the system's error code (ECONNREFUSED, CONNECT_TIMEOUT). */
export function errorCode(e: unknown): string {
  const s = sqlState(e);
  if (s !== undefined) return s;
  const code = e instanceof Error ? (e as Error & { code?: unknown }).code : undefined;
  return typeof code === "string" ? code : "";
}
