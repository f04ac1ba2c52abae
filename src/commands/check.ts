// check: the CI gate. The snapshot path equals a replay of every migration, every
// migration's down undoes its up (up -> down -> up), and schema.sql and
// schema.model.json are current. Scratch databases are always dropped.

import type { ArgsDef } from "citty";
import { relative } from "node:path";
import { ExitCode } from "../core/errors.ts";
import { normaliseDump } from "../core/snapshot.ts";
import { splitStatements } from "../core/sql-split.ts";
import { diffModels, renderFindings, type Finding } from "../catalog/diff.ts";
import { introspect } from "../catalog/introspect.ts";
import { stableStringify, type Model } from "../catalog/model.ts";
import { withTransaction, type Db } from "../db/connect.ts";
import { replayMigrations, withScratchDatabase } from "../db/scratch.ts";
import { findPgTool, libpqEnv } from "../tools/pg-tools.ts";
import { runProc } from "../tools/proc.ts";
import type { Context } from "../cli/context.ts";
import type { Args } from "../cli/flags.ts";
import { cwd } from "../runtime.ts";
import { diskPaths, modelPathFor } from "../source.ts";
import type { Migration, Section } from "../core/migration-file.ts";

export const args = {
  "pg-bin": { type: "string", description: "Directory holding pg_dump (to compare schema.sql byte for byte)", valueHint: "dir" },
  "skip-stairway": { type: "boolean", description: "Skip the up -> down -> up test of every migration" },
} as const satisfies ArgsDef;

export const usage = `Needs a server where the role may create databases (CI's PostgreSQL service). Exit 4 on any problem.
Examples:
  pgship check --database-url postgres://postgres:postgres@localhost:5432/postgres
  pgship check --json`;

export interface Problem {
  check: "snapshot current" | "snapshot equals replay" | "model current" | "down undoes up" | "up after down";
  /** "error" fails the gate; "note" is reported only. */
  severity: "error" | "note";
  message: string;
  migration?: string;
  findings?: Finding[];
}

async function runSection(db: Db, section: Section): Promise<void> {
  if (section.options.transaction) await withTransaction(db.sql, (tx) => tx.unsafe(section.sql));
  else for (const st of splitStatements(section.sql)) await db.sql.unsafe(st.text);
}

