// bun bench/big-migration.ts [--size-mb 50] [--bin dist/pgship] [--no-build]
//
// Peak memory of `up --migrations-dir` on one big migration: generates a ~50 MB
// migration of multi-row INSERTs in a temp dir (once transactional, once with
// transaction:false, where every statement is its own round trip), applies it to a
// fresh database of a throwaway cluster, and prints the peak RSS of the pgship
// process (GNU time's %M when installed, else VmHWM polled from /proc; see
// bench/measure.ts). A measurement, not a timed test: results go in bench/README.md.

import postgres from "postgres";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { startCluster } from "../test/harness/cluster.ts";
import { rssMethod, runTimed } from "./measure.ts";

const REPO = resolve(import.meta.dir, "..");
const { values } = parseArgs({
  options: {
    "size-mb": { type: "string", default: "50" },
    bin: { type: "string", default: join(REPO, "dist", "pgship") },
    "no-build": { type: "boolean", default: false },
  },
});
const SIZE = Number(values["size-mb"]) * 1024 * 1024;
const BIN = resolve(values.bin!);

if (!values["no-build"] && values.bin === join(REPO, "dist", "pgship")) {
  spawnSync(join(REPO, "node_modules", ".bin", "bun"), ["scripts/build.ts"], { cwd: REPO, stdio: "inherit" });
}

/** One migration file of about `bytes` bytes: a table, then INSERTs of 100 rows each (~10 KB a statement). */
function bigMigration(bytes: number, transaction: boolean): string {
  const parts = [`-- migrate:up${transaction ? "" : " transaction:false"}\ncreate table big (id int, payload text);\n`];
  let size = parts[0]!.length;
  let id = 0;
  while (size < bytes) {
    const rows: string[] = [];
    for (let r = 0; r < 100; r++) rows.push(`(${++id}, 'row ${id}; with a semicolon in a string and some padding ${"x".repeat(40)}')`);
    const st = `insert into big (id, payload) values\n  ${rows.join(",\n  ")};\n`;
    parts.push(st);
    size += st.length;
  }
  parts.push("-- migrate:down\ndrop table big;\n");
  return parts.join("");
}

const work = mkdtempSync(join(tmpdir(), "pgship-big-"));
const cluster = await startCluster();
try {
  const admin = postgres(cluster.url("postgres"), { max: 1, onnotice: () => {} });
  const rows: string[] = [];
  for (const transaction of [true, false]) {
    const dir = join(work, transaction ? "tx" : "notx");
    spawnSync("mkdir", ["-p", dir]);
    const file = join(dir, "20250101000000_big.sql");
    writeFileSync(file, bigMigration(SIZE, transaction));
    const mib = statSync(file).size / 1024 / 1024;
    const db = `big_${transaction ? "tx" : "notx"}`;
    await admin.unsafe(`create database ${db}`);
    const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", DATABASE_URL: cluster.url(db) };
    const s = await runTimed({ argv: [BIN, "up", "--migrations-dir", dir, "--no-verify", "--quiet"], env, cwd: work });
    const c = postgres(cluster.url(db), { max: 1, onnotice: () => {} });
    const [{ n }] = (await c<{ n: number }[]>`select count(*)::int as n from big`) as unknown as [{ n: number }];
    await c.end();
    rows.push(`| ${transaction ? "transactional" : "transaction:false"} | ${mib.toFixed(1)} | ${n} | ${(s.ms / 1000).toFixed(1)} | ${s.rssMiB.toFixed(0)} |`);
    console.log(rows.at(-1));
  }
  await admin.end();
  console.log(["", `peak RSS by ${rssMethod}; binary ${BIN}`, "", "| migration | file MiB | rows | seconds | peak RSS MiB |", "|---|---:|---:|---:|---:|", ...rows].join("\n"));
} finally {
  cluster.stop();
  rmSync(work, { recursive: true, force: true });
}
