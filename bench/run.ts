// bun bench/run.ts [--runs 5] [--migrations 500] [--out bench/results.md] [--keep]
//
// pgship against its peers on one throwaway PostgreSQL cluster, in one run:
//   (a) up of every migration into an empty database: pgship (snapshot and
//       replay builds) vs dbmate up;
//   (b) cold status (a new process) on a fully migrated database vs dbmate status;
//   (c) fresh install: pgship install from the snapshot, pgship replaying every
//       migration, and psql loading schema.sql in one transaction.
// Runs are interleaved across tools (one untimed warm-up round first) so drift
// on the machine hits every tool alike; (a) and (c) get a fresh database per run.
// Writes a markdown table to bench/results.md and prints it.

import postgres from "postgres";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, release, tmpdir, totalmem } from "node:os";
import { createRequire } from "node:module";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { startCluster, type Cluster } from "../test/harness/cluster.ts";
import { generateMigrations, type GeneratedHistory } from "./generate.ts";
import { max, median, min, rssMethod, runSetup, runTimed, type Command, type Sample } from "./measure.ts";

const REPO = resolve(import.meta.dir, "..");

const { values: opts } = parseArgs({
  options: {
    runs: { type: "string", default: "5" },
    migrations: { type: "string", default: "500" },
    out: { type: "string", default: join(REPO, "bench", "results.md") },
    keep: { type: "boolean", default: false },
  },
});
const RUNS = positiveInt(opts.runs!, "--runs");
const MIGRATIONS = positiveInt(opts.migrations!, "--migrations");

function positiveInt(s: string, flag: string): number {
  if (!/^\d+$/.test(s) || Number(s) < 1) throw new Error(`${flag} must be a whole number of at least 1, not "${s}"`);
  return Number(s);
}

const log = (msg: string) => process.stderr.write(`${msg}\n`);

/** dbmate's npm package is a Node wrapper around a Go binary: time the binary itself, like pgship's. */
function dbmateBinary(): string {
  const require = createRequire(join(REPO, "package.json"));
  return require.resolve(`@dbmate/${process.platform}-${process.arch}/bin/dbmate`);
}

/** One tool in one case. `sample` does its own untimed setup and checks around the timed child. */
interface Contender {
  tool: string;
  sample(): Promise<Sample>;
}

/** How a row is judged: its median over the peer's median, against an optional limit. */
interface Comparison {
  tool: string;
  peer: string;
  limit?: number;
}

interface BenchCase {
  title: string;
  contenders: Contender[];
  comparisons: Comparison[];
}

interface Row {
  title: string;
  tool: string;
  samples: Sample[];
}

/** What a finished run must have produced, so a silently failing tool is never timed as fast. */
type Expect = "pgship" | "dbmate" | "schema-only";

class Bench {
  private dbCounter = 0;
  readonly admin: postgres.Sql;
  readonly env: Record<string, string>;

  constructor(
    readonly cluster: Cluster,
    readonly work: string,
    readonly history: GeneratedHistory,
  ) {
    this.admin = postgres(cluster.url("postgres"), { max: 1, onnotice: () => undefined });
    // The children get only this environment (plus their own connection variables):
    // no PG*, DATABASE_URL or .env of whoever runs the benchmark leaks in.
    this.env = { PATH: `${cluster.binDir}:${process.env.PATH ?? "/usr/bin:/bin"}`, HOME: work, LANG: "C.UTF-8" };
  }

  get migrationsDir() {
    return join(this.work, "migrations");
  }
  get schemaFile() {
    return join(this.work, "schema.sql");
  }

  async createDb(): Promise<string> {
    const name = `bench_${++this.dbCounter}`;
    await this.admin.unsafe(`create database ${name} template template0`);
    return name;
  }

  async dropDb(name: string): Promise<void> {
    await this.admin.unsafe(`drop database if exists ${name} with (force)`);
  }

  /**
   * Every tool connects the same way: TCP, no TLS. The cluster has no TLS, and the
   * defaults differ (lib/pq: require, which fails; libpq and pgship: prefer, which
   * costs an extra round trip), so sslmode=disable is spelled out for all three.
   */
  url(db: string): string {
    return `${this.cluster.url(db)}?sslmode=disable`;
  }

