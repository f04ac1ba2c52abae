// check: the CI gate. The snapshot path equals a replay of every migration, every
// migration's down undoes its up (up -> down -> up), and schema.sql and
// schema.model.json (the model at every version) are current. Scratch databases
// are always dropped.

import { brand } from "../brand.ts";
import { shownPath } from "../core/files.ts";
import { execSql, runSection } from "../db/run-sql.ts";
import { dumpSnapshot } from "../db/snapshot-dump.ts";
import { diffModels, type Finding } from "../catalog/diff.ts";
import { introspect } from "../catalog/introspect.ts";
import { stableStringify, type Model } from "../catalog/model.ts";
import { withTransaction, type Db } from "../db/connect.ts";
import { replayMigrations, withScratchDatabase } from "../db/scratch.ts";
import { findPgTool } from "../tools/pg-tools.ts";
import { PgshipError } from "../core/errors.ts";
import { diskPaths, modelPathFor } from "../source.ts";
import type { Migration } from "../core/migration-file.ts";
import type { ModelHistory } from "../catalog/model-history.ts";
import type { OpContext } from "./context.ts";

export interface CheckOptions {
  /** Directory holding pg_dump (to compare schema.sql byte for byte). */
  pgBin?: string;
  /** Skip the up -> down -> up test of every migration. */
  skipStairway: boolean;
  /** Fail (rather than note) when schema.sql cannot be compared byte for byte (no usable pg_dump). */
  strict?: boolean;
}

export interface CheckOutcome {
  /** No problem of severity "error". */
  ok: boolean;
  migrations: number;
  head: string | null;
  problems: Problem[];
}

export interface Problem {
  check: "snapshot current" | "snapshot equals replay" | "model current" | "down undoes up" | "up after down";
  /** "error" fails the gate; "note" is reported only. */
  severity: "error" | "note";
  message: string;
  migration?: string;
  findings?: Finding[];
}