export async function run(ctx: Context, a: Args): Promise<number> {
  // The gate checks the files in the repository, never a binary's embedded copy.
  const set = await ctx.migrations({ preferDisk: true });
  const { schemaPath } = diskPaths({ migrationsDir: a["migrations-dir"] as string | undefined, schemaFile: a["schema-file"] as string | undefined });
  const shownSchema = relative(cwd(), schemaPath);
  const head = set.migrations.at(-1);
  const problems: Problem[] = [];
  const admin = await ctx.connect("check");
  try {
    // 1. The snapshot names the newest migration.
    if (!set.snapshot) problems.push({ check: "snapshot current", severity: "error", message: `${shownSchema} does not exist: run 'pgship dump'` });
    else if (head && set.snapshot.version !== head.version) {
      problems.push({ check: "snapshot current", severity: "error", message: `${shownSchema} is at ${set.snapshot.version} but the newest migration is ${head.version}: run 'pgship dump' and commit the result` });
    }

    // 2. Replay every migration: the reference.
    ctx.log.info(`replaying ${set.migrations.length} migrations in a scratch database`);
    let pgDump: Awaited<ReturnType<typeof findPgTool>> | null = null;
    try {
      pgDump = await findPgTool("pg_dump", Math.floor(admin.serverVersionNum / 10000), a["pg-bin"] as string | undefined);
    } catch {
      ctx.log.warn("pg_dump not found: schema.sql is compared by its catalog, not byte for byte");
    }
    const replay = await withScratchDatabase(admin, async (db, target) => {
      await replayMigrations(db, set.migrations);
      const model = await introspect(db.sql, ctx.schema);
      let dumped: string | null = null;
      if (pgDump && head) {
        const r = await runProc({ command: pgDump.path, args: ["--schema-only", "--no-owner", "--no-privileges", `--exclude-schema=${ctx.schema}`], env: libpqEnv(target) });
        if (r.code === 0) dumped = normaliseDump(r.stdout, head.version);
      }
      return { model, dumped };
    });
    ctx.interrupt.check();

    // 3. The snapshot path (schema.sql, then newer migrations) builds the same schema.
    if (set.snapshot) {
      const snap = set.snapshot;
      const viaSnapshot = await withScratchDatabase(admin, async (db) => {
        await withTransaction(db.sql, (tx) => tx.unsafe(snap.sql));
        await db.sql.unsafe("reset search_path; reset check_function_bodies; reset client_min_messages");
        await replayMigrations(db, set.migrations.filter((m) => m.version > snap.version));
        return introspect(db.sql, ctx.schema);
      });
      const diff = diffModels(replay.model, viaSnapshot);
      if (diff.length) {
        problems.push({ check: "snapshot equals replay", severity: "error", message: `${shownSchema} (plus newer migrations) does not build the same schema as replaying every migration (edited by hand, or a migration changed after 'dump')`, findings: diff });
      }
      if (replay.dumped !== null && head && snap.version === head.version && replay.dumped !== snap.sql) {
        problems.push({ check: "snapshot current", severity: "error", message: `${shownSchema} is not what 'pgship dump' writes for these migrations: run 'pgship dump' and commit the result` });
      }
    }

    // 4. The model verify ships with is current.
    const modelPath = relative(cwd(), modelPathFor(schemaPath));
    if (!set.model) problems.push({ check: "model current", severity: "error", message: `${modelPath} does not exist: run 'pgship dump'` });
    else if (head && (set.model.version !== head.version || stableStringify(set.model.model) !== stableStringify({ ...replay.model, serverMajor: set.model.model.serverMajor }))) {
      problems.push({ check: "model current", severity: "error", message: `${modelPath} does not match the migrations: run 'pgship dump' and commit the result` });
    }
    ctx.interrupt.check();

    // 5. Stairway: up -> down -> up for every migration.
    if (!a["skip-stairway"]) {
      ctx.log.info(`stairway: up, down, up for each of ${set.migrations.length} migrations`);
      await withScratchDatabase(admin, async (db) => {
        let before: Model = await introspect(db.sql, ctx.schema);
        for (const m of set.migrations) {
          ctx.interrupt.check();
          problems.push(...(await stair(db, m, before, ctx.schema)));
          before = await introspect(db.sql, ctx.schema);
        }
      });
    }
  } finally {
    await admin.close();
  }

  const errors = problems.filter((p) => p.severity === "error");
  ctx.result({ ok: errors.length === 0, migrations: set.migrations.length, head: head?.version ?? null, problems }, () => render(problems, set.migrations.length));
  return errors.length ? ExitCode.drift : ExitCode.ok;
}

async function stair(db: Db, m: Migration, before: Model, schema: string): Promise<Problem[]> {
  const label = `${m.version}_${m.name}`;
  await runSection(db, m.up);
  const after = await introspect(db.sql, schema);
  if (!m.down) return [{ check: "down undoes up", severity: "note", migration: label, message: `${m.file} has no down section: it cannot be rolled back (not an error)` }];
  try {
    await runSection(db, m.down);
  } catch (e) {
    return [{ check: "down undoes up", severity: "error", migration: label, message: `${m.file}: the down section fails after up: ${(e as Error).message}` }];
  }
  const down = await introspect(db.sql, schema);
  const undo = diffModels(before, down);
  const out: Problem[] = [];
  if (undo.length) out.push({ check: "down undoes up", severity: "error", migration: label, message: `${m.file}: down does not undo up`, findings: undo });
  try {
    await runSection(db, m.up);
  } catch (e) {
    out.push({ check: "up after down", severity: "error", migration: label, message: `${m.file}: up fails after down: ${(e as Error).message}` });
    return out;
  }
  const again = diffModels(after, await introspect(db.sql, schema));
  if (again.length) out.push({ check: "up after down", severity: "error", migration: label, message: `${m.file}: up after down builds a different schema`, findings: again });
  return out;
}

function render(problems: Problem[], count: number): string {
  const errors = problems.filter((p) => p.severity === "error");
  const lines: string[] = [];
  for (const p of problems) {
    lines.push(`${p.severity === "error" ? "FAIL" : "note"} [${p.check}] ${p.message}`);
    if (p.findings?.length) lines.push(renderFindings(p.findings).replace(/^/gm, "    "));
  }
  lines.push(errors.length ? `\ncheck failed: ${errors.length} problem(s).` : `\ncheck passed: ${count} migrations; snapshot, model and every down section agree.`);
  return lines.join("\n");
}