  /** The URL travels in DATABASE_URL, never on the command line (pgship and dbmate both read it). */
  pgship(bin: string, db: string, args: string[]): Command {
    return { argv: [bin, ...args], env: { ...this.env, DATABASE_URL: this.url(db) }, cwd: this.work };
  }

  dbmate(db: string, args: string[]): Command {
    return { argv: [dbmateBinary(), "--migrations-dir", this.migrationsDir, ...args], env: { ...this.env, DATABASE_URL: this.url(db) }, cwd: this.work };
  }

  psql(db: string, args: string[]): Command {
    const c = this.cluster;
    return {
      argv: [join(c.binDir, "psql"), "-X", ...args],
      env: { ...this.env, PGHOST: c.host, PGPORT: String(c.port), PGUSER: c.superuser, PGPASSWORD: c.password, PGDATABASE: db, PGSSLMODE: "disable" },
      cwd: this.work,
    };
  }

  async expectMigrated(db: string, expect: Expect): Promise<void> {
    const sql = postgres(this.cluster.url(db), { max: 1, onnotice: () => undefined });
    try {
      const [t] = await sql<{ n: number }[]>`select count(*)::int as n from pg_tables where schemaname = 'public' and tablename <> 'schema_migrations'`;
      if (t!.n !== this.history.tables) throw new Error(`${db}: ${t!.n} tables in public, expected ${this.history.tables}`);
      const tracked =
        expect === "pgship"
          ? await sql<{ n: number }[]>`select count(*)::int as n from pgship.migrations where state = 'applied'`
          : expect === "dbmate"
            ? await sql<{ n: number }[]>`select count(*)::int as n from public.schema_migrations`
            : null;
      if (tracked && tracked[0]!.n !== this.history.migrations.length) {
        throw new Error(`${db}: ${tracked[0]!.n} migrations recorded by ${expect}, expected ${this.history.migrations.length}`);
      }
    } finally {
      await sql.end({ timeout: 1 });
    }
  }

  /** A contender that needs an empty database each run (up, install). */
  onFreshDb(tool: string, command: (db: string) => Command, expect: Expect): Contender {
    return {
      tool,
      sample: async () => {
        const db = await this.createDb();
        try {
          const s = await runTimed(command(db));
          await this.expectMigrated(db, expect);
          return s;
        } finally {
          await this.dropDb(db);
        }
      },
    };
  }

  /** A read-only contender run against the same prepared database every time (status). */
  onDb(tool: string, command: Command, check: (stdout: string) => boolean): Contender {
    return {
      tool,
      sample: async () => {
        const s = await runTimed(command);
        if (!check(s.stdout)) throw new Error(`${tool}: unexpected output:\n${s.stdout.slice(0, 2000)}`);
        return s;
      },
    };
  }
}

/** Warm-up round, then RUNS rounds; each round rotates the order so no tool always goes first. */
async function measure(c: BenchCase): Promise<Row[]> {
  const samples = new Map<string, Sample[]>(c.contenders.map((x) => [x.tool, []]));
  for (let round = 0; round <= RUNS; round++) {
    const order = c.contenders.map((_, i) => c.contenders[(i + round) % c.contenders.length]!);
    for (const x of order) {
      const s = await x.sample();
      const label = round === 0 ? "warm-up" : `run ${round}/${RUNS}`;
      log(`  ${c.title} | ${x.tool.padEnd(26)} ${label.padEnd(9)} ${s.ms.toFixed(0).padStart(6)} ms ${s.rssMiB.toFixed(1).padStart(6)} MiB`);
      if (round > 0) samples.get(x.tool)!.push(s);
    }
  }
  return c.contenders.map((x) => ({ title: c.title, tool: x.tool, samples: samples.get(x.tool)! }));
}

function buildBinary(work: string, outfile: string, schemaFile: string): void {
  const env = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined));
  const out = runSetup({
    argv: [process.execPath, "scripts/build.ts", "--migrations-dir", join(work, "migrations"), "--schema-file", schemaFile, "--outfile", outfile],
    env,
    cwd: REPO,
  });
  log(`  ${out.trim()}`);
}

