// bun bench/backup.ts [--runs 5] [--size-gb 1] [--out bench/backup-results.md] [--keep]   (= bun run bench:backup)
//
// pgship backup / restore against the raw tools at the same settings, on a
// generated database of at least --size-gb (default 1 GiB, pg_database_size):
//   backup:  pgship backup             vs  pg_dump -Fc > file
//            pgship backup --encrypt-to vs  pg_dump -Fc | age -r > file   (and vs plain pg_dump)
//            pgship backup --passphrase-file (memory: scrypt)
//            pgship backup --jobs 2     vs  pg_dump -Fd -j 2 (and vs pgship backup: the speed-up)
//   restore: pgship restore --into     vs  pg_restore -d (fresh database)
//            pgship restore (age file) vs  age -d | pg_restore -d
//            pgship restore --jobs 2    vs  pg_restore -j 2 -d (directory)
// Same pg_dump / pg_restore binaries, same compression (pg_dump's default for
// the server), same server. Runs are interleaved across the cases of a group.
// Peak RSS is the child's maximum resident set (GNU time %M, see measure.ts);
// for pgship that is pgship itself (pg_dump's own RSS is a few MiB).
// Writes bench/backup-results.md. Takes a while: ~4 min per round at 1 GiB on
// 2 cores. Run by hand; not part of `npm test`.
// With --s3: the S3 target instead (bench/backup-s3.ts): backups to and restores
// from s3://… (plain and encrypted) against raw pipelines with the same S3 client,
// on a local S3 server; its own section of the results, which a run without --s3 keeps.

import postgres from "postgres";

if (process.argv.includes("--s3")) {
  await import("./backup-s3.ts");
  process.exit(0);
}
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, release, tmpdir, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { startCluster } from "../test/harness/cluster.ts";
import { max, median, min, rssMethod, runSetup, runTimed, type Sample } from "./measure.ts";

const REPO = resolve(import.meta.dir, "..");
const { values: opts } = parseArgs({
  options: {
    runs: { type: "string", default: "5" },
    "size-gb": { type: "string", default: "1" },
    out: { type: "string", default: join(REPO, "bench", "backup-results.md") },
    keep: { type: "boolean", default: false },
  },
});
const RUNS = Number(opts.runs);
const SIZE_GB = Number(opts["size-gb"]);
if (!(RUNS >= 1) || !(SIZE_GB > 0)) throw new Error("--runs must be ≥ 1 and --size-gb > 0");
const log = (m: string) => process.stderr.write(`${m}\n`);

log("building dist/pgship");
runSetup({ argv: [join(REPO, "node_modules/.bin/bun"), "scripts/build.ts"], env: { ...(process.env as Record<string, string>) }, cwd: REPO });
const PGSHIP = join(REPO, "dist", "pgship");

const c = await startCluster({ extraConf: ["max_wal_size = '1GB'", "checkpoint_timeout = '30min'", "maintenance_work_mem = '256MB'", "autovacuum = off"] });
const work = mkdtempSync(join(tmpdir(), "pgship-bench-backup-"));
const admin = postgres(c.url("postgres"), { max: 1, onnotice: () => {} });
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    c.stop();
    rmSync(work, { recursive: true, force: true });
    process.exit(130);
  });
}
const baseEnv: Record<string, string> = { PATH: `${c.binDir}:/usr/bin:/bin`, HOME: work, NO_COLOR: "1", PGHOST: "127.0.0.1", PGPORT: String(c.port), PGUSER: "postgres", PGPASSWORD: c.password };

