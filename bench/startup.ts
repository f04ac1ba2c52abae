// bun bench/startup.ts [--runs 20] [--replay-runs 5] [--out bench/startup-results.md] [--source DIR]
//
// The compiled binary's size (raw and gzipped) and its cold start against
// dbmate's, with the migrations compiled in: 500 small ones (bench/generate.ts)
// and 250 bulky ones (each a 300-line plpgsql function, ~3 MB of SQL). For each
// history it builds a binary, applies the migrations with pgship and with dbmate
// to two databases of a throwaway cluster, then times new processes of
// `pgship --version`, `pgship status`, `pgship status --exit-code`, and
// `dbmate status` on the same files, interleaved in rotating order (median ms,
// peak RSS). The start-up profile splits `status` into process start
// (`--version`), module and index load (`status` without a database) and
// connect + queries (the rest). --source builds with another checkout's
// scripts/build.ts (e.g. the previous release, for before/after figures).
// The sizes of the compressed downloads (.gz, .xz) are bench/download.ts's.

import postgres from "postgres";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { startCluster } from "../test/harness/cluster.ts";
import { generateMigrations, type GeneratedMigration } from "./generate.ts";
import { median, rssMethod, runSetup, runTimed, type Command, type Sample } from "./measure.ts";

const DOWNLOAD_SECTION = "## download size";

const REPO = resolve(import.meta.dir, "..");
const { values } = parseArgs({
  options: {
    out: { type: "string", default: join(REPO, "bench", "startup-results.md") },
    runs: { type: "string", default: "20" },
    "replay-runs": { type: "string", default: "5" },
    source: { type: "string", default: REPO },
  },
});
const RUNS = Number(values.runs);
const REPLAY_RUNS = Number(values["replay-runs"]);
const SOURCE = resolve(values.source!);
const log = (msg: string) => process.stderr.write(`${msg}\n`);

function dbmateBinary(): string {
  return createRequire(join(REPO, "package.json")).resolve(`@dbmate/${process.platform}-${process.arch}/bin/dbmate`);
}

/** 250 migrations, each one plpgsql function of 300 lines (~12 KB): a long history of bulky SQL. */
function bulkyHistory(count = 250, lines = 300): GeneratedMigration[] {
  const out: GeneratedMigration[] = [];
  for (let i = 1; i <= count; i++) {
    const version = `20240101${String(Math.floor(i / 60)).padStart(2, "0")}${String(i % 60).padStart(2, "0")}00`;
    const fn = `bulky_fn_${i}`;
    const body: string[] = [];
    for (let l = 0; l < lines - 8; l++) body.push(`  total := total + ${l} * length(p_name) + ${i};`);
    const up = [
      `create function ${fn}(p_name text) returns bigint language plpgsql as $$`,
      "declare",
      "  total bigint := 0;",
      "begin",
      ...body,
      "  return total;",
      "end;",
      "$$;",
    ].join("\n");
    out.push({ file: `${version}_bulky_${i}.sql`, text: `-- migrate:up\n${up}\n\n-- migrate:down\ndrop function ${fn}(text);\n` });
  }
  return out;
}

const raw = (() => {
  spawnSync(join(REPO, "node_modules", ".bin", "bun"), ["scripts/build.ts"], { cwd: SOURCE, stdio: "inherit" });
  const bin = join(SOURCE, "dist", "pgship");
  return { size: statSync(bin).size, gz: gzipSync(readFileSync(bin), { level: 9 }).length };
})();

const histories: { title: string; files: GeneratedMigration[] }[] = [
  { title: "500 small migrations", files: generateMigrations(500).migrations },
  { title: "250 bulky migrations", files: bulkyHistory() },
];

const DIR_CASE = "pgship status --migrations-dir (files read, parsed and checked)";

