// dump: regenerate schema.sql and schema.model.json (the model at every version)
// from a scratch database built by replaying every migration. The work is the
// dump operation (src/ops/dump.ts); this renders its outcome.

import { brand } from "../brand.ts";
import type { ArgsDef } from "citty";
import { ExitCode } from "../core/errors.ts";
import type { Context } from "../cli/context.ts";
import type { Args } from "../cli/flags.ts";
import { dump, type DumpOutcome } from "../ops/dump.ts";

/** Defaults from ./pgship.json. */
export const project = true;

export const args = {
  "pg-bin": { type: "string", description: "Directory holding pg_dump", valueHint: "dir" },
  check: { type: "boolean", description: "Do not write: exit 4 if schema.sql or schema.model.json is not what dump would write" },
} as const satisfies ArgsDef;

export const usage = `Needs a server where the role may create databases (a development server), and pg_dump.
Reads migrationsDir, schemaFile and trackingSchema from ./pgship.json when there is one.
Writes schema.sql (the snapshot) and schema.model.json (the catalog model at every migration,
which 'verify' compares with at the database's version).
Examples:
  ${brand.binary} dump --database-url postgres://dev@localhost/dev
  ${brand.binary} dump --check   # CI: fail if schema.sql or schema.model.json is stale`;

export async function run(ctx: Context, a: Args): Promise<number> {
  const outcome = await dump(ctx, { pgBin: a["pg-bin"] as string | undefined, check: Boolean(a.check) });
  ctx.result(outcome, () => text(outcome));
  return outcome.ok ? ExitCode.ok : ExitCode.drift;
}

function text(o: DumpOutcome): string {
  if (o.check) {
    return o.ok
      ? `${o.file} and ${o.modelFile} are up to date (snapshot at ${o.version}, models for ${o.versions} versions).`
      : `${o.stale.join(" and ")} ${o.stale.length === 1 ? "is" : "are"} stale: run '${brand.binary} dump' and commit the result.`;
  }
  return o.changed
    ? `Wrote ${o.file} (snapshot at ${o.version}, ${o.bytes} bytes) and ${o.modelFile} (models for ${o.versions} versions).`
    : `${o.file} and ${o.modelFile} are already up to date (snapshot at ${o.version}).`;
}