try {
  // --- the database: the app's schema, realistic rows, and an event log that makes up the bulk ---
  await admin`create database bench`;
  const url = c.url("bench");
  runSetup({ argv: [PGSHIP, "up"], env: { ...baseEnv, DATABASE_URL: url }, cwd: work });
  const db = postgres(url, { max: 1, onnotice: () => {} });
  const t0 = performance.now();
  log(`generating at least ${SIZE_GB} GiB of data`);
  await db.unsafe(`
    create table words (i int primary key, w text);
    insert into words select g, w from unnest(string_to_array(
      'request response timeout retry user account invoice payment webhook delivered failed queued instance api key token session login logout ' ||
      'export import backup restore upgrade migration schema index query slow fast cache miss hit error warning notice info debug trace ' ||
      'customer order shipped refund subscription renewal trial expired created updated deleted archived billing plan seat member', ' ')) with ordinality as t(w, g);
    create table phrases (i int primary key, body text);
    insert into phrases select g, (select string_agg(w, ' ') from words where i in (select 1 + floor(random() * 60)::int from generate_series(1, 6 + g % 9))) from generate_series(0, 9999) g;
    insert into users (email, display_name, password_hash, is_admin, csrf_token)
      select 'user' || g || '@example.org', 'User ' || g, encode(sha256(g::text::bytea), 'hex'), g % 500 = 0, md5(random()::text) from generate_series(1, 200000) g;
    insert into instances (user_id, name, base_url, status, slug)
      select 1 + (g % 200000), 'Instance ' || g, 'https://i' || g || '.example.net', (array['active','paused','disconnected'])[1 + g % 3]::instance_status, 'inst-' || g
      from generate_series(1, 400000) g;
    insert into api_keys (user_id, instance_id, label, key_prefix, key_hash, webhook_url, webhook_headers, last_used_at)
      select i.user_id, i.id, 'key ' || i.id, md5('p' || i.id), sha256(i.id::text::bytea), case when i.id % 3 = 0 then 'https://hooks.example.org/' || i.id end,
             jsonb_build_object('x-instance', i.id, 'x-env', (array['prod','staging'])[1 + i.id % 2]), now() - (i.id % 9000) * interval '1 minute'
      from instances i;
    create table events (
      id bigserial primary key, instance_id bigint not null, occurred_at timestamptz not null, kind text not null,
      status int, duration_ms int, client_ip inet, payload jsonb not null, message text not null);
  `);
  const target = SIZE_GB * 1024 ** 3;
  const batch = 500_000;
  for (let i = 0; ; i++) {
    const [{ size }] = (await db`select pg_database_size(current_database())::bigint as size`) as unknown as [{ size: string }];
    if (Number(size) >= target) break;
    await db.unsafe(`
      insert into events (instance_id, occurred_at, kind, status, duration_ms, client_ip, payload, message)
      select 1 + (g::bigint * 7919) % 400000, timestamptz '2025-01-01' + (g % 15000000) * interval '1 second',
             (array['http.request','webhook.delivery','login','api.call','backup.run','job.finished'])[1 + g % 6],
             (array[200,200,200,201,204,301,400,404,500])[1 + (g * 31) % 9], (random() * 2000)::int,
             ('10.' || (g % 250) || '.' || ((g / 250) % 250) || '.' || (g % 7))::inet,
             jsonb_build_object('path', '/api/v1/' || (array['users','instances','keys','hooks'])[1 + g % 4] || '/' || (g % 100000),
                                'ua', (array['curl/8.5','Mozilla/5.0 (X11; Linux x86_64)','python-requests/2.31','Go-http-client/2.0'])[1 + g % 4],
                                'bytes', (random() * 100000)::int, 'trace', md5(g::text)),
             p.body || ' #' || g
        from generate_series(${i * batch + 1}, ${(i + 1) * batch}) g join phrases p on p.i = g % 10000`);
    log(`  ${((i + 1) * batch).toLocaleString()} events`);
  }
  await db.unsafe("create index on events (instance_id, occurred_at)");
  await db.unsafe("create index on events (kind, occurred_at)");
  await db.unsafe("vacuum analyze");
  const [{ size: dbSize, events }] = (await db`select pg_database_size(current_database())::bigint as size, (select count(*) from events)::bigint as events`) as unknown as [{ size: string; events: string }];
  await db.end();
  log(`database: ${(Number(dbSize) / 1024 ** 3).toFixed(2)} GiB, ${Number(events).toLocaleString()} events (${((performance.now() - t0) / 1000).toFixed(0)} s)`);

  const keys = join(work, "key.txt");
  const recipient = /age1[0-9a-z]+/.exec(spawnSync("age-keygen", ["-o", keys], { encoding: "utf8" }).stderr)![0];
  const hasAgeCli = spawnSync("age", ["--version"]).status === 0;
  const passFile = join(work, "passphrase.txt");
  writeFileSync(passFile, "bench passphrase: long, random enough for a benchmark\n", { mode: 0o600 });
  const pgDump = join(c.binDir, "pg_dump");
  const pgRestore = join(c.binDir, "pg_restore");
  const out = (name: string) => join(work, name);
  const fresh = (d: string) => rmSync(d, { recursive: true, force: true });
  const env = { ...baseEnv, DATABASE_URL: url };

  interface Timed extends Sample {
    /** User + system CPU seconds of the client side (the tool and its children: pg_dump, pg_restore, age). */
    cpuS: number;
  }
  interface Case {
    group: string;
    name: string;
    run(i: number): Promise<Timed>;
  }
  let k = 0;
  /** runTimed (wall time, peak RSS), with a GNU time inside it for the CPU time of the whole client side. */
  const timed = async (argv: string[]): Promise<Timed> => {
    const cpuFile = join(work, `cpu-${++k}`);
    const s = await runTimed({ argv: ["/usr/bin/time", "-o", cpuFile, "-f", "%U %S", ...argv], env, cwd: work });
    const [user, sys] = readFileSync(cpuFile, "utf8").trim().split("\n").at(-1)!.split(" ").map(Number);
    return { ...s, cpuS: user! + sys! };
  };
  const pgshipBackup = (dir: string, extra: string[]) => async () => {
    fresh(dir);
    return timed([PGSHIP, "backup", "--dir", dir, ...extra]);
  };
  const raw = (script: string) => async () => timed(["bash", "-c", `set -o pipefail; ${script}`]);
  const onlyFile = (dir: string, ext: string) => join(dir, readdirSync(dir).find((f) => f.endsWith(ext))!);

  const backupCases: Case[] = [
    { group: "backup", name: "pg_dump -Fc > file (raw)", run: raw(`exec ${pgDump} -Fc -d bench > ${out("raw.dump")}`) },
    { group: "backup", name: "pgship backup", run: pgshipBackup(out("plain"), []) },
    ...(hasAgeCli ? [{ group: "backup", name: "pg_dump -Fc | age -r > file (raw)", run: raw(`${pgDump} -Fc -d bench | age -r ${recipient} > ${out("raw.dump.age")}`) }] : []),
    { group: "backup", name: "pgship backup --encrypt-to", run: pgshipBackup(out("enc"), ["--encrypt-to", recipient]) },
    { group: "backup", name: "pgship backup --passphrase-file", run: pgshipBackup(out("pass"), ["--passphrase-file", passFile]) },
    { group: "backup", name: "pg_dump -Fd -j 2 (raw)", run: raw(`rm -rf ${out("raw.dir")} && exec ${pgDump} -Fd -j 2 -f ${out("raw.dir")} -d bench`) },
    { group: "backup", name: "pgship backup --jobs 2", run: pgshipBackup(out("jobs"), ["--jobs", "2"]) },
  ];

  // Restores go into a new database per run: pgship --into creates it, the raw tools run createdb first (timed too).
  let n = 0;
  const restoreCase = (name: string, argv: (target: string) => string[]): Case => ({
    group: "restore",
    name,
    async run() {
      const target = `r${++n}`;
      try {
        return await timed(argv(target));
      } finally {
        await admin.unsafe(`drop database if exists ${target}`);
      }
    },
  });
  const createdb = join(c.binDir, "createdb");

  const samples = new Map<string, Timed[]>();
  const rotate = async (cases: Case[], runs: number) => {
    for (let r = -1; r < runs; r++) {
      const order = cases.map((_, i) => cases[(i + Math.max(r, 0)) % cases.length]!);
      for (const k of order) {
        const s = await k.run(r);
        log(`  ${r < 0 ? "warm-up " : ""}${k.name}: ${(s.ms / 1000).toFixed(1)} s, ${s.rssMiB.toFixed(0)} MiB`);
        if (r >= 0) samples.set(k.name, [...(samples.get(k.name) ?? []), s]);
      }
    }
  };
  log("backups");
  await rotate(backupCases, RUNS);
  const plainFile = onlyFile(out("plain"), ".dump");
  const encFile = onlyFile(out("enc"), ".dump.age");
  const jobsFile = onlyFile(out("jobs"), ".dump");
  const passFileBackup = onlyFile(out("pass"), ".dump.age");
  const sizes = { raw: statSync(out("raw.dump")).size, plain: statSync(plainFile).size, enc: statSync(encFile).size };

  const restoreCases: Case[] = [
    restoreCase("createdb && pg_restore -d (raw)", (t) => ["bash", "-c", `${createdb} ${t} && exec ${pgRestore} --exit-on-error --no-owner --no-acl -d ${t} ${out("raw.dump")}`]),
    restoreCase("pgship restore --into", (t) => [PGSHIP, "restore", plainFile, "--into", t]),
    ...(hasAgeCli
      ? [restoreCase("createdb && age -d | pg_restore -d (raw)", (t) => ["bash", "-c", `set -o pipefail; ${createdb} ${t} && age -d -i ${keys} ${encFile} | ${pgRestore} --exit-on-error --no-owner --no-acl -d ${t}`])]
      : []),
    restoreCase("pgship restore --into (encrypted)", (t) => [PGSHIP, "restore", encFile, "--identity", keys, "--into", t]),
    restoreCase("pgship restore --into (passphrase)", (t) => [PGSHIP, "restore", passFileBackup, "--passphrase-file", passFile, "--into", t]),
    restoreCase("createdb && pg_restore -j 2 -d dir (raw)", (t) => ["bash", "-c", `${createdb} ${t} && exec ${pgRestore} -j 2 --exit-on-error --no-owner --no-acl -d ${t} ${out("raw.dir")}`]),
    restoreCase("pgship restore --into --jobs 2 (backup --jobs 2)", (t) => [PGSHIP, "restore", jobsFile, "--into", t, "--jobs", "2"]),
  ];
  log("restores");
  await rotate(restoreCases, RUNS);

  // --- the report ---
  // Other work on a shared machine makes single runs drift by ±20 %: besides the ratio of medians, each
  // round's pair (run minutes apart) gives a ratio, and the median of those is what the targets are judged by.
  const med = (name: string) => median(samples.get(name)!.map((s) => s.ms));
  const paired = (name: string, peer: string) => median(samples.get(name)!.map((s, i) => s.ms / samples.get(peer)![i]!.ms));
  const rows: string[] = [];
  const cell = (t: string) => t.replace(/\|/g, "\\|");
  const row = (group: string, name: string, peer: string | null, limit: number | null) => {
    const xs = samples.get(name)!;
    const rss = max(xs.map((s) => s.rssMiB));
    const cpu = median(xs.map((s) => s.cpuS));
    const ratio = peer ? med(name) / med(peer) : null;
    const pair = peer ? paired(name, peer) : null;
    const met = limit === null || pair === null ? (rss < 100 || !name.startsWith("pgship") ? "—" : "**no** (RSS)") : pair <= limit && rss < 100 ? "yes" : "**no**";
    rows.push(
      `| ${group} | ${cell(name)} | ${(med(name) / 1000).toFixed(1)} | ${(min(xs.map((s) => s.ms)) / 1000).toFixed(1)} | ${cpu.toFixed(1)} | ${rss.toFixed(0)} | ` +
        `${peer ? `${cell(peer)}: ${ratio!.toFixed(3)}× / ${pair!.toFixed(3)}×` : "(baseline)"} | ${limit ? `≤ ${limit}×, < 100 MiB` : name.startsWith("pgship") ? "< 100 MiB" : "—"} | ${met} |`,
    );
  };
  const RAW_DUMP = "pg_dump -Fc > file (raw)";
  const RAW_AGE = "pg_dump -Fc | age -r > file (raw)";
  const RAW_RESTORE = "createdb && pg_restore -d (raw)";
  const RAW_AGE_RESTORE = "createdb && age -d | pg_restore -d (raw)";
  row("backup", RAW_DUMP, null, null);
  row("backup", "pgship backup", RAW_DUMP, 1.05);
  if (hasAgeCli) row("backup", RAW_AGE, RAW_DUMP, null);
  row("backup", "pgship backup --encrypt-to", RAW_DUMP, hasAgeCli ? null : 1.2);
  if (hasAgeCli) row("backup", "pgship backup --encrypt-to", RAW_AGE, 1.1);
  row("backup", "pgship backup --passphrase-file", RAW_DUMP, 1.2);
  row("backup", "pg_dump -Fd -j 2 (raw)", RAW_DUMP, null);
  row("backup", "pgship backup --jobs 2", "pg_dump -Fd -j 2 (raw)", 1.1);
  row("backup", "pgship backup --jobs 2", "pgship backup", null);
  row("restore", RAW_RESTORE, null, null);
  row("restore", "pgship restore --into", RAW_RESTORE, 1.05);
  if (hasAgeCli) row("restore", RAW_AGE_RESTORE, RAW_RESTORE, null);
  row("restore", "pgship restore --into (encrypted)", RAW_RESTORE, 1.2);
  if (hasAgeCli) row("restore", "pgship restore --into (encrypted)", RAW_AGE_RESTORE, null);
  row("restore", "pgship restore --into (passphrase)", RAW_RESTORE, null);
  row("restore", "createdb && pg_restore -j 2 -d dir (raw)", RAW_RESTORE, null);
  row("restore", "pgship restore --into --jobs 2 (backup --jobs 2)", "createdb && pg_restore -j 2 -d dir (raw)", 1.1);
  row("restore", "pgship restore --into --jobs 2 (backup --jobs 2)", "pgship restore --into", null);

  const [{ version }] = (await admin`select version()`) as unknown as [{ version: string }];
  const mib = (b: number) => `${(b / 1024 ** 2).toFixed(0)} MiB`;
  const report = `# pgship backup / restore benchmark

- Date: ${new Date().toISOString()}
- Machine: ${availableParallelism()} CPUs, ${(totalmem() / 1024 ** 3).toFixed(1)} GiB RAM, Linux ${release()}; load average at start ${loadavg().map((l) => l.toFixed(2)).join(" ")}
- PostgreSQL: ${version} (throwaway cluster, fsync off, TCP to 127.0.0.1)
- Database: ${(Number(dbSize) / 1024 ** 3).toFixed(2)} GiB (pg_database_size): the app's schema with 200k users, 400k instances, 400k api keys, and ${Number(events).toLocaleString()} events (jsonb payloads, text messages, inet, timestamps, two secondary indexes)
- Archives: raw pg_dump ${mib(sizes.raw)}, pgship ${mib(sizes.plain)} (same compression: pg_dump's default for this version), encrypted ${mib(sizes.enc)}
- Method: ${RUNS} measured run(s) per case after one untimed warm-up, interleaved in rounds (every case once per round, rotating order); wall time from spawn to exit; client CPU = user + system seconds of the tool and its children (pg_dump, pg_restore, age; not the server), median; peak RSS via ${rssMethod} (max over runs). "Paired" ratios compare the two cases within each round (minutes apart), which cancels most of the drift of a shared machine; targets are judged on their median.
  pgship's times include everything it does beyond the raw tool: backup reads the archive back (sha256, decryption, pg_restore --list) and writes the manifest;
  restore checks the manifest and has pg_restore list the archive's table of contents, creates the database, then restores, checking both sha256 before the result is kept.
  \`--jobs 2\`: pg_dump -Fd -j 2 into a directory, then stored as one tar stream (hashed, read back); restore unpacks it into a private temporary directory and runs pg_restore -j 2.
  The peers for --jobs are the raw directory-format tools with the same worker count; "vs pgship backup" / "vs pgship restore --into" is the speed-up over one stream.

| group | case | median s | min s | client CPU s | peak RSS MiB | vs: ratio of medians / median of paired ratios | target | met |
|---|---|---:|---:|---:|---:|---|---|---|
${rows.join("\n")}

Generated by \`bun run bench:backup\` (bench/backup.ts).
`;
  // Keep bench/backup-s3.ts's section (it has its own, slower run).
  const prev = existsSync(opts.out!) ? readFileSync(opts.out!, "utf8") : "";
  const s3At = prev.search(/^## S3 \(backup --dir s3:\/\//m);
  writeFileSync(opts.out!, s3At >= 0 ? `${report}\n${prev.slice(s3At)}` : report);
  process.stdout.write(report);
} finally {
  await admin.end().catch(() => undefined);
  c.stop();
  if (!opts.keep) rmSync(work, { recursive: true, force: true });
  else log(`kept ${work} (archives and the age key)`);
}
