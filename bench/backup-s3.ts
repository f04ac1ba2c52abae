// bun bench/backup.ts --s3 [--runs 3] [--size-gb 0.25] [--out bench/backup-results.md]   (= bun run bench:backup:s3)
//
// The S3 target of the backup benchmark, each pgship case against a raw pipeline
// with the same S3 client and nothing else, in the same run, interleaved, against a
// real S3-compatible server on loopback (s3rver, as in the tests), on a generated
// database of at least --size-gb: `pgship backup --dir s3://…` against `pg_dump -Fc
// | bun bench/s3-put.ts s3://…`; with `--encrypt-to` against `pg_dump -Fc | age -r
// | s3-put`; `pgship restore s3://… --into` against `bun bench/s3-get.ts s3://… |
// pg_restore -d`; and the encrypted restore (its memory). pgship's time includes
// what it does beyond the transfer: sha256 on the way, HEAD, the object read back
// (sha256 again, pg_restore --list) and the manifest. Peak RSS: GNU time %M (see
// measure.ts). Replaces the "S3" section of bench/backup-results.md, leaving the
// rest of the file as it is.

import postgres from "postgres";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, release, tmpdir, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { startCluster } from "../test/harness/cluster.ts";
import { startS3 } from "../test/harness/s3.ts";
import { max, median, min, rssMethod, runSetup, runTimed, type Sample } from "./measure.ts";

const REPO = resolve(import.meta.dir, "..");
const { values: opts } = parseArgs({
  options: {
    s3: { type: "boolean", default: true },
    runs: { type: "string", default: "3" },
    "size-gb": { type: "string", default: "0.25" },
    out: { type: "string", default: join(REPO, "bench", "backup-results.md") },
  },
});
const RUNS = Number(opts.runs);
const SIZE_GB = Number(opts["size-gb"]);
const log = (m: string) => process.stderr.write(`${m}\n`);

log("building dist/pgship");
runSetup({ argv: [join(REPO, "node_modules/.bin/bun"), "scripts/build.ts"], env: { ...(process.env as Record<string, string>) }, cwd: REPO });
const PGSHIP = join(REPO, "dist", "pgship");
const BUN = join(REPO, "node_modules/.bin/bun");