/** Where the milliseconds of a run went (PGSHIP_PROFILE=1): the median of each phase, in the order they happen. */
const PHASES: [string, string][] = [
  ["runtime", "process start until the first line of JavaScript (the Bun runtime)"],
  ["payload", "a packed binary's appended brand and migrations looked for"],
  ["modules", "the command line and the command's modules (driver included)"],
  ["index", "the migration index (embedded), or the files read, parsed and checked (--migrations-dir)"],
  ["auth", "target, driver set-up, TCP connect, backend start, SCRAM login"],
  ["connected", "the first query (server version, session setting)"],
  ["queries", "tracking rows, last run, lock holder (pipelined)"],
  ["output", "the report built and printed"],
  ["exit", "streams flushed"],
];
function profileTable(profiles: Map<string, Record<string, number>[]>): string[] {
  const cases = [...profiles.keys()];
  if (!cases.length) return [];
  const phase = (t: string, name: string, i: number) => {
    const runs = profiles.get(t)!.filter((p) => name in p);
    if (!runs.length) return "-";
    // Since the previous phase that was reached (a phase a run skips adds to the next one).
    const prev = (p: Record<string, number>) => PHASES.slice(0, i).reduce((at, [n]) => (n in p ? p[n]! : at), 0);
    return median(runs.map((p) => p[name]! - prev(p))).toFixed(1);
  };
  return [
    "Where the milliseconds go (`PGSHIP_PROFILE=1`, median of each phase; the rest of the wall time is fork/exec and process teardown):",
    "",
    `| phase | ${cases.map((c) => `\`${c.replace(/ \(.*/, "")}\``).join(" | ")} | what |`,
    `|---|${cases.map(() => "---:|").join("")}---|`,
    ...PHASES.map(([name, what], i) => `| ${name} | ${cases.map((c) => phase(c, name, i)).join(" | ")} | ${what} |`),
  ];
}

/** The floors: a hello-world binary, one that only logs in and reads the versions with the same driver, and one that does that with no driver at all. */
const floors = (() => {
  const out = mkdtempSync(join(tmpdir(), "pgship-floor-"));
  const build = (name: string) => {
    const bin = join(out, name);
    runSetup({ argv: [join(REPO, "node_modules", ".bin", "bun"), "build", "--compile", "--minify", "--bytecode", "--no-compile-autoload-dotenv", "--no-compile-autoload-bunfig", join(REPO, "bench", "floor", `${name}.ts`), "--outfile", bin], env: Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined)), cwd: REPO });
    return bin;
  };
  return { hello: build("hello"), connect: build("connect"), wire: build("wire"), dir: out };
})();

/**
 * Replaying the history on a fresh database, one transaction per migration as dbmate does:
 * the first migration is applied untimed by each tool, then `pgship update` and `dbmate up`
 * apply the rest. `pgship up` on an empty database (an install: every migration in one
 * transaction) is timed too.
 */
async function replay(files: GeneratedMigration[], dir: string, bin: string, url: (db: string) => string, env: Record<string, string>, n: number): Promise<string> {
  const first = join(dir, "first");
  mkdirSync(first, { recursive: true });
  writeFileSync(join(first, files[0]!.file), files[0]!.text);
  const admin = postgres(cluster.url("postgres"), { max: 1, onnotice: () => {} });
  const cases = ["pgship update (one transaction per migration)", "dbmate up", "pgship up (install: one transaction)"];
  const samples = new Map<string, Sample[]>(cases.map((c) => [c, []]));
  try {
    for (let r = 0; r < REPLAY_RUNS; r++) {
      for (let i = 0; i < cases.length; i++) {
        const c = cases[(i + r) % cases.length]!;
        const db = `r${n}_${r}_${i}`;
        await admin.unsafe(`create database ${db} template template0`);
        const e = { ...env, DATABASE_URL: url(db) };
        let timed: Command;
        if (c.startsWith("dbmate")) {
          runSetup({ argv: [dbmateBinary(), "--migrations-dir", first, "--no-dump-schema", "up"], env: e, cwd: dir });
          timed = { argv: [dbmateBinary(), "--migrations-dir", join(dir, "migrations"), "--no-dump-schema", "up"], env: e, cwd: dir };
        } else if (c.startsWith("pgship update")) {
          runSetup({ argv: [bin, "up", "--quiet", "--to", files[0]!.file.slice(0, 14)], env: e, cwd: dir });
          timed = { argv: [bin, "update", "--quiet"], env: e, cwd: dir };
        } else timed = { argv: [bin, "up", "--quiet"], env: e, cwd: dir };
        samples.get(c)!.push(await runTimed(timed));
        // Checked, so a tool that fails quietly is not reported as fast.
        const table = c.startsWith("dbmate") ? "public.schema_migrations" : "pgship.migrations";
        const check = postgres(url(db), { max: 1, onnotice: () => {} });
        const [{ n: recorded }] = (await check.unsafe(`select count(*)::int as n from ${table}`)) as unknown as [{ n: number }];
        await check.end();
        if (recorded !== files.length) throw new Error(`${c}: ${recorded} of ${files.length} migrations recorded`);
        await admin.unsafe(`drop database ${db} with (force)`);
      }
    }
  } finally {
    await admin.end();
  }
  const ms = (c: string) => median(samples.get(c)!.map((s) => s.ms));
  const peer = ms("dbmate up");
  return [
    `Replaying all ${files.length} migrations on a fresh database (${REPLAY_RUNS} runs; the first migration applied untimed by each tool):`,
    "",
    "| command | median ms | peak RSS MiB | vs dbmate up |",
    "|---|---:|---:|---:|",
    ...cases.map((c) => `| \`${c}\` | ${ms(c).toFixed(0)} | ${Math.max(...samples.get(c)!.map((s) => s.rssMiB)).toFixed(1)} | ${c === "dbmate up" ? "1.00×" : `${(ms(c) / peer).toFixed(2)}×`} |`),
    "",
  ].join("\n");
}

