// Where the database is: --database-url, else DATABASE_URL in --env-file, else
// DATABASE_URL, else DATABASE_URL in ./.env, else the PG* variables. Pure: the caller passes the environment and the
// .env text. Passwords are kept out of every string meant for people.

import { UsageError } from "./errors.ts";
import { redactUrl } from "./redact.ts";

export interface ConnectionTarget {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
  /** Unix socket directory, when host is a path. */
  socketDir?: string;
  /** libpq sslmode (disable, prefer, require, verify-ca, verify-full), if given. */
  sslmode?: string;
  /** Where the settings came from, for messages. */
  source: "flag" | "env-file" | "env" | "dotenv" | "pg-env";
  /** Other query parameters passed to the server as startup settings. */
  params: Record<string, string>;
}

/** Parses .env text: KEY=VALUE lines, optional `export`, quotes, comments. */
export function parseDotenv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.replace(/\r\n/g, "\n").split("\n")) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(raw);
    if (!m) continue;
    let value = m[2]!;
    const q = value[0];
    if ((q === '"' || q === "'") && value.length >= 2 && value.endsWith(q)) {
      value = value.slice(1, -1);
      if (q === '"') value = value.replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\");
    } else {
      value = value.replace(/\s+#.*$/, "");
    }
    out[m[1]!] = value;
  }
  return out;
}

export interface ConfigInputs {
  flagUrl?: string;
  env: Record<string, string | undefined>;
  dotenv?: Record<string, string> | null;
  /** An env file named with --env-file: beats the environment (it was asked for by name). */
  envFile?: { path: string; values: Record<string, string> } | null;
}

/** No URL in any place one is read from (what `status` without a database reports on). */
export class NoDatabaseError extends UsageError {}

export function resolveTarget(inputs: ConfigInputs): ConnectionTarget {
  const { flagUrl, env, dotenv, envFile } = inputs;
  if (flagUrl !== undefined && flagUrl !== "") return parseDatabaseUrl(flagUrl, "flag", env);
  if (envFile) {
    if (!envFile.values.DATABASE_URL) throw new UsageError(`${envFile.path}: no DATABASE_URL in this env file`, "add a line DATABASE_URL=postgres://USER:PASSWORD@HOST:5432/DB");
    return parseDatabaseUrl(envFile.values.DATABASE_URL, "env-file", env);
  }
  if (env.DATABASE_URL) return parseDatabaseUrl(env.DATABASE_URL, "env", env);
  if (dotenv?.DATABASE_URL) return parseDatabaseUrl(dotenv.DATABASE_URL, "dotenv", env);
  if (env.PGHOST || env.PGDATABASE || env.PGUSER || env.PGPORT) return fromPgEnv(env);
  throw new NoDatabaseError(
    "no database given",
    "pass --database-url postgres://USER@HOST:5432/DB, or set DATABASE_URL (in the environment or ./.env), or the PGHOST/PGUSER/PGDATABASE variables",
  );
}

function fromPgEnv(env: Record<string, string | undefined>): ConnectionTarget {
  const host = env.PGHOST || "localhost";
  const user = env.PGUSER || env.USER || "postgres";
  const t: ConnectionTarget = {
    host,
    port: parsePort(env.PGPORT || "5432", "in PGPORT"),
    database: env.PGDATABASE || user,
    user,
    password: env.PGPASSWORD || "",
    source: "pg-env",
    params: {},
  };
  if (host.startsWith("/")) t.socketDir = host;
  if (env.PGSSLMODE) t.sslmode = env.PGSSLMODE;
  return t;
}

function parsePort(text: string, what: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text)) throw new UsageError(`port "${text}" (${what}) is not a number`);
  if (port < 1 || port > 65535) throw new UsageError(`port ${text} is out of range (1-65535) (${what})`);
  return port;
}

const NO_HOST = "pgship-no-host.invalid";

