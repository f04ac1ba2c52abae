// bun bench/startup.ts [--out bench/startup-results.md]
//
// The compiled binary's size (raw and gzipped) and its cold start: `--version`
// (no database) and `status` (connect, read the tracking table) on a throwaway
// cluster, each a new process, timed with hyperfine when it is installed
// (Debian: apt-get install hyperfine), else with our own timer. The sizes of
// the compressed downloads (.gz, .xz) are bench/download.ts's.

import postgres from "postgres";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { startCluster } from "../test/harness/cluster.ts";
import { median, min, runTimed } from "./measure.ts";

const DOWNLOAD_SECTION = "## download size";

const REPO = resolve(import.meta.dir, "..");
const { values } = parseArgs({ options: { out: { type: "string", default: join(REPO, "bench", "startup-results.md") }, runs: { type: "string", default: "20" } } });
const RUNS = Number(values.runs);
const BIN = join(REPO, "dist", "pgship");

spawnSync(join(REPO, "node_modules", ".bin", "bun"), ["scripts/build.ts"], { cwd: REPO, stdio: "inherit" });
const raw = statSync(BIN).size;
const gz = gzipSync(readFileSync(BIN), { level: 9 }).length;

const cluster = await startCluster();
try {
  const admin = postgres(cluster.url("postgres"), { max: 1, onnotice: () => {} });
  await admin`create database startup`;
  await admin.end();
  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", DATABASE_URL: cluster.url("startup") };
  spawnSync(BIN, ["up", "--quiet"], { env, stdio: "inherit" });
  const rows: string[] = [];
  for (const args of [["--version"], ["status"], ["status", "--json"]]) {
    const samples = [];
    await runTimed({ argv: [BIN, ...args], env, cwd: REPO });
    for (let i = 0; i < RUNS; i++) samples.push(await runTimed({ argv: [BIN, ...args], env, cwd: REPO }));
    rows.push(`| \`pgship ${args.join(" ")}\` | ${median(samples.map((s) => s.ms)).toFixed(1)} | ${min(samples.map((s) => s.ms)).toFixed(1)} | ${Math.max(...samples.map((s) => s.rssMiB)).toFixed(1)} |`);
  }
  const mib = (n: number) => (n / 1024 / 1024).toFixed(1);
  const text = [
    "# start-up and size",
    "",
    `${new Date().toISOString()} · ${availableParallelism()} CPUs · load ${loadavg()[0]!.toFixed(2)} · ${RUNS} runs each (new process every time)`,
    "",
    `Binary \`dist/pgship\`: ${mib(raw)} MiB raw, ${mib(gz)} MiB gzipped (-9). Most of it is the Bun runtime.`,
    "",
    "| command | median ms | min ms | peak RSS MiB |",
    "|---|---:|---:|---:|",
    ...rows,
    "",
  ].join("\n");
  // Keep bench/download.ts's section (its xz runs take minutes).
  const old = existsSync(values.out!) ? readFileSync(values.out!, "utf8") : "";
  const kept = old.includes(DOWNLOAD_SECTION) ? `\n${old.slice(old.indexOf(DOWNLOAD_SECTION))}` : "";
  writeFileSync(values.out!, text + kept);
  console.log(text);
} finally {
  cluster.stop();
}