function machine(): { cpus: string; model: string; memory: string; kernel: string } {
  const nproc = Bun.spawnSync(["nproc"]).stdout.toString().trim() || String(availableParallelism());
  const cpuinfo = existsSync("/proc/cpuinfo") ? readFileSync("/proc/cpuinfo", "utf8") : "";
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown CPU";
  return { cpus: nproc, model, memory: `${(totalmem() / 1024 ** 3).toFixed(1)} GiB RAM`, kernel: `Linux ${release()}` };
}

const fmtMs = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));

function renderTable(rows: Row[], cases: BenchCase[]): string {
  const medians = new Map(rows.map((r) => [`${r.title}\0${r.tool}`, median(r.samples.map((s) => s.ms))]));
  const lines = [
    "| case | tool | median ms | min ms | peak RSS MiB | ratio vs peer | target | met |",
    "|---|---|---:|---:|---:|---:|---|---|",
  ];
  for (const r of rows) {
    const cmp = cases.find((c) => c.title === r.title)!.comparisons.find((x) => x.tool === r.tool);
    const med = medians.get(`${r.title}\0${r.tool}`)!;
    const ratio = cmp ? med / medians.get(`${r.title}\0${cmp.peer}`)! : null;
    const ratioText = cmp && ratio !== null ? `${ratio.toFixed(2)}× ${cmp.peer}` : "(peer)";
    const target = cmp?.limit !== undefined ? `≤ ${cmp.limit.toFixed(1)}× ${cmp.peer}` : "—";
    const met = cmp?.limit !== undefined && ratio !== null ? (ratio <= cmp.limit ? "yes" : `**no** (+${((ratio - 1) * 100).toFixed(0)}%)`) : "—";
    const ms = r.samples.map((s) => s.ms);
    lines.push(`| ${r.title} | ${r.tool} | ${fmtMs(med)} | ${fmtMs(min(ms))} | ${max(r.samples.map((s) => s.rssMiB)).toFixed(1)} | ${ratioText} | ${target} | ${met} |`);
  }
  return lines.join("\n");
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "pgship-bench-"));
  log(`work dir ${work}; starting a throwaway PostgreSQL cluster`);
  // Other work on the machine skews every number; the load average says how much there was.
  const loadAtStart = loadavg().map((l) => l.toFixed(2)).join(" ");
  const cluster = await startCluster();
  const cleanup = () => {
    cluster.stop();
    if (!opts.keep) rmSync(work, { recursive: true, force: true });
  };
  process.on("SIGINT", () => {
    cleanup();
    process.exit(130);
  });

  const history = generateMigrations(MIGRATIONS);
  const bench = new Bench(cluster, work, history);
  try {
    mkdirSync(bench.migrationsDir);
    for (const m of history.migrations) writeFileSync(join(bench.migrationsDir, m.file), m.text);
    log(`generated ${history.migrations.length} migrations (${history.tables} tables) in ${bench.migrationsDir}`);

    // The replay build embeds no snapshot (its schema file does not exist), so a
    // fresh install runs every migration; it also generates the snapshot.
    const replayBin = join(work, "pgship-replay");
    const snapshotBin = join(work, "pgship");
    log("building pgship without a snapshot");
    buildBinary(work, replayBin, join(work, "no-such-schema.sql"));
    log("dumping the snapshot (pgship dump replays every migration in a scratch database)");
    runSetup(bench.pgship(replayBin, "postgres", ["dump", "--migrations-dir", bench.migrationsDir, "--schema-file", bench.schemaFile, "--pg-bin", cluster.binDir]));
    log("building pgship with the snapshot");
    buildBinary(work, snapshotBin, bench.schemaFile);

    const [pgRow] = await bench.admin<{ v: string }[]>`select version() as v`;
    const versions = {
      postgres: pgRow!.v,
      pgship: runSetup(bench.pgship(snapshotBin, "postgres", ["--version"])).trim(),
      dbmate: runSetup({ argv: [dbmateBinary(), "--version"], env: bench.env, cwd: work }).trim(),
      psql: runSetup({ argv: [join(cluster.binDir, "psql"), "--version"], env: bench.env, cwd: work }).trim(),
    };

    // (b) needs a fully migrated database per tool, made once; status only reads it.
    const statusPgship = await bench.createDb();
    runSetup(bench.pgship(snapshotBin, statusPgship, ["up"]));
    await bench.expectMigrated(statusPgship, "pgship");
    const statusDbmate = await bench.createDb();
    runSetup(bench.dbmate(statusDbmate, ["--no-dump-schema", "up"]));
    await bench.expectMigrated(statusDbmate, "dbmate");
    const n = history.migrations.length;

    const cases: BenchCase[] = [
      {
        title: `(a) up, ${n} migrations, empty db`,
        contenders: [
          bench.onFreshDb("pgship up (snapshot)", (db) => bench.pgship(snapshotBin, db, ["up"]), "pgship"),
          bench.onFreshDb("pgship up (replay)", (db) => bench.pgship(replayBin, db, ["up"]), "pgship"),
          bench.onFreshDb("dbmate up", (db) => bench.dbmate(db, ["--no-dump-schema", "up"]), "dbmate"),
        ],
        comparisons: [
          { tool: "pgship up (snapshot)", peer: "dbmate up", limit: 1 },
          { tool: "pgship up (replay)", peer: "dbmate up", limit: 1 },
        ],
      },
      {
        title: `(b) cold status, ${n} applied`,
        contenders: [
          bench.onDb("pgship status", bench.pgship(snapshotBin, statusPgship, ["status"]), (out) => out.includes(`${n} applied, 0 pending`)),
          bench.onDb("dbmate status", bench.dbmate(statusDbmate, ["status"]), (out) => new RegExp(`Applied: ${n}\\b`).test(out)),
        ],
        comparisons: [{ tool: "pgship status", peer: "dbmate status", limit: 1 }],
      },
      {
        title: "(c) fresh install",
        contenders: [
          bench.onFreshDb("pgship install (snapshot)", (db) => bench.pgship(snapshotBin, db, ["install"]), "pgship"),
          bench.onFreshDb("pgship install (replay)", (db) => bench.pgship(replayBin, db, ["install"]), "pgship"),
          bench.onFreshDb("psql -1 -f schema.sql", (db) => bench.psql(db, ["-q", "-1", "-v", "ON_ERROR_STOP=1", "-f", bench.schemaFile]), "schema-only"),
        ],
        comparisons: [
          { tool: "pgship install (snapshot)", peer: "psql -1 -f schema.sql", limit: 1.1 },
          { tool: "pgship install (replay)", peer: "psql -1 -f schema.sql" },
        ],
      },
    ];

    const rows: Row[] = [];
    for (const c of cases) {
      log(`measuring ${c.title}`);
      rows.push(...(await measure(c)));
    }

    const m = machine();
    const report = [
      "# pgship benchmark results",
      "",
      `- Date: ${new Date().toISOString()}`,
      `- Machine: ${m.cpus} CPUs (nproc), ${m.model}, ${m.memory}, ${m.kernel}; load average at start ${loadAtStart}`,
      `- PostgreSQL: ${versions.postgres} (throwaway cluster; every tool over TCP to 127.0.0.1 with sslmode=disable and scram-sha-256; fsync off)`,
      `- Tools: ${versions.pgship} (compiled with bun ${Bun.version}), dbmate ${versions.dbmate.replace(/^dbmate version /, "")} (native binary), ${versions.psql}`,
      `- Workload: ${n} generated migrations, ${history.tables} tables; schema.sql ${(statSync(bench.schemaFile).size / 1024).toFixed(0)} KiB`,
      `- Method: ${RUNS} measured runs per tool after one untimed warm-up, interleaved across tools; a fresh database per run in (a) and (c); wall time from spawn to exit; peak RSS is the client process's, via ${rssMethod} (max over runs; server memory not included); ratio = median / peer's median`,
      "",
      renderTable(rows, cases),
      "",
      `Generated by \`bun run bench\` (bench/run.ts).`,
      "",
    ].join("\n");
    writeFileSync(opts.out!, report);
    process.stdout.write(`\n${report}`);
    log(`wrote ${relative(process.cwd(), opts.out!) || opts.out}`);
    await bench.dropDb(statusPgship);
    await bench.dropDb(statusDbmate);
  } finally {
    await bench.admin.end({ timeout: 1 }).catch(() => undefined);
    cleanup();
    if (opts.keep) log(`kept ${work}`);
  }
}

await main();
