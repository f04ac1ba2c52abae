// Finding pg_dump / pg_restore / psql: --pg-bin, PATH, then the usual install
// directories, keeping the newest whose major version is at least the server's;
// or inside the database's container (--docker-container). toolSpec() turns a
// tool and its arguments into the process to run, with `docker exec` when needed.

import { brand, envName } from "../brand.ts";
import { existsSync, readdirSync, realpathSync } from "node:fs";
import { basename, delimiter, dirname, join } from "node:path";
import { PgshipError } from "../core/errors.ts";
import { env } from "../runtime.ts";
import { runProc, type ProcSpec } from "./proc.ts";

export interface PgTool {
  /** Absolute path on this host, or the command name inside `container`. */
  path: string;
  version: string;
  major: number;
  /** Run with `docker exec` in this container (--docker-container). */
  container?: string;
}

const INSTALL_GLOBS: [string, RegExp][] = [
  ["/usr/lib/postgresql", /^\d+$/], // Debian, Ubuntu: /usr/lib/postgresql/16/bin
  ["/usr", /^pgsql-\d+$/], // RHEL: /usr/pgsql-16/bin
  ["/opt/homebrew/opt", /^postgresql(@\d+)?$/],
  ["/usr/local/opt", /^postgresql(@\d+)?$/],
  ["/Applications/Postgres.app/Contents/Versions", /^\d+$/],
];

export function candidateDirs(pgBin: string | undefined, pathVar: string | undefined): string[] {
  const dirs: string[] = [];
  if (pgBin) return [pgBin];
  for (const d of (pathVar ?? "").split(delimiter)) if (d) dirs.push(d);
  for (const [root, re] of INSTALL_GLOBS) {
    if (!existsSync(root)) continue;
    for (const name of readdirSync(root)) if (re.test(name)) dirs.push(join(root, name, "bin"));
  }
  return [...new Set(dirs)];
}

function isPgWrapper(path: string): boolean {
  try {
    return basename(realpathSync(path)) === "pg_wrapper";
  } catch {
    return false;
  }
}

export function parseToolVersion(text: string): { version: string; major: number } | null {
  const m = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(text);
  if (!m) return null;
  return { version: m[2] ? `${m[1]}.${m[2]}` : m[1]!, major: Number(m[1]) };
}

export async function findPgTool(name: "pg_dump" | "pg_restore" | "psql", serverMajor: number, pgBin?: string): Promise<PgTool> {
  const found: PgTool[] = [];
  // Debian's /usr/bin/pg_dump is pg_wrapper, a Perl script choosing among /usr/lib/postgresql/*/bin, which
  // are candidates themselves: skip it (it is slow to ask, and picks by its own rules) unless it is all there is.
  const all = [...new Set(candidateDirs(pgBin, env().PATH).map((dir) => join(dir, name)))].filter((p) => existsSync(p));
  const direct = all.filter((p) => !isPgWrapper(p));
  const paths = direct.length ? direct : all;
  // Asked all at once: each answer is a process start.
  const versions = await Promise.all(paths.map((path) => runProc({ command: path, args: ["--version"] }).catch(() => null)));
  paths.forEach((path, i) => {
    const r = versions[i];
    const v = r && r.code === 0 ? parseToolVersion(r.stdout) : null;
    if (v) found.push({ path, ...v });
  });
  const usable = found.filter((t) => t.major >= serverMajor).sort((a, b) => b.major - a.major);
  if (usable[0]) return usable[0];
  const seen = found.length ? `found ${found.map((t) => `${t.path} (${t.version})`).join(", ")}, all older than the server` : `no ${name} was found${pgBin ? ` in ${pgBin}` : " on PATH or in the usual install directories"}`;
  throw new PgshipError("tool_missing", `${name} ${serverMajor} or newer is needed for this PostgreSQL ${serverMajor} server: ${seen}`, {
    hint: `install the PostgreSQL ${serverMajor} client tools (Debian/Ubuntu: apt install postgresql-client-${serverMajor}; macOS: brew install postgresql@${serverMajor}), or point --pg-bin at their bin directory`,
  });
}