const cluster = await startCluster();
const work = mkdtempSync(join(tmpdir(), "pgship-startup-"));
const sections: string[] = [];
try {
  const admin = postgres(cluster.url("postgres"), { max: 1, onnotice: () => {} });
  const env = { PATH: `${cluster.binDir}:${process.env.PATH ?? "/usr/bin:/bin"}`, HOME: work, LANG: "C.UTF-8" };
  const buildEnv = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined));
  let n = 0;
  for (const h of histories) {
    const dir = join(work, `h${++n}`);
    mkdirSync(join(dir, "migrations"), { recursive: true });
    for (const f of h.files) writeFileSync(join(dir, "migrations", f.file), f.text);
    const sqlMiB = h.files.reduce((s, f) => s + Buffer.byteLength(f.text), 0) / 1024 / 1024;
    const bin = join(dir, "pgship");
    log(`${h.title}: building`);
    runSetup({ argv: [process.execPath, "scripts/build.ts", "--migrations-dir", join(dir, "migrations"), "--schema-file", join(dir, "none.sql"), "--outfile", bin], env: buildEnv, cwd: SOURCE });
    const url = (db: string) => `${cluster.url(db)}?sslmode=disable`;
    await admin.unsafe(`create database s${n}p template template0`);
    await admin.unsafe(`create database s${n}d template template0`);
    const pg = (args: string[], withDb = true): Command => ({ argv: [bin, ...args], env: withDb ? { ...env, DATABASE_URL: url(`s${n}p`) } : env, cwd: dir });
    const dbmate = (args: string[]): Command => ({ argv: [dbmateBinary(), "--migrations-dir", join(dir, "migrations"), ...args], env: { ...env, DATABASE_URL: url(`s${n}d`) }, cwd: dir });
    runSetup(pg(["up", "--quiet"]));
    runSetup(dbmate(["--no-dump-schema", "up"]));
    const profiled = (c: Command): Command => ({ ...c, env: { ...c.env, PGSHIP_PROFILE: "1" } });
    const contenders: [string, Command][] = [
      ["pgship --version", pg(["--version"])],
      ["pgship status", profiled(pg(["status"]))],
      ["pgship status --exit-code", pg(["status", "--exit-code"])],
      ["pgship status (no database: modules + index)", pg(["status"], false)],
      [DIR_CASE, profiled(pg(["status", "--migrations-dir", "migrations"]))],
      ["dbmate status", dbmate(["status"])],
      ["dbmate --version", dbmate(["--version"])],
      ["floor: Bun runtime (hello world)", { argv: [floors.hello], env, cwd: dir }],
      ["floor: Bun + postgres.js, login + one query", { argv: [floors.connect], env: { ...env, DATABASE_URL: url(`s${n}p`) }, cwd: dir }],
      ["floor: Bun + bare wire protocol (no driver), login + one query", { argv: [floors.wire], env: { ...env, DATABASE_URL: url(`s${n}p`) }, cwd: dir }],
    ];
    const samples = new Map<string, Sample[]>(contenders.map(([t]) => [t, []]));
    const profiles = new Map<string, Record<string, number>[]>();
    for (const [, c] of contenders) await runTimed(c); // warm-up
    for (let r = 0; r < RUNS; r++) {
      for (let i = 0; i < contenders.length; i++) {
        const [t, c] = contenders[(i + r) % contenders.length]!;
        const s = await runTimed(c);
        samples.get(t)!.push(s);
        const line = s.stderr.split("\n").find((l) => l.startsWith("profile "));
        if (line) profiles.set(t, [...(profiles.get(t) ?? []), JSON.parse(line.slice("profile ".length))]);
      }
    }
    const ms = (t: string) => median(samples.get(t)!.map((s) => s.ms));
    const rss = (t: string) => Math.max(...samples.get(t)!.map((s) => s.rssMiB));
    const peer = ms("dbmate status");
    const rows = contenders.map(([t]) => `| \`${t}\` | ${ms(t).toFixed(1)} | ${rss(t).toFixed(1)} | ${t === "dbmate status" ? "1.00×" : t === "dbmate --version" ? "-" : `${(ms(t) / peer).toFixed(2)}×`} |`);
    sections.push(
      [
        `### ${h.title} (${sqlMiB.toFixed(1)} MiB of SQL compiled in)`,
        "",
        "| command | median ms | peak RSS MiB | vs dbmate status |",
        "|---|---:|---:|---:|",
        ...rows,
        "",
        ...profileTable(profiles),
        "",
      ].join("\n"),
    );
    sections.push(await replay(h.files, dir, bin, url, env, n));
    log(sections.at(-1)!);
  }
  await admin.end();
} finally {
  cluster.stop();
  rmSync(work, { recursive: true, force: true });
  rmSync(floors.dir, { recursive: true, force: true });
}

