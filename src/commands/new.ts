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

export const args = {
  name: { type: "positional", description: "What the migration does, e.g. add_webhook_url", required: true },
  "no-transaction": { type: "boolean", description: "Start from the transaction:false template (CREATE INDEX CONCURRENTLY)" },
} as const satisfies ArgsDef;

export const usage = `Examples:
  ${brand.binary} new add_webhook_url
  ${brand.binary} new index_api_keys_user --no-transaction`;

export function utcVersion(d: Date): string {
  return d.toISOString().replace(/[-:T]/g, "").slice(0, 14);
}

export function migrationTemplate(transaction: boolean): string {
  return transaction
    ? "-- migrate:up\n\n\n-- migrate:down\n\n"
    : `-- migrate:up transaction:false\n-- Runs statement by statement, outside a transaction. Keep it safe to re-run (IF NOT EXISTS):\n-- after a crash '${brand.binary} up' drops the INVALID index and runs this again.\n\n\n-- migrate:down transaction:false\n\n`;
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
  writeFileSync(file, migrationTemplate(!a["no-transaction"]), { flag: "wx" });
  const shown = shownPath(file);
  ctx.result({ ok: true, file: shown }, () => `Created ${shown}`);
  return ExitCode.ok;
}