/** libpq environment for a child process: the password never goes on the command line. */
export function libpqEnv(t: { host: string; port: number; user: string; password: string; database: string; socketDir?: string; sslmode?: string }): Record<string, string> {
  const e: Record<string, string> = {
    PGHOST: t.socketDir ?? t.host,
    PGPORT: String(t.port),
    PGUSER: t.user,
    PGDATABASE: t.database,
    PGAPPNAME: brand.binary,
    PGCONNECT_TIMEOUT: "10",
  };
  if (t.password) e.PGPASSWORD = t.password;
  if (t.sslmode) e.PGSSLMODE = t.sslmode;
  return e;
}

/** Where to look for the tools: --pg-bin DIR, or --docker-container NAME. */
export interface ToolLocation {
  pgBin?: string;
  container?: string;
}

/** The container runtime's CLI: docker, or PGSHIP_DOCKER (e.g. podman). */
export const dockerCommand = (): string => env()[envName("DOCKER")] || "docker";

/**
 * findPgTool, or the tool inside the database's container. Both refuse a tool
 * older than the server, naming the version needed and the ways to get it.
 */
export async function locatePgTool(name: "pg_dump" | "pg_restore" | "psql", needMajor: number, where: ToolLocation): Promise<PgTool> {
  if (!where.container) {
    try {
      return await findPgTool(name, needMajor, where.pgBin);
    } catch (e) {
      if (e instanceof PgshipError && e.code === "tool_missing") {
        throw new PgshipError(e.code, e.message, { hint: `${e.hint}, or run them inside the database's container with --docker-container NAME`, cause: e.cause });
      }
      throw e;
    }
  }
  const spec = toolSpec({ path: name, version: "", major: 0, container: where.container }, ["--version"], {});
  const r = await runProc(spec).catch((e: unknown) => {
    if (e instanceof PgshipError && e.code === "tool_missing") {
      throw new PgshipError("tool_missing", `${spec.command} was not found on PATH (needed for --docker-container ${where.container})`, {
        hint: `install Docker, set ${envName("DOCKER")} to another compatible CLI (e.g. podman), or drop --docker-container to use local tools`,
      });
    }
    throw e;
  });
  const v = r.code === 0 ? parseToolVersion(r.stdout) : null;
  if (!v) {
    throw new PgshipError("tool_missing", `could not run ${name} in container "${where.container}": ${(r.stderr || r.stdout).trim().split("\n")[0] || `exit ${r.code}`}`, {
      hint: `check the container name (docker ps) and that its image has the PostgreSQL client tools`,
    });
  }
  if (v.major < needMajor) {
    throw new PgshipError("tool_missing", `${name} in container "${where.container}" is ${v.version}, but ${needMajor} or newer is needed`, {
      hint: `use a container whose image has PostgreSQL ${needMajor} client tools, or install them here and drop --docker-container`,
    });
  }
  return { path: name, ...v, container: where.container };
}

/** A tool from the same installation (psql beside pg_restore): same version, same \restrict support. */
export async function siblingTool(tool: PgTool, name: "pg_dump" | "pg_restore" | "psql"): Promise<PgTool> {
  if (tool.container) return locatePgTool(name, tool.major, { container: tool.container });
  return findPgTool(name, tool.major, dirname(tool.path));
}

/** The variables a tool inside a container gets: not where the server is (it connects to its own), only who and which database. */
const DOCKER_ENV = new Set(["PGUSER", "PGPASSWORD", "PGDATABASE", "PGAPPNAME", "PGCONNECT_TIMEOUT", "PGOPTIONS"]);

/**
 * The process that runs a tool. With a container it is `docker exec [-i] -e NAME … CONTAINER tool args`:
 * `-e NAME` without a value makes docker copy the value from its own
 * environment, so the password is never on a command line.
 */
export function toolSpec(tool: PgTool, args: string[], toolEnv: Record<string, string>, opts: { stdin?: boolean } = {}): ProcSpec {
  if (!tool.container) return { command: tool.path, args, env: toolEnv };
  const passed = Object.fromEntries(Object.entries(toolEnv).filter(([k]) => DOCKER_ENV.has(k)));
  return {
    command: dockerCommand(),
    args: ["exec", ...(opts.stdin ? ["-i"] : []), ...Object.keys(passed).sort().flatMap((k) => ["-e", k]), tool.container, tool.path, ...args],
    env: passed,
  };
}

export function describeTool(t: PgTool): string {
  return t.container ? `${t.path} ${t.version} in container ${t.container}` : `${t.path} (${t.version})`;
}
