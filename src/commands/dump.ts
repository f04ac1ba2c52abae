// dump: regenerate schema.sql from a scratch database built by replaying every
// migration, so drift in the development database never leaks into it.

import type { ArgsDef } from "citty";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { relative } from "node:path";
import { diskPaths, modelPathFor } from "../source.ts";
import { introspect } from "../catalog/introspect.ts";
import { stableStringify, type ModelFile } from "../catalog/model.ts";
import { ExitCode, PgshipError } from "../core/errors.ts";
import { normaliseDump } from "../core/snapshot.ts";
import { replayMigrations, withScratchDatabase } from "../db/scratch.ts";
import { findPgTool, libpqEnv } from "../tools/pg-tools.ts";
import { runProc } from "../tools/proc.ts";
import type { Context } from "../cli/context.ts";
import type { Args } from "../cli/flags.ts";
import { cwd } from "../runtime.ts";

export const args = {
  "pg-bin": { type: "string", description: "Directory holding pg_dump", valueHint: "dir" },
  check: { type: "boolean", description: "Do not write: exit 4 if schema.sql or schema.model.json is not what dump would write" },
} as const satisfies ArgsDef;

export const usage = `Needs a server where the role may create databases (a development server), and pg_dump.
Examples:
  pgship dump --database-url postgres://dev@localhost/dev
  pgship dump --check   # CI: fail if schema.sql is stale`;

function writeAtomically(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

export async function run(ctx: Context, a: Args): Promise<number> {
  const set = await ctx.migrations({ preferDisk: true });
  const head = set.migrations.at(-1);
  if (!head) throw new PgshipError("no_migrations", "there are no migrations to dump", { hint: "create one with 'pgship new NAME'" });
  const out = diskPaths({ migrationsDir: a["migrations-dir"] as string | undefined, schemaFile: a["schema-file"] as string | undefined }).schemaPath;
  const admin = await ctx.connect("dump");
  let text: string;
  let modelText = "";
  const modelOut = modelPathFor(out);
  try {
    const pgDump = await findPgTool("pg_dump", Math.floor(admin.serverVersionNum / 10000), a["pg-bin"] as string | undefined);
    ctx.log.debug(`using ${pgDump.path} (${pgDump.version})`);
    text = await withScratchDatabase(admin, async (db, target) => {
      await replayMigrations(db, set.migrations);
      modelText = stableStringify({ version: head.version, model: await introspect(db.sql, ctx.schema) } satisfies ModelFile);
      const r = await runProc({
        command: pgDump.path,
        args: ["--schema-only", "--no-owner", "--no-privileges", `--exclude-schema=${ctx.schema}`],
        env: libpqEnv(target),
      });
      if (r.code !== 0) throw new PgshipError("pg_dump_failed", `pg_dump failed: ${r.stderr.trim()}`);
      return normaliseDump(r.stdout, head.version);
    });
  } finally {
    await admin.close();
  }
  const shown = relative(cwd(), out);
  const current = existsSync(out) ? readFileSync(out, "utf8") : null;
  const currentModel = existsSync(modelOut) ? readFileSync(modelOut, "utf8") : null;
  if (a.check) {
    const ok = current === text && currentModel === modelText;
    ctx.result({ ok, file: shown, version: head.version }, () =>
      ok ? `${shown} is up to date (snapshot at ${head.version}).` : `${shown} is stale: run 'pgship dump' and commit the result.`,
    );
    return ok ? ExitCode.ok : ExitCode.drift;
  }
  if (current !== text) writeAtomically(out, text);
  if (currentModel !== modelText) writeAtomically(modelOut, modelText);
  const changed = current !== text || currentModel !== modelText;
  const shownModel = relative(cwd(), modelOut);
  ctx.result({ ok: true, file: shown, modelFile: shownModel, version: head.version, changed, bytes: Buffer.byteLength(text) }, () =>
    changed
      ? `Wrote ${shown} (snapshot at ${head.version}, ${Buffer.byteLength(text)} bytes) and ${shownModel}.`
      : `${shown} and ${shownModel} are already up to date (snapshot at ${head.version}).`,
  );
  return ExitCode.ok;
}
