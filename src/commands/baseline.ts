// baseline V: flags → options → the baseline operation → text or JSON.

import type { ArgsDef } from "citty";
import { ExitCode } from "../core/errors.ts";
import { baseline } from "../ops/baseline.ts";
import type { Context } from "../cli/context.ts";
import type { Args } from "../cli/flags.ts";

export const args = {
  version: { type: "positional", description: "The migration version the database's schema already matches", required: true },
} as const satisfies ArgsDef;

export const usage = `Examples:
  pgship baseline 20250301120000   # schema matches everything up to and including this migration
A database managed by dbmate keeps its versions in public.schema_migrations; pgship names the version it finds there.`;

export async function run(ctx: Context, a: Args): Promise<number> {
  const r = await baseline(ctx, { version: String(a.version) });
  ctx.result(r, () => `Baselined at ${r.version}: ${r.recorded} migrations recorded as applied. Run '${ctx.binary} up' for newer ones.`);
  return ExitCode.ok;
}
