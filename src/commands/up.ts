import type { Context } from "../cli/context.ts";
import type { Args } from "../cli/flags.ts";
import { migrateArgs, runMigrate } from "./_migrate.ts";
import { preBackupArgs } from "./_pre-backup.ts";

export const args = { ...migrateArgs, ...preBackupArgs };
export const run = (ctx: Context, a: Args) => runMigrate(ctx, a, "up");
export const usage = `Empty database: fresh install from the snapshot. Installed database: pending migrations.
A non-empty database that pgship does not manage is refused (see 'baseline').
Examples:
  pgship up --database-url postgres://app@db:5432/app --wait 60s   # container entrypoint
  pgship up --dry-run                                               # show plan and SQL
  pgship up --backup /var/backups/app                               # verified backup first (see 'backup')`;
