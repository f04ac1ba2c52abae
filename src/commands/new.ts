// new NAME: create migrations/<utc timestamp>_<name>.sql from a template.

import { brand } from "../brand.ts";
import { shownPath } from "../core/files.ts";
import type { ArgsDef } from "citty";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ExitCode, UsageError } from "../core/errors.ts";
import type { Context } from "../cli/context.ts";
import type { Args } from "../cli/flags.ts";
import { cwd } from "../runtime.ts";
import { TEMPLATE_MARK } from "../core/migration-file.ts";

/** Defaults from ./pgship.json. */
export const project = true;

export const args = {
  name: { type: "positional", description: "What the migration does, e.g. add_webhook_url", required: true },
  // --no-transaction (a boolean named "no-..." cannot be given: the parser reads --no-X as X=false).
  transaction: { type: "boolean", default: true, description: "Start from the template that runs in one transaction", negativeDescription: "Start from the transaction:false template (CREATE INDEX CONCURRENTLY, batched backfills)" },
} as const satisfies ArgsDef;

export const usage = `Writes into the migrationsDir of ./pgship.json when there is one, else ./migrations.
Examples:
  ${brand.binary} new add_webhook_url
  ${brand.binary} new index_api_keys_user --no-transaction`;

export function utcVersion(d: Date): string {
  return d.toISOString().replace(/[-:T]/g, "").slice(0, 14);
}

export function migrationTemplate(transaction: boolean): string {
  const bin = brand.binary;
  if (!transaction) {
    return `-- migrate:up transaction:false
${TEMPLATE_MARK}
-- Runs statement by statement, outside a transaction. Keep each statement safe to re-run
-- (IF NOT EXISTS): after a crash '${bin} up' drops an INVALID index and runs this again.
--
-- Index a big table without blocking writes:
--   create index concurrently if not exists accounts_user_id_idx on accounts (user_id);
--
-- Backfill a big table in batches (each batch commits, so locks stay short):
--   do $$
--   declare n int;
--   begin
--     loop
--       update accounts set plan = 'free'
--         where id in (select id from accounts where plan is null limit 10000);
--       get diagnostics n = row_count;
--       exit when n = 0;
--       commit;
--     end loop;
--   end $$;


-- migrate:down transaction:false
-- Undo the up section, e.g.:
--   drop index concurrently if exists accounts_user_id_idx;

`;
  }
  return `-- migrate:up
${TEMPLATE_MARK}
-- The whole section runs in one transaction. Examples:
--
-- Add a column (nullable, or with a constant default: no table rewrite):
--   alter table accounts add column webhook_url text;
--
-- Index a big table without blocking writes: CREATE INDEX CONCURRENTLY cannot run in a
-- transaction, so it goes in its own migration, made by '${bin} new NAME --no-transaction':
--   create index concurrently if not exists accounts_user_id_idx on accounts (user_id);
--
-- Backfill a big table in batches: also its own --no-transaction migration, so each
-- batch commits on its own (its template shows the loop).


-- migrate:down
-- Undo the up section, e.g.:
--   alter table accounts drop column webhook_url;

`;
}

export async function run(ctx: Context, a: Args): Promise<number> {
  const name = String(a.name).trim().toLowerCase().replace(/[\s-]+/g, "_");
  if (!/^[a-z0-9][a-z0-9_]*$/.test(name)) {
    throw new UsageError(`migration name "${a.name}" may only contain letters, digits and _`, `e.g. ${brand.binary} new add_webhook_url`);
  }
  const dir = resolve(cwd(), String(a["migrations-dir"] ?? "migrations"));
  mkdirSync(dir, { recursive: true });
  const taken = new Set(readdirSync(dir).map((f) => f.slice(0, 14)));
  let t = Date.now();
  while (taken.has(utcVersion(new Date(t)))) t += 1000;
  const file = join(dir, `${utcVersion(new Date(t))}_${name}.sql`);
  if (existsSync(file)) throw new UsageError(`${file} already exists`);
  writeFileSync(file, migrationTemplate(a.transaction !== false), { flag: "wx" });
  const shown = shownPath(file);
  const next = [`edit ${shown}`, `${ctx.binary} dump`, `${ctx.binary} check`];
  ctx.result({ ok: true, file: shown, next }, () =>
    [`Created ${shown}`, "", "Next:", `  1. edit ${shown}: replace the comments of its up section with the SQL, and undo it in the down section`, `  2. ${ctx.binary} dump    # rewrites schema.sql and schema.model.json (needs a database server)`, `  3. ${ctx.binary} check   # the CI gate: replays every migration, up and down`].join("\n"),
  );
  return ExitCode.ok;
}
