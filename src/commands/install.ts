import type { Context } from "../cli/context.ts";
import type { Args } from "../cli/flags.ts";
import { migrateArgs, runMigrate } from "./up.ts";

export const args = migrateArgs;
export const run = (ctx: Context, a: Args) => runMigrate(ctx, a, "install");