export async function check(ctx: OpContext, opts: CheckOptions): Promise<CheckOutcome> {
  // The gate checks the files in the repository, never a binary's embedded copy.
  const set = await ctx.migrations({ preferDisk: true });
  const schemaPath = set.schemaPath ?? diskPaths({}).schemaPath;
  const shownSchema = shownPath(schemaPath);
  const head = set.migrations.at(-1);
  const problems: Problem[] = [];
  const admin = await ctx.connect("check");
  try {
    // 1. The snapshot names the newest migration.
    if (!set.snapshot) problems.push({ check: "snapshot current", severity: "error", message: `${shownSchema} does not exist: run '${brand.binary} dump'` });
    else if (head && set.snapshot.version !== head.version) {
      problems.push({ check: "snapshot current", severity: "error", message: `${shownSchema} is at ${set.snapshot.version} but the newest migration is ${head.version}: run '${brand.binary} dump' and commit the result` });
    }

    // 2. Replay every migration: the reference.
    ctx.emit({ type: "info", message: `replaying ${set.migrations.length} migrations in a scratch database` });
    let pgDump: Awaited<ReturnType<typeof findPgTool>> | null = null;
    // Why schema.sql cannot be compared byte for byte, if it cannot.
    let noBytes: string | null = null;
    try {
      pgDump = await findPgTool("pg_dump", Math.floor(admin.serverVersionNum / 10000), opts.pgBin);
    } catch (e) {
      noBytes = e instanceof PgshipError ? `${e.message}${e.hint ? `; ${e.hint}` : ""}` : String(e);
    }
    const replay = await withScratchDatabase(admin, "check", async (db, target) => {
      // The model after each migration: the reference for the model file's every version.
      const versions = new Map<string, Model>();
      let model: Model = await introspect(db.sql, ctx.schema);
      for (const m of set.migrations) {
        ctx.interrupt.check();
        await replayMigrations(db, [m]);
        model = await introspect(db.sql, ctx.schema);
        versions.set(m.version, model);
      }
      let dumped: string | null = null;
      if (pgDump && head) {
        dumped = await dumpSnapshot(db.sql, target, pgDump.path, ctx.schema, head.version, ctx.interrupt.signal).catch((e: Error) => {
          noBytes = `${pgDump!.path} failed: ${e.message}`;
          return null;
        });
        ctx.interrupt.check("while pg_dump read the scratch database: nothing was changed");
      }
      return { model, versions, dumped };
    });
    ctx.interrupt.check();

    // 3. The snapshot path (schema.sql, then newer migrations) builds the same schema.
    if (set.snapshot) {
      const snap = set.snapshot;
      const viaSnapshot = await withScratchDatabase(admin, "check", async (db) => {
        await withTransaction(db.sql, (tx) => execSql(tx, snap.sql));
        await db.sql.unsafe("reset search_path; reset check_function_bodies; reset client_min_messages");
        await replayMigrations(db, set.migrations.filter((m) => m.version > snap.version));
        return introspect(db.sql, ctx.schema);
      });
      const diff = diffModels(replay.model, viaSnapshot);
      if (diff.length) {
        problems.push({ check: "snapshot equals replay", severity: "error", message: `${shownSchema} (plus newer migrations) does not build the same schema as replaying every migration (edited by hand, or a migration changed after 'dump')`, findings: diff });
      }
      if (replay.dumped !== null && head && snap.version === head.version && replay.dumped !== snap.sql) {
        problems.push({ check: "snapshot current", severity: "error", message: `${shownSchema} is not what '${brand.binary} dump' writes for these migrations: run '${brand.binary} dump' and commit the result` });
      }
      if (noBytes && head) {
        const message = `${shownSchema} was compared by its catalog only, not byte for byte with what '${brand.binary} dump' writes: ${noBytes}`;
        problems.push({ check: "snapshot current", severity: opts.strict ? "error" : "note", message: opts.strict ? message : `${message} (--strict makes this a failure)` });
      }
    }

    // 4. The models verify ships with (one per version) are current.
    const problem = modelProblem(shownPath(modelPathFor(schemaPath)), await set.models().catch((e: Error) => e), set.migrations, replay.versions);
    if (problem) problems.push(problem);
    ctx.interrupt.check();

    // 5. Stairway: up -> down -> up for every migration.
    if (!opts.skipStairway) {
      ctx.emit({ type: "info", message: `stairway: up, down, up for each of ${set.migrations.length} migrations` });
      await withScratchDatabase(admin, "check", async (db) => {
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

  return { ok: !problems.some((p) => p.severity === "error"), migrations: set.migrations.length, head: head?.version ?? null, problems };
}

/**
 * schema.model.json against the replay: the head model, and the model rebuilt
 * from the deltas at every version, must be what a replay gives there.
 */
function modelProblem(path: string, models: ModelHistory | null | Error, migrations: Migration[], replayed: Map<string, Model>): Problem | null {
  const fail = (message: string): Problem => ({ check: "model current", severity: "error", message });
  if (models instanceof Error) return fail(`${models.message}`);
  if (!models) return fail(`${path} does not exist: run '${brand.binary} dump'`);
  const head = migrations.at(-1);
  if (!head) return null;
  const same = (a: Model | null | undefined, b: Model | undefined) => !!a && !!b && stableStringify(a) === stableStringify({ ...b, serverMajor: a.serverMajor });
  if (models.head !== head.version || !same(models.headModel, replayed.get(head.version))) {
    return fail(`${path} does not match the migrations: run '${brand.binary} dump' and commit the result`);
  }
  if (!models.perVersion) return fail(`${path} describes only ${models.head}, not every version ('verify' at an older version would need CREATEDB): run '${brand.binary} dump' and commit the result`);
  const wrong = migrations.filter((m) => !same(models.rebuild(m.version), replayed.get(m.version))).map((m) => m.version);
  const listed = models.versions.join(",") === migrations.map((m) => m.version).join(",");
  if (wrong.length || !listed) {
    return fail(`${path} does not match the migrations at ${wrong.length ? `${wrong.length} version(s) (${wrong[0]}${wrong.length > 1 ? ", ..." : ""})` : "its list of versions"}: run '${brand.binary} dump' and commit the result`);
  }
  return null;
}

async function stair(db: Db, m: Migration, before: Model, schema: string): Promise<Problem[]> {
  const label = `${m.version}_${m.name}`;
  await runSection(db.sql, m.up);
  const after = await introspect(db.sql, schema);
  if (!m.down) return [{ check: "down undoes up", severity: "note", migration: label, message: `${m.file} has no down section: it cannot be rolled back (not an error)` }];
  try {
    await runSection(db.sql, m.down);
  } catch (e) {
    return [{ check: "down undoes up", severity: "error", migration: label, message: `${m.file}: the down section fails after up: ${(e as Error).message}` }];
  }
  const down = await introspect(db.sql, schema);
  const undo = diffModels(before, down);
  const out: Problem[] = [];
  if (undo.length) out.push({ check: "down undoes up", severity: "error", migration: label, message: `${m.file}: down does not undo up`, findings: undo });
  try {
    await runSection(db.sql, m.up);
  } catch (e) {
    out.push({ check: "up after down", severity: "error", migration: label, message: `${m.file}: up fails after down: ${(e as Error).message}` });
    return out;
  }
  const again = diffModels(after, await introspect(db.sql, schema));
  if (again.length) out.push({ check: "up after down", severity: "error", migration: label, message: `${m.file}: up after down builds a different schema`, findings: again });
  return out;
}
