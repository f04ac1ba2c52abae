// bun bench/verify.ts [--tables 500] [--runs 5] [--out bench/verify-results.md]
//
// `pgship verify` on a generated schema of many tables (columns with defaults,
// primary and unique keys, foreign keys, checks, indexes, views, triggers), timed
// as a whole command (process start to exit) with its peak memory, next to the
// same command on a schema a tenth the size: the catalog query count must not
// change with the size. Target: under 1 s wall for 500 tables.

import postgres from "postgres";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { startCluster } from "../test/harness/cluster.ts";
import { median, min, rssMethod, runSetup, runTimed, type Command } from "./measure.ts";

const REPO = resolve(import.meta.dir, "..");
const BUN = join(REPO, "node_modules", ".bin", "bun");
const { values: opts } = parseArgs({
  options: {
    tables: { type: "string", default: "500" },
    runs: { type: "string", default: "5" },
    out: { type: "string", default: join(REPO, "bench", "verify-results.md") },
  },
});
const TABLES = Number(opts.tables);
const RUNS = Number(opts.runs);

/** Migrations creating `n` tables in batches of 50, with the objects verify compares. */
function schemaMigrations(n: number): Record<string, string> {
  const files: Record<string, string> = {
    "20250101000000_base.sql": `-- migrate:up
create type item_state as enum ('new', 'active', 'archived');
create function touch() returns trigger language plpgsql as $$ begin new.updated_at := now(); return new; end; $$;
-- migrate:down
drop function touch();
drop type item_state;
`,
  };
  for (let batch = 0; batch * 50 < n; batch++) {
    const up: string[] = [];
    const down: string[] = [];
    for (let i = batch * 50; i < Math.min(n, (batch + 1) * 50); i++) {
      const t = `t${String(i).padStart(4, "0")}`;
      const parent = i > 0 ? `t${String(Math.floor(i / 2)).padStart(4, "0")}` : null;
      up.push(`create table ${t} (
  id bigint generated always as identity primary key,
  code text not null unique,
  name text not null default '',
  state item_state not null default 'new',
  amount numeric(12,2) not null default 0 check (amount >= 0),
  ${parent ? `parent_id bigint references ${parent} (id) on delete set null,` : ""}
  payload jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index ${t}_created_at_idx on ${t} (created_at);
create index ${t}_name_lower_idx on ${t} (lower(name)) where state <> 'archived';`);
      if (i % 10 === 0) {
        up.push(`create trigger ${t}_touch before update on ${t} for each row execute function touch();`);
        up.push(`create view ${t}_active as select id, code, name, amount from ${t} where state = 'active';`);
        down.unshift(`drop view ${t}_active;`);
      }
      down.unshift(`drop table ${t};`);
    }
    files[`202502${String(batch + 1).padStart(2, "0")}000000_tables_${batch}.sql`] = `-- migrate:up\n${up.join("\n")}\n-- migrate:down\n${down.join("\n")}\n`;
  }
  return files;
}

const cluster = await startCluster();
const work = mkdtempSync(join(tmpdir(), "pgship-bench-verify-"));
try {
  runSetup({ argv: [BUN, "scripts/build.ts"], env: { ...process.env } as Record<string, string>, cwd: REPO });
  const admin = postgres(cluster.url("postgres"), { max: 1, onnotice: () => {} });
  const rows: string[] = [];
  const results: { tables: number; ms: number; minMs: number; rss: number; queries: number; findings: number }[] = [];
  for (const n of [Math.max(1, Math.round(TABLES / 10)), TABLES]) {
    const app = join(work, `app${n}`);
    mkdirSync(join(app, "migrations"), { recursive: true });
    for (const [f, text] of Object.entries(schemaMigrations(n))) writeFileSync(join(app, "migrations", f), text);
    const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", DATABASE_URL: cluster.url("postgres") };
    runSetup({ argv: [join(REPO, "dist", "pgship"), "dump", "--migrations-dir", join(app, "migrations")], env, cwd: app });
    const bin = join(app, "pgship");
    runSetup({ argv: [BUN, join(REPO, "scripts/build.ts"), "--migrations-dir", join(app, "migrations"), "--schema-file", join(app, "schema.sql"), "--outfile", bin], env: { ...process.env } as Record<string, string>, cwd: REPO });
    await admin.unsafe(`create database verify_${n}`);
    const dbEnv = { ...env, DATABASE_URL: cluster.url(`verify_${n}`) };
    runSetup({ argv: [bin, "install", "--no-verify"], env: dbEnv, cwd: app });
    const cmd: Command = { argv: [bin, "verify", "--json"], env: dbEnv, cwd: app };
    await runTimed(cmd); // warm-up
    const samples = [];
    let last = "";
    for (let r = 0; r < RUNS; r++) {
      const s = await runTimed(cmd);
      samples.push(s);
      last = s.stdout;
    }
    const out = JSON.parse(last);
    results.push({ tables: n, ms: median(samples.map((s) => s.ms)), minMs: min(samples.map((s) => s.ms)), rss: Math.max(...samples.map((s) => s.rssMiB)), queries: out.queries, findings: out.findings.length });
  }
  await admin.end();
  const [pg] = await (async () => {
    const c = postgres(cluster.url("postgres"), { max: 1 });
    const v = await c`select version()`;
    await c.end();
    return v;
  })();
  const big = results.at(-1)!;
  rows.push(
    `# verify benchmark`,
    "",
    `${new Date().toISOString()} · ${availableParallelism()} CPUs · load ${loadavg()[0]!.toFixed(2)} · ${String(pg!.version).split(",")[0]} · ${RUNS} runs each · RSS: ${rssMethod}`,
    "",
    "| tables | median ms | min ms | peak RSS MiB | catalog queries | findings |",
    "|---:|---:|---:|---:|---:|---:|",
    ...results.map((r) => `| ${r.tables} | ${r.ms.toFixed(0)} | ${r.minMs.toFixed(0)} | ${r.rss.toFixed(1)} | ${r.queries} | ${r.findings} |`),
    "",
    `Target: whole \`pgship verify\` command under 1000 ms for ${TABLES} tables: ${big.ms < 1000 ? "met" : "NOT met"} (${big.ms.toFixed(0)} ms).`,
    `Query count independent of table count: ${results.every((r) => r.queries === big.queries) ? "yes" : "NO"} (${results.map((r) => r.queries).join(" vs ")}).`,
    "",
  );
  writeFileSync(opts.out!, rows.join("\n"));
  console.log(rows.join("\n"));
} finally {
  cluster.stop();
  rmSync(work, { recursive: true, force: true });
}
