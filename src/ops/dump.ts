// dump: regenerate schema.sql and schema.model.json from a scratch database built
// by replaying every migration, so drift in the development database never leaks
// in. The model file records the catalog model after every migration (each as a
// delta against the one before), so `verify` has the exact schema of any version.

import { brand } from "../brand.ts";
import { renameSync, writeFileSync } from "node:fs";
import { modelPathFor, diskPaths } from "../source.ts";
import { introspect } from "../catalog/introspect.ts";
import { buildHistory, serializeHistory } from "../catalog/model-history.ts";
import type { Model } from "../catalog/model.ts";
import { PgshipError } from "../core/errors.ts";
import { readRegularFile, shownPath } from "../core/files.ts";
import { replayMigrations, withScratchDatabase } from "../db/scratch.ts";
import { findPgTool } from "../tools/pg-tools.ts";
import { dumpSnapshot } from "../db/snapshot-dump.ts";
import type { OpContext } from "./context.ts";

export interface DumpOptions {
  /** Directory holding pg_dump. */
  pgBin?: string;
  /** Write nothing: report whether the files are what dump would write. */
  check: boolean;
}

export interface DumpOutcome {
  /** Written, or (check) already current. */
  ok: boolean;
  check: boolean;
  /** schema.sql, relative to the working directory. */
  file: string;
  modelFile: string;
  /** The newest migration: the snapshot's version. */
  version: string;
  /** How many versions the model file describes (one per migration). */
  versions: number;
  /** Files that differed from what dump writes (written now, or stale with check). */
  stale: string[];
  /** A file was written (never with check). */
  changed: boolean;
  /** Size of schema.sql. */
  bytes: number;
}

function writeAtomically(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

export async function dump(ctx: OpContext, opts: DumpOptions): Promise<DumpOutcome> {
  // Only the migrations: the old schema.sql may belong to migrations that were replaced.
  const set = await ctx.migrations({ preferDisk: true, withoutSnapshot: true });
  const head = set.migrations.at(-1);
  if (!head) throw new PgshipError("no_migrations", "there are no migrations to dump", { hint: `create one with '${brand.binary} new NAME'` });
  const out = set.schemaPath ?? diskPaths({}).schemaPath;
  const modelOut = modelPathFor(out);
  const admin = await ctx.connect("dump");
  let text: string;
  let modelText = "";
  try {
    const pgDump = await findPgTool("pg_dump", Math.floor(admin.serverVersionNum / 10000), opts.pgBin);
    ctx.emit({ type: "info", message: `replaying ${set.migrations.length} migrations in a scratch database (${pgDump.path}, ${pgDump.version})` });
    text = await withScratchDatabase(admin, "dump", async (db, target) => {
      // The model after each migration: what verify compares with at that version.
      const models: { version: string; model: Model }[] = [];
      for (const m of set.migrations) {
        ctx.interrupt.check();
        await replayMigrations(db, [m]);
        models.push({ version: m.version, model: await introspect(db.sql, ctx.schema) });
      }
      modelText = serializeHistory(buildHistory(models));
      const text = await dumpSnapshot(db.sql, target, pgDump.path, ctx.schema, head.version, ctx.interrupt.signal);
      ctx.interrupt.check("while pg_dump read the scratch database: nothing was written");
      return text;
    });
  } finally {
    await admin.close();
  }
  const shown = shownPath(out);
  const shownModel = shownPath(modelOut);
  const current = readRegularFile(out, "schema snapshot", shown);
  const currentModel = readRegularFile(modelOut, "schema model", shownModel);
  // The major the model was read on is informational (check ignores it too): a model
  // dumped on another major is current when everything else is the same.
  const anyMajor = (t: string | null) => t?.replace(/^( *)"serverMajor": \d+,$/m, '$1"serverMajor": 0,');
  const stale = [...(current !== text ? [shown] : []), ...(anyMajor(currentModel) !== anyMajor(modelText) ? [shownModel] : [])];
  const base = { check: opts.check, file: shown, modelFile: shownModel, version: head.version, versions: set.migrations.length, stale, bytes: Buffer.byteLength(text) };
  if (opts.check) return { ...base, ok: stale.length === 0, changed: false };
  if (current !== text) writeAtomically(out, text);
  if (stale.includes(shownModel)) writeAtomically(modelOut, modelText);
  return { ...base, ok: true, changed: stale.length > 0 };
}