const mib = (x: number) => (x / 1024 / 1024).toFixed(1);
const text = [
  "# start-up and size",
  "",
  `${new Date().toISOString()} · ${availableParallelism()} CPUs · load ${loadavg()[0]!.toFixed(2)} · ${RUNS} runs each (new process every time, interleaved) · RSS: ${rssMethod} · bun bench/startup.ts`,
  "",
  `Binary \`dist/pgship\`: ${mib(raw.size)} MiB raw, ${mib(raw.gz)} MiB gzipped (-9). Most of it is the Bun runtime.`,
  "",
  "Targets: `status`, `status --exit-code` and `--version` at most 0.8× `dbmate status`, peak RSS at most 40 MiB, whatever the SQL compiled in; `--migrations-dir` reads, parses and checks a 3 MB history in under 50 ms (its profile's `index` phase). The floors are what no change to pgship's code can go below: the Bun runtime alone, the runtime with the driver logging in and reading the versions (the same query work as `dbmate status`), and the same login and query written on the socket with no driver (the most replacing postgres.js could gain).",
  "",
  ...sections,
].join("\n");
// Keep bench/download.ts's section (its xz runs take minutes).
const old = existsSync(values.out!) ? readFileSync(values.out!, "utf8") : "";
const kept = old.includes(DOWNLOAD_SECTION) ? `\n${old.slice(old.indexOf(DOWNLOAD_SECTION))}` : "";
writeFileSync(values.out!, text + kept);
console.log(text);
