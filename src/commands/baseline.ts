// baseline [V] [--from TOOL] [--force] [--drop-source]: flags → options → the baseline operation → text or JSON.

import { brand } from "../brand.ts";
import type { ArgsDef } from "citty";
import { ADOPT_TOOLS, isAdoptTool } from "../core/adopt-map.ts";
import { ExitCode, UsageError } from "../core/errors.ts";
import { baseline, type BaselineOutcome } from "../ops/baseline.ts";
import type { Context } from "../cli/context.ts";
import type { Args } from "../cli/flags.ts";

export const args = {
  version: { type: "positional", description: "The migration version the database's schema already matches", required: false },
  from: { type: "string", description: `Adopt the history another tool recorded: ${ADOPT_TOOLS.join(", ")}`, valueHint: "tool" },
  force: { type: "boolean", description: "With --from: record even when the schema differs from that version's (recorded as forced)" },
  "drop-source": { type: "boolean", description: "Drop the adopted tool's tracking table (kept until then so that tool can still roll back)" },
} as const satisfies ArgsDef;

export const usage = `Examples:
  ${brand.binary} baseline 20250301120000        # schema matches everything up to and including this migration
  ${brand.binary} baseline --from dbmate         # read the version from dbmate's schema_migrations, check the schema, record it
  ${brand.binary} baseline --drop-source         # later: drop dbmate's table once you no longer need to roll back with it
--from reads schema_migrations (dbmate, golang-migrate), _prisma_migrations (Prisma) or alembic_version
(Alembic, through the Alembic revision map in package.json), compares the schema with the exact
model of that version (exit 4 and nothing recorded when it differs) and records the history.`;

export async function run(ctx: Context, a: Args): Promise<number> {
  const from = a.from === undefined ? undefined : String(a.from);
  if (from !== undefined && !isAdoptTool(from)) throw new UsageError(`--from ${from}: unknown tool`, `use one of ${ADOPT_TOOLS.join(", ")}`);
  const r = await baseline(ctx, { version: a.version ? String(a.version) : undefined, from, force: a.force === true, dropSource: a["drop-source"] === true });
  ctx.result(r, () => text(ctx, r));
  return ExitCode.ok;
}

function text(ctx: Context, r: BaselineOutcome): string {
  const out: string[] = [];
  if (r.adopted) {
    const a = r.adopted;
    out.push(`Adopted from ${a.tool} (${a.table} at ${a.sourceVersion}): ${r.recorded} migrations up to ${r.version} recorded as applied${a.forced ? `, forced although the schema differs in ${a.drift} place(s)` : "; the schema matches that version"}.`);
    if (!r.dropped) out.push(`${a.table} is kept so ${a.tool} can still roll back; drop it later with '${ctx.binary} baseline --drop-source'.`);
  } else if (r.recorded) out.push(`Baselined at ${r.version}: ${r.recorded} migrations recorded as applied.`);
  if (r.dropped) out.push(`Dropped ${r.dropped.join(", ")}.`);
  if (r.recorded) out.push(`Run '${ctx.binary} up' for newer ones.`);
  return out.join("\n");
}
