// Finding pg_dump / pg_restore: --pg-bin, PATH, then the usual install
// directories, keeping the newest whose major version is at least the server's.

import { existsSync, readdirSync } from "node:fs";
import { delimiter, join } from "node:path";
import { PgshipError } from "../core/errors.ts";
import { env } from "../runtime.ts";
import { runProc } from "./proc.ts";

export interface PgTool {
  path: string;
  version: string;
  major: number;
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

export function parseToolVersion(text: string): { version: string; major: number } | null {
  const m = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(text);
  if (!m) return null;
  return { version: m[2] ? `${m[1]}.${m[2]}` : m[1]!, major: Number(m[1]) };
}

export async function findPgTool(name: "pg_dump" | "pg_restore" | "psql", serverMajor: number, pgBin?: string): Promise<PgTool> {
  const found: PgTool[] = [];
  for (const dir of candidateDirs(pgBin, env().PATH)) {
    const path = join(dir, name);
    if (!existsSync(path)) continue;
    const r = await runProc({ command: path, args: ["--version"] }).catch(() => null);
    const v = r && r.code === 0 ? parseToolVersion(r.stdout) : null;
    if (v && !found.some((f) => f.path === path)) found.push({ path, ...v });
  }
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
    PGAPPNAME: "pgship",
    PGCONNECT_TIMEOUT: "10",
  };
  if (t.password) e.PGPASSWORD = t.password;
  if (t.sslmode) e.PGSSLMODE = t.sslmode;
  return e;
}