export function parseDatabaseUrl(url: string, source: ConnectionTarget["source"], env: Record<string, string | undefined> = {}): ConnectionTarget {
  const shown = redactUrl(url);
  const bad = (why: string) =>
    new UsageError(`invalid database URL ${shown}: ${why}`, "expected postgres://USER:PASSWORD@HOST:PORT/DATABASE (or postgresql://)");
  const m = /^(postgres(?:ql)?):\/\/(.*)$/i.exec(url.trim());
  if (!m) throw bad("it must start with postgres:// or postgresql://");
  const encodeHint = "percent-encode special characters in the password (@ %40, : %3A, / %2F, ? %3F, # %23)";
  const unencoded = (why: string) => new UsageError(`invalid database URL ${shown}: ${why}`, encodeHint);
  // An '@' after the host part, or a '#', is a password with unencoded characters:
  // refuse it rather than connect somewhere else with half of it in the database name.
  const rest0 = m[2]!;
  const authorityEnd = rest0.search(/[/?#]/);
  if (rest0.includes("#")) throw unencoded("it contains '#'");
  if (authorityEnd >= 0 && rest0.indexOf("@", authorityEnd) >= 0) throw unencoded("it contains an '@' after the host");
  // The port, read before the URL parser (which refuses it with a less useful reason).
  const authority = authorityEnd >= 0 ? rest0.slice(0, authorityEnd) : rest0;
  const portText = /:(\d+)$/.exec(authority.slice(authority.lastIndexOf("@") + 1))?.[1];
  if (portText !== undefined) parsePort(portText, "in the database URL");
  let parsed: URL;
  try {
    // WHATWG URL does not know postgres:, so parse it as http and read the parts.
    // An empty host (postgres://user@/db?host=/socket) is legal for libpq.
    const rest = m[2]!.replace(/^([^/?#]*@)?(?=[/?#]|$)/, (all) => `${all}${NO_HOST}`);
    parsed = new URL(`http://${rest}`);
  } catch {
    throw unencoded("it cannot be parsed");
  }
  const decode = (s: string, what: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      throw bad(`the ${what} has a bad %-escape`);
    }
  };
  const params: Record<string, string> = {};
  let socketDir: string | undefined;
  let sslmode: string | undefined;
  let host = parsed.hostname === NO_HOST ? "" : parsed.hostname;
  let port = parsed.port ? parsePort(parsed.port, "in the database URL") : 5432;
  for (const [k, v] of parsed.searchParams) {
    if (k === "host") {
      if (v.startsWith("/")) socketDir = v;
      else host = v;
    } else if (k === "port") port = parsePort(v, "in the database URL");
    else if (k === "sslmode") sslmode = v;
    else if (k === "password" || k === "user") throw bad(`put the ${k} before the @, not in ?${k}=`);
    else params[k] = v;
  }
  if (!host && !socketDir) host = env.PGHOST || "localhost";
  const database = decode(parsed.pathname.replace(/^\//, ""), "database name");
  if (database.includes("/")) throw bad("the database name contains '/'");
  if (sslmode && !["disable", "allow", "prefer", "require", "verify-ca", "verify-full"].includes(sslmode)) {
    throw bad(`sslmode "${sslmode}" is not one of disable, allow, prefer, require, verify-ca, verify-full`);
  }
  const user = decode(parsed.username, "user name") || env.PGUSER || env.USER || "postgres";
  return {
    host: host.replace(/^\[|\]$/g, "") || "localhost",
    port,
    database: database || user,
    user,
    password: decode(parsed.password, "password") || env.PGPASSWORD || "",
    socketDir,
    sslmode,
    source,
    params,
  };
}

/** How a target is shown to people: never with the password. */
export function describeTarget(t: ConnectionTarget): string {
  const where = t.socketDir ? `${t.socketDir} (socket), port ${t.port}` : `${t.host}:${t.port}`;
  return `${t.user}@${where}/${t.database}`;
}
