// The command table. Each command module is imported only when it runs, so
// `status` never loads the code of `dump` (or, later, the wizard).

import type { ArgsDef } from "citty";
import type { Args } from "./flags.ts";
import type { Context } from "./context.ts";

export interface CommandModule {
  args: ArgsDef;
  usage?: string;
  run(ctx: Context, args: Args): Promise<number | void>;
  /** Reads the defaults of --migrations-dir, --schema-file and --tracking-schema from ./pgship.json. */
  project?: boolean;
}

export interface CommandEntry {
  description: string;
  load: () => Promise<CommandModule>;
}

export const commands: Record<string, CommandEntry> = {
  up: { description: "Bring the database to the newest version: install if empty, else apply pending migrations", load: () => import("../commands/up.ts") },
  install: { description: "Fresh install into an empty database (snapshot, stamp, newer migrations)", load: () => import("../commands/install.ts") },
  update: { description: "Apply pending migrations to an installed database", load: () => import("../commands/update.ts") },
  status: { description: "Show applied, pending, changed, unknown and running migrations", load: () => import("../commands/status.ts") },
  down: { description: "Roll back migrations with their down sections", load: () => import("../commands/down.ts") },
  new: { description: "Create a new migration file from a template", load: () => import("../commands/new.ts") },
  dump: { description: "Regenerate schema.sql by replaying every migration in a scratch database", load: () => import("../commands/dump.ts") },
  baseline: { description: "Adopt an existing database: at version V, or from dbmate, golang-migrate, Prisma or Alembic", load: () => import("../commands/baseline.ts") },
  wait: { description: "Wait until the database accepts connections", load: () => import("../commands/wait.ts") },
  backup: { description: "Back up the database: verified pg_dump archive + manifest, optional age encryption, retention", load: () => import("../commands/backup.ts") },
  backups: { description: "List the backups in a directory; 'backups verify FILE' test-restores one", load: () => import("../commands/backups.ts") },
  restore: { description: "Restore a backup: checked first, built beside the live database and swapped in", load: () => import("../commands/restore.ts") },
  check: { description: "CI gate: snapshot equals replay, every down undoes its up, snapshot and model current", load: () => import("../commands/check.ts") },
  doctor: { description: "Check connection, tools, lock, migrations and drift; each finding with its fix", load: () => import("../commands/doctor.ts") },
  init: { description: "Ship the database with an app: first migration, pgship.json, CI workflow, branded install.sh", load: () => import("../commands/init.ts") },
  verify: { description: "Compare the live schema with the one its version should have; --fix repairs additive drift", load: () => import("../commands/verify.ts") },
};
