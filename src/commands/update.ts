import type { Context } from "../cli/context.ts";
import type { Args } from "../cli/flags.ts";
import { migrateArgs, runMigrate } from "./up.ts";
import { preBackupArgs } from "../cli/backup-flags.ts";
import { alertArgs } from "../cli/alert-args.ts";

export const args = { ...migrateArgs, ...preBackupArgs, ...alertArgs };
export const run = (ctx: Context, a: Args) => runMigrate(ctx, a, "update");
