// bun bench/backup.ts --s3 [--runs 3] [--size-gb 0.25] [--out bench/backup-results.md]   (= bun run bench:backup:s3)
//
// The S3 target of the backup benchmark: `pgship backup --dir s3://…` against
// `pg_dump -Fc | bun bench/s3-put.ts s3://…` (the same multipart uploader and
// nothing else), and `pgship restore s3://… --into` against `bun bench/s3-get.ts
// s3://… | pg_restore -d` (the same client, one download, no checks), in the same run, interleaved, against a real S3-compatible
// server on loopback (s3rver, as in the tests), on a generated database of at
// least --size-gb. pgship's time includes what it does beyond the upload: sha256
// on the way, HEAD, the object read back (sha256 again, pg_restore --list) and
// the manifest. Peak RSS: GNU time %M (see measure.ts). Replaces the "S3"
// section of bench/backup-results.md, leaving the rest of the file as it is.

import postgres from "postgres";
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
  let k = 0;
  const cases: { name: string; run(): Promise<Sample> }[] = [
    { name: "pg_dump -Fc | s3-put (raw)", run: () => runTimed({ argv: ["bash", "-c", `set -o pipefail; ${pgDump} -Fc -d bench | ${BUN} ${join(REPO, "bench/s3-put.ts")} s3://bench/raw/r${++k}.dump`], env, cwd: REPO }) },
    { name: "pgship backup --dir s3://", run: () => runTimed({ argv: [PGSHIP, "backup", "--dir", "s3://bench/pgship", "--keep-last", "1"], env, cwd: work }) },
  ];
  const samples = new Map<string, Sample[]>();
  for (let r = -1; r < RUNS; r++) {
    for (const kase of r % 2 ? cases : [...cases].reverse()) {
      const s = await kase.run();
      log(`  ${r < 0 ? "warm-up " : ""}${kase.name}: ${(s.ms / 1000).toFixed(1)} s, ${s.rssMiB.toFixed(0)} MiB`);
      if (r >= 0) samples.set(kase.name, [...(samples.get(kase.name) ?? []), s]);
    }
  }
  // Restores of what was just uploaded, each into a new database (dropped after the run):
  // the raw object streamed into pg_restore, against pgship restore s3://… --into.
  const listed = JSON.parse(runSetup({ argv: [PGSHIP, "backups", "--dir", "s3://bench/pgship", "--json"], env, cwd: work })) as { backups: { file: string | null }[] };
  const ourFile = listed.backups.find((b) => b.file)?.file;
  if (!ourFile) throw new Error("no backup listed in s3://bench/pgship");
  let d = 0;
  const fresh = async () => {
    const name = `restored_${++d}`;
    await admin.unsafe(`create database ${name}`);
    return name;
  };
  const restoreCases: { name: string; run(): Promise<Sample> }[] = [
    { name: "s3-get | pg_restore -d (raw)", run: async () => runTimed({ argv: ["bash", "-c", `set -o pipefail; ${BUN} ${join(REPO, "bench/s3-get.ts")} s3://bench/raw/r1.dump | ${join(c.binDir, "pg_restore")} --no-owner -d ${await fresh()}`], env, cwd: REPO }) },
    { name: "pgship restore s3:// --into", run: async () => runTimed({ argv: [PGSHIP, "restore", ourFile, "--into", `restored_${++d}`], env, cwd: work }) },
  ];
  for (let r = -1; r < RUNS; r++) {
    for (const kase of r % 2 ? restoreCases : [...restoreCases].reverse()) {
      const s = await kase.run();
      log(`  ${r < 0 ? "warm-up " : ""}${kase.name}: ${(s.ms / 1000).toFixed(1)} s, ${s.rssMiB.toFixed(0)} MiB`);
      if (r >= 0) samples.set(kase.name, [...(samples.get(kase.name) ?? []), s]);
    }
    for (let i = 1; i <= d; i++) await admin.unsafe(`drop database if exists restored_${i}`);
  }
  const [raw, ours] = cases.map((x) => samples.get(x.name)!);
  const [rawRestore, ourRestore] = restoreCases.map((x) => samples.get(x.name)!);
  const restoreRatio = median(ourRestore!.map((s) => s.ms)) / median(rawRestore!.map((s) => s.ms));
  const restorePaired = median(ourRestore!.map((s, i) => s.ms / rawRestore![i]!.ms));
  const restoreRss = max(ourRestore!.map((s) => s.rssMiB));
  const archiveBytes = statSync(join(s3.dir, "bench", "raw", "r1.dump._S3rver_object")).size;
  const ratio = median(ours!.map((s) => s.ms)) / median(raw!.map((s) => s.ms));
  const paired = median(ours!.map((s, i) => s.ms / raw![i]!.ms));
  const rss = max(ours!.map((s) => s.rssMiB));
  const row = (name: string, xs: Sample[], vs: string) =>
    `| ${name.replace(/\|/g, "\\|")} | ${(median(xs.map((s) => s.ms)) / 1000).toFixed(1)} | ${(min(xs.map((s) => s.ms)) / 1000).toFixed(1)} | ${max(xs.map((s) => s.rssMiB)).toFixed(0)} | ${vs} |`;
  const section = `## S3 (backup --dir s3://)

- Date: ${new Date().toISOString()}; ${availableParallelism()} CPUs, ${(totalmem() / 1024 ** 3).toFixed(1)} GiB RAM, Linux ${release()}; load average at start ${loadavg().map((l) => l.toFixed(2)).join(" ")}
- Database: ${(Number(dbSize) / 1024 ** 3).toFixed(2)} GiB (pg_database_size; an events table), generated by bench/backup-s3.ts at --size-gb ${SIZE_GB} (the 1 GiB database of the table above takes too long to generate on a shared 2-core machine); archive ${(archiveBytes / 1024 ** 2).toFixed(0)} MiB (pg_dump's default compression)
- Server: s3rver on 127.0.0.1 (a Node process writing to the local disk), the same for both cases; parts of 8 MiB, 2 in flight
- Method: ${RUNS} measured run(s) per case after one warm-up, alternating order; peak RSS via ${rssMethod} (max over runs; for the raw pipeline: bun running bench/s3-put.ts)

| case | median s | min s | peak RSS MiB | vs raw |
|---|---:|---:|---:|---|
${row(cases[0]!.name, raw!, "(baseline)")}
${row(cases[1]!.name, ours!, `${ratio.toFixed(3)}× (paired ${paired.toFixed(3)}×); target ≤ 1.1×, < 100 MiB: ${ratio <= 1.1 && rss < 100 ? "met" : "**not met**"}`)}
${row(restoreCases[0]!.name, rawRestore!, "(baseline)")}
${row(restoreCases[1]!.name, ourRestore!, `${restoreRatio.toFixed(3)}× (paired ${restorePaired.toFixed(3)}×); target ≤ 1.05×, < 100 MiB: ${restoreRatio <= 1.05 && restoreRss < 100 ? "met" : "**not met**"}`)}

pgship's backup time includes the read-back the backup promises: after the upload completes, the whole object is downloaded again (sha256, pg_restore --list) before the manifest is written. Its restore reads the manifest, checks the stored object's sha256 before it touches anything (one download), then streams it into pg_restore (a second download), checking the sha256 again before the result is kept; the raw restore downloads once and checks nothing. On loopback the download is fast (s3rver reads a file) and pg_dump dominates; against a remote S3 the download time of the archive is added. Single runs on a shared machine vary widely (see the load average); the paired ratio compares the two cases run back to back.

Generated by \`bun bench/backup.ts --s3\` (bench/backup-s3.ts).
`;
  const prev = existsSync(opts.out!) ? readFileSync(opts.out!, "utf8") : "";
  const before = prev.split(/^## S3 \(backup --dir s3:\/\/\)$/m)[0]!.trimEnd();
  writeFileSync(opts.out!, `${before ? `${before}\n\n` : ""}${section}`);
  process.stdout.write(section);
} finally {
  await cleanup();
}
