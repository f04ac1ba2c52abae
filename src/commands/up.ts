// up (and install / update, which share its flags): flags → migrate options,
// the outcome printed as text or JSON.

import { brand } from "../brand.ts";
import { plural } from "../core/format.ts";
import type { ArgsDef } from "citty";
import { formatDuration } from "../core/duration.ts";
import { ExitCode, UsageError } from "../core/errors.ts";
import type { TakenBackup } from "../backup/create.ts";
import { backupBeforeMigrating } from "../ops/backup.ts";
import { releasePreUpdatePins } from "../ops/backups.ts";
import type { Db } from "../db/connect.ts";
import { migrate, planMigration, type MigrateMode, type MigrateOutcome, type PlanOutcome } from "../ops/migrate.ts";
import { alertArgs } from "../cli/alert-args.ts";
import type { Context } from "../cli/context.ts";
import { intFlag, type Args } from "../cli/flags.ts";
import { preBackupArgs, preBackupFlags, restoreCommand, withRestoreHint } from "../cli/backup-flags.ts";

export const migrateArgs = {
  to: { type: "string", description: "Stop at this version instead of the newest", valueHint: "version" },
  "dry-run": { type: "boolean", description: "Print the plan and its SQL; change nothing" },
  "lock-retries": { type: "string", description: "Retries of a migration that hits its lock_timeout", default: "5", valueHint: "n" },
  verify: { type: "boolean", description: "Compare the schema with the expected one after migrating (warns on drift)", default: true, negativeDescription: "Skip the check after migrating" },
  "fail-on-drift": { type: "boolean", description: "Exit 4 when the check after migrating finds drift" },
  "accept-changed": {
    type: "string",
    description: "Resume an interrupted transaction:false migration although its file changed since it started (recorded in the history)",
    valueHint: "version",
  },
} as const satisfies ArgsDef;

export const args = {
  ...migrateArgs,
  adopt: { type: "boolean", description: "Adopt a database dbmate, golang-migrate, Prisma or Alembic migrated (as 'baseline --from'), then apply what is pending" },
  ...preBackupArgs,
  ...alertArgs,
} as const satisfies ArgsDef;
export const run = (ctx: Context, a: Args) => runMigrate(ctx, a, "up");
export const usage = `Empty database: fresh install from the snapshot. Installed database: pending migrations.
A non-empty database that ${brand.display} does not manage is refused (see 'baseline'); with --adopt, one that
dbmate, golang-migrate, Prisma or Alembic migrated is adopted first (schema checked, history recorded).
Examples:
  ${brand.binary} up --database-url postgres://app@db:5432/app --wait 60s   # container entrypoint
  ${brand.binary} up --dry-run                                               # show plan and SQL
  ${brand.binary} up --backup /var/backups/app                               # verified backup first, pinned (see 'backup')
  ${brand.binary} up --ping https://hc-ping.com/<uuid>                       # report start, success or failure
  ${brand.binary} up --adopt                                                 # take over from dbmate & co, then migrate`;

export async function runMigrate(ctx: Context, a: Args, mode: MigrateMode): Promise<number> {
  const to = a.to ? String(a.to) : undefined;
  const lockRetries = intFlag(a["lock-retries"], "lock-retries") ?? 5;
  if (a["dry-run"] && a.adopt) throw new UsageError("--adopt cannot be combined with --dry-run", "adoption reads and checks the database; run 'baseline --from TOOL' first, then 'up --dry-run'");
  const acceptChanged = a["accept-changed"] ? String(a["accept-changed"]).split(",").map((v) => v.trim()).filter(Boolean) : undefined;
  if (a["dry-run"]) {
    const plan = await planMigration(ctx, { mode, to, acceptChanged });
    ctx.result(plan, () => renderPlan(plan));
    return ExitCode.ok;
  }
  const backupFlags = "backup" in a ? preBackupFlags(ctx, a) : null;
  let backup: TakenBackup | null = null;
  const beforeSteps = backupFlags
    ? async (db: Db, managed: boolean) => {
        if (managed) backup = await backupBeforeMigrating(ctx, db, backupFlags);
      }
    : undefined;
  const r = await migrate(ctx, { mode, to, lockRetries, verify: a.verify !== false, adopt: a.adopt === true, acceptChanged, beforeSteps }).catch((e: unknown) => {
    if (!backup) throw e;
    // A migration failed after --backup: say exactly how to go back.
    if (!(e instanceof Error && "exitCode" in e)) ctx.log.warn(`to return to the backup taken before this run: ${restoreCommand(backup, a)}`);
    throw withRestoreHint(e, backup, a);
  });
  const taken = backup as TakenBackup | null;
  // The update succeeded: the backup taken before it replaces the earlier pre-update pin.
  const unpinned = taken ? await releasePreUpdatePins(ctx, taken.archivePath) : [];
  const json = taken
    ? { ...r, backup: { file: taken.archivePath, manifest: taken.manifestPath, sha256: taken.manifest.archive.sha256, restore: restoreCommand(taken, a), pinned: taken.manifest.pinned ?? null, unpinned } }
    : r;
  ctx.result(json, () => summary(r));
  return r.drift && a["fail-on-drift"] ? ExitCode.drift : ExitCode.ok;
}

export function summary(r: MigrateOutcome): string {
  const a = r.adopted;
  const adopted = a ? `Adopted from ${a.tool} (${a.table} at ${a.sourceVersion}): migrations up to ${a.version} recorded as applied.\n` : "";
  return adopted + summaryOf(r);
}

function summaryOf(r: MigrateOutcome): string {
  if (r.action === "none") return `Already up to date at ${r.from ?? "(no migrations)"}.`;
  const n = r.steps.length;
  if (r.action === "down") return `Rolled back ${plural(n, "migration")} in ${formatDuration(r.durationMs)}: database at ${r.to ?? "(no migrations applied)"}.`;
  const snapshot = r.steps.find((s) => s.kind === "snapshot");
  const applied = r.steps.filter((s) => s.kind === "up").length;
  const parts = [snapshot ? `schema snapshot ${snapshot.version}` : "", applied ? `${plural(applied, "migration")} applied` : ""].filter(Boolean);
  const verb = r.action === "install" ? "Installed" : "Updated";
  return `${verb}: database at ${r.to} (${parts.join(", ")}; ${plural(n, "step")} in ${formatDuration(r.durationMs)}).`;
}

export function renderPlan(plan: PlanOutcome): string {
  if (plan.action === "none") return `Nothing to do: ${plan.database} is at ${plan.from ?? "(no migrations)"}.\n`;
  const out = [`Plan (dry run, nothing changed): ${plan.action} on ${plan.database}, ${plan.from ?? "empty"} -> ${plan.to ?? "empty"}`];
  plan.steps.forEach((s, i) => {
    const desc =
      s.kind === "snapshot"
        ? `load snapshot ${s.version} and record the migrations it contains as applied`
        : `${s.kind === "down" ? "roll back" : s.resume ? "resume" : "apply"} ${s.file}${s.transaction ? "" : " (no transaction)"}`;
    out.push(`  ${i + 1}. ${desc}`);
  });
  if (plan.action === "install" && plan.atomicPrefix > 1) out.push(`  Steps 1-${plan.atomicPrefix} commit together in one transaction.`);
  out.push("");
  plan.steps.forEach((s, i) => out.push(`-- ${i + 1}. ${s.kind} ${s.version} ${s.name}`, s.sql, ""));
  return out.join("\n");
}