const c = await startCluster({ extraConf: ["max_wal_size = '8GB'", "autovacuum = off"] });
const s3 = await startS3(["bench"]);
const work = mkdtempSync(join(tmpdir(), "pgship-bench-s3-"));
const admin = postgres(c.url("postgres"), { max: 1, onnotice: () => {} });
const cleanup = async () => {
  await admin.end().catch(() => undefined);
  await s3.stop();
  c.stop();
  rmSync(work, { recursive: true, force: true });
};
try {
  await admin`create database bench`;
  const url = c.url("bench");
  const env: Record<string, string> = { PATH: `${c.binDir}:/usr/bin:/bin`, HOME: work, NO_COLOR: "1", PGHOST: "127.0.0.1", PGPORT: String(c.port), PGUSER: "postgres", PGPASSWORD: c.password, DATABASE_URL: url, PGDATABASE: "bench", ...s3.env };
  runSetup({ argv: [PGSHIP, "up"], env, cwd: work });
  const db = postgres(url, { max: 1, onnotice: () => {} });
  log(`generating at least ${SIZE_GB} GiB of data`);
  await db.unsafe(`
    create table events (id bigserial primary key, instance_id bigint not null, occurred_at timestamptz not null, kind text not null,
      status int, duration_ms int, payload jsonb not null, message text not null)`);
  for (let i = 0; ; i++) {
    const [{ size }] = (await db`select pg_database_size(current_database())::bigint as size`) as unknown as [{ size: string }];
    if (Number(size) >= SIZE_GB * 1024 ** 3) break;
    await db.unsafe(`
      insert into events (instance_id, occurred_at, kind, status, duration_ms, payload, message)
      select 1 + (g::bigint * 7919) % 400000, timestamptz '2025-01-01' + (g % 15000000) * interval '1 second',
             (array['http.request','webhook.delivery','login','api.call','backup.run','job.finished'])[1 + g % 6],
             (array[200,200,200,201,204,301,400,404,500])[1 + (g * 31) % 9], (random() * 2000)::int,
             jsonb_build_object('path', '/api/v1/users/' || (g % 100000), 'bytes', (random() * 100000)::int, 'trace', md5(g::text)),
             'request ' || md5(random()::text) || ' took ' || (random() * 900)::int || ' ms'
        from generate_series(${i * 250_000 + 1}, ${(i + 1) * 250_000}) g`);
  }
  await db.unsafe("vacuum analyze");
  const [{ size: dbSize }] = (await db`select pg_database_size(current_database())::bigint as size`) as unknown as [{ size: string }];
  await db.end();
  log(`database: ${(Number(dbSize) / 1024 ** 3).toFixed(2)} GiB`);

  const pgDump = join(c.binDir, "pg_dump");
  const keys = join(work, "age.key");
  const recipient = /age1[0-9a-z]+/.exec(spawnSync("age-keygen", ["-o", keys], { encoding: "utf8" }).stderr)![0];
  let k = 0;
  type Case = { name: string; run(): Promise<Sample> };
  const put = (to: string) => `${BUN} ${join(REPO, "bench/s3-put.ts")} s3://bench/${to}`;
  const backupCases: Case[] = [
    { name: "pg_dump -Fc | s3-put (raw)", run: () => runTimed({ argv: ["bash", "-c", `set -o pipefail; ${pgDump} -Fc -d bench | ${put(`raw/r${++k}.dump`)}`], env, cwd: REPO }) },
    { name: "pgship backup --dir s3://", run: () => runTimed({ argv: [PGSHIP, "backup", "--dir", "s3://bench/pgship", "--keep-last", "1"], env, cwd: work }) },
    { name: "pg_dump -Fc | age -r | s3-put (raw)", run: () => runTimed({ argv: ["bash", "-c", `set -o pipefail; ${pgDump} -Fc -d bench | age -r ${recipient} | ${put(`raw-enc/r${++k}.dump.age`)}`], env, cwd: REPO }) },
    { name: "pgship backup --dir s3:// --encrypt-to", run: () => runTimed({ argv: [PGSHIP, "backup", "--dir", "s3://bench/pgship-enc", "--encrypt-to", recipient, "--keep-last", "1"], env, cwd: work }) },
  ];
  const samples = new Map<string, Sample[]>();
  const measure = async (cases: Case[], after?: () => Promise<void>) => {
    for (let r = -1; r < RUNS; r++) {
      // Rotating order, so drift on the machine hits every case alike.
      for (let i = 0; i < cases.length; i++) {
        const kase = cases[(i + r + 1) % cases.length]!;
        const s = await kase.run();
        log(`  ${r < 0 ? "warm-up " : ""}${kase.name}: ${(s.ms / 1000).toFixed(1)} s, ${s.rssMiB.toFixed(0)} MiB`);
        if (r >= 0) samples.set(kase.name, [...(samples.get(kase.name) ?? []), s]);
      }
      await after?.();
    }
  };
  await measure(backupCases);

  // Restores of what was just uploaded, each into a new database (dropped after each round):
  // the raw object streamed into pg_restore, against pgship restore s3://… --into.
  const newest = (dir: string) => {
    const listed = JSON.parse(runSetup({ argv: [PGSHIP, "backups", "--dir", dir, "--json"], env, cwd: work })) as { backups: { file: string | null }[] };
    const file = listed.backups.find((b) => b.file)?.file;
    if (!file) throw new Error(`no backup listed in ${dir}`);
    return file;
  };
  const [plainFile, encFile] = [newest("s3://bench/pgship"), newest("s3://bench/pgship-enc")];
  let d = 0;
  const fresh = async () => {
    const name = `restored_${++d}`;
    await admin.unsafe(`create database ${name}`);
    return name;
  };
  const restoreCases: Case[] = [
    { name: "s3-get | pg_restore -d (raw)", run: async () => runTimed({ argv: ["bash", "-c", `set -o pipefail; ${BUN} ${join(REPO, "bench/s3-get.ts")} s3://bench/raw/r1.dump | ${join(c.binDir, "pg_restore")} --no-owner -d ${await fresh()}`], env, cwd: REPO }) },
    { name: "pgship restore s3:// --into", run: async () => runTimed({ argv: [PGSHIP, "restore", plainFile, "--into", `restored_${++d}`], env, cwd: work }) },
    { name: "pgship restore s3:// --into (encrypted)", run: async () => runTimed({ argv: [PGSHIP, "restore", encFile, "--identity", keys, "--into", `restored_${++d}`], env, cwd: work }) },
  ];
  await measure(restoreCases, async () => {
    for (let i = 1; i <= d; i++) await admin.unsafe(`drop database if exists restored_${i}`);
  });

  const archiveBytes = statSync(join(s3.dir, "bench", "raw", "r1.dump._S3rver_object")).size;
  const of = (name: string) => samples.get(name)!;
  const med = (name: string) => median(of(name).map((s) => s.ms));
  const peak = (name: string) => max(of(name).map((s) => s.rssMiB));
  /** A case against its peer: the ratio of medians and the median of the per-round ratios, and whether the targets hold. */
  const judged = (name: string, peer: string | null, limit: number | null) => {
    const memory = peak(name) < 100;
    if (!peer) return `peak < 100 MiB: ${memory ? "met" : "**not met**"}`;
    const ratio = med(name) / med(peer);
    const paired = median(of(name).map((s, i) => s.ms / of(peer)[i]!.ms));
    const fast = limit === null || ratio <= limit;
    return `${ratio.toFixed(3)}× ${peer.replace(/ \(raw\)$/, "")} (paired ${paired.toFixed(3)}×); target${limit === null ? "" : ` ≤ ${limit}×,`} < 100 MiB: ${fast && memory ? "met" : "**not met**"}`;
  };
  const row = (name: string, vs: string) =>
    `| ${name.replace(/\|/g, "\\|")} | ${(med(name) / 1000).toFixed(1)} | ${(min(of(name).map((s) => s.ms)) / 1000).toFixed(1)} | ${peak(name).toFixed(0)} | ${vs.replace(/\|/g, "\\|")} |`;
  const section = `## S3 (backup --dir s3://, restore s3://…)

- Date: ${new Date().toISOString()}; ${availableParallelism()} CPUs, ${(totalmem() / 1024 ** 3).toFixed(1)} GiB RAM, Linux ${release()}; load average at start ${loadavg().map((l) => l.toFixed(2)).join(" ")}
- Database: ${(Number(dbSize) / 1024 ** 3).toFixed(2)} GiB (pg_database_size; an events table), generated by bench/backup-s3.ts at --size-gb ${SIZE_GB} (the 1 GiB database of the table above takes too long to generate on a shared 2-core machine); archive ${(archiveBytes / 1024 ** 2).toFixed(0)} MiB (pg_dump's default compression)
- Server: s3rver on 127.0.0.1 (a Node process writing to the local disk), the same for every case; parts of 5 MiB, 2 in flight
- Method: ${RUNS} measured run(s) per case after one warm-up, in rounds (rotating order); peak RSS via ${rssMethod} (max over runs; for a raw pipeline: its largest process, bun running bench/s3-put.ts or s3-get.ts)

| case | median s | min s | peak RSS MiB | vs raw |
|---|---:|---:|---:|---|
${row(backupCases[0]!.name, "(baseline)")}
${row(backupCases[1]!.name, judged(backupCases[1]!.name, backupCases[0]!.name, 1.1))}
${row(backupCases[2]!.name, "(baseline)")}
${row(backupCases[3]!.name, judged(backupCases[3]!.name, backupCases[2]!.name, 1.1))}
${row(restoreCases[0]!.name, "(baseline)")}
${row(restoreCases[1]!.name, judged(restoreCases[1]!.name, restoreCases[0]!.name, 1.05))}
${row(restoreCases[2]!.name, judged(restoreCases[2]!.name, null, null))}

pgship's backup time includes the read-back the backup promises: after the upload completes, the whole object is downloaded again (sha256, pg_restore --list; decrypted with a throwaway key the archive is also encrypted to) before the manifest is written. Its restore downloads the object once into a private temporary file, checking its sha256 against the manifest before it touches anything, then has pg_restore list and restore that copy, checking both sha256 again before the result is kept; the raw restore streams the object straight into pg_restore and checks nothing. Against a remote S3 that one download is the most of the time; on loopback, writing and reading the local copy is the extra. On loopback the downloads are fast (s3rver reads a file) and pg_dump / pg_restore dominate; against a remote S3 the download time of the archive is added. Single runs on a shared machine vary widely (see the load average); the paired ratio compares cases of the same round.

Generated by \`bun bench/backup.ts --s3\` (bench/backup-s3.ts).
`;
  const prev = existsSync(opts.out!) ? readFileSync(opts.out!, "utf8") : "";
  const before = prev.split(/^## S3 \(backup --dir s3:\/\//m)[0]!.trimEnd();
  writeFileSync(opts.out!, `${before ? `${before}\n\n` : ""}${section}`);
  process.stdout.write(section);
} finally {
  await cleanup();
}
