// The wizard's actions. Each shows its plan, asks, then runs the same
// operations as the flag commands (src/ops: migrate, backup, restore, verify, ...)
// with typed options, draws their events inside the frame and summarises their
// typed outcome with the next step.

import { existsSync, readdirSync } from "node:fs";
import { basename, resolve } from "node:path";
import { confirm, note, select, text } from "@clack/prompts";
import { describeTarget } from "../core/config.ts";
import { formatDuration } from "../core/duration.ts";
import type { Emit } from "../core/events.ts";
import type { DatabaseState, StatusReport } from "../core/plan.ts";
import type { Context } from "../cli/context.ts";
import { ExitCode, isPgshipError } from "../core/errors.ts";
import { formatBytes } from "../core/format.ts";
import { backup, type BackupWritten } from "../ops/backup.ts";
import { listBackups, releasePreUpdatePins, type ListedBackup } from "../ops/backups.ts";
import { migrate } from "../ops/migrate.ts";
import { previewRestore, restore, type RestoreOptions, type RestoreOutcome } from "../ops/restore.ts";
import { cwd, execPath } from "../runtime.ts";
import { answer, Cancelled, dim, ProgressLine, say, yellow, type WizardIO } from "./ui.ts";

export interface Session {
  io: WizardIO;
  /** Builds a context for one action; `onResult` captures what the command would print. */
  context(opts?: { onResult?: (v: unknown) => void; emit?: Emit }): Context;
  binary: string;
  /** What this session changed so far, for the goodbye message. */
  changes: string[];
  /** The file the settings are in (./.env or --env-file), absolute; null when they are only in the environment or were typed. */
  envFile: string | null;
}

/** The binary's absolute path when running compiled, else its name. */
function selfPath(s: Session): string {
  const exe = execPath();
  return /^(bun|deno|node)(\.exe)?$/.test(basename(exe)) ? s.binary : exe;
}

/**
 * A crontab line that backs up nightly. Cron starts commands in the home
 * directory with an almost empty environment: the line names the binary, the
 * settings file and the backup directory by absolute path.
 */
export function cronAdvice(s: Session, backupDir = "backups"): string {
  const dir = resolve(cwd(), backupDir);
  const line = `0 3 * * * ${selfPath(s)} backup${s.envFile ? ` --env-file ${s.envFile}` : ""} --dir ${dir} --keep-daily 7`;
  return s.envFile
    ? `Back up nightly from cron (crontab -e):\n  ${line}`
    : `Back up nightly from cron (crontab -e). The settings are not in a file,\nso set DATABASE_URL at the top of the crontab:\n  DATABASE_URL=postgres://USER:PASSWORD@HOST:PORT/DB\n  ${line}`;
}

const out = (s: Session) => s.io.output ?? process.stdout;

/** Draws migration progress: a live line per step, settled with its duration. */
export function progressEmit(s: Session, line = new ProgressLine(out(s))): Emit {
  return (e) => {
    if (e.type === "step-start") line.start(`${e.step.kind === "snapshot" ? "loading the schema snapshot" : `${e.step.kind === "down" ? "rolling back" : "applying"} ${e.step.version}_${e.step.name}`}`);
    else if (e.type === "step-done") line.done(e.step.kind === "snapshot" ? `schema snapshot ${e.step.version} loaded` : `${e.step.resume ? "resumed" : "applied"} ${e.step.version}_${e.step.name}`, true, e.durationMs);
    else if (e.type === "warn") say.warn(s.io, e.message);
    else if (e.type === "lock-wait") say.info(s.io, "waiting for another run to finish (it holds the migration lock)");
  };
}

export async function adoptAction(s: Session, report: StatusReport, foreign: NonNullable<DatabaseState["foreign"]>): Promise<void> {
  const pending = report.entries.filter((e) => e.version > foreign.version).length;
  note(
    [
      `${foreign.tool} recorded this database at ${foreign.version}. Adopting it:`,
      `1. compares the live schema with what ${foreign.version} should be (nothing is recorded if they differ),`,
      `2. records the migrations up to ${foreign.version} as applied (by ${foreign.tool}),`,
      `3. applies the ${pending} newer migration${pending === 1 ? "" : "s"}, each in its own transaction.`,
      `${foreign.tool}'s own table is kept, so ${foreign.tool} still works if you go back.`,
    ].join("\n"),
    "Plan: adopt",
    s.io,
  );
  if (!(await answer(confirm({ ...s.io, message: "Adopt and update now?", initialValue: true })))) return;
  const ctx = s.context({ emit: progressEmit(s) });
  const r = await migrate(ctx, { mode: "up", adopt: true });
  if (r.adopted) s.changes.push(`adopted the ${r.adopted.tool} install at ${r.adopted.version}`);
  if (r.steps.length) s.changes.push(`updated to ${r.to}`);
  say.success(s.io, `Adopted from ${foreign.tool}${r.adopted ? ` at ${r.adopted.version}` : ""}; the database is at ${r.to}${r.steps.length ? ` after ${r.steps.length} migration${r.steps.length === 1 ? "" : "s"}` : ""}.`);
}

export async function installAction(s: Session, report: StatusReport): Promise<void> {
  note(`Creates the schema from the snapshot, then records all ${report.entries.length} migrations as applied.\nAll in one transaction: it completes, or nothing changes.`, "Plan: fresh install", s.io);
  if (!(await answer(confirm({ ...s.io, message: `Install into ${report.managed ? "this" : "the empty"} database now?`, initialValue: true })))) return;
  const ctx = s.context({ emit: progressEmit(s) });
  const r = await migrate(ctx, { mode: "install" });
  s.changes.push(`installed ${r.to}`);
  say.success(s.io, `Installed: the database is at ${r.to} (${formatDuration(r.durationMs)}).`);
  note(cronAdvice(s), "Next", s.io);
}

export async function updateAction(s: Session, report: StatusReport): Promise<void> {
  const pending = report.entries.filter((e) => e.status === "pending" || e.status === "running");
  note(pending.map((e) => `${e.version}  ${e.name}${e.status === "running" ? "  (interrupted earlier: resumed)" : ""}`).join("\n"), `Plan: ${pending.length} migration${pending.length === 1 ? "" : "s"}, each in its own transaction`, s.io);
  // An interrupted migration whose file was edited since: resumed with the new text only when asked.
  const acceptChanged: string[] = [];
  for (const e of pending.filter((x) => x.status === "running" && x.expectedChecksum)) {
    say.warn(s.io, `${e.version}_${e.name} was interrupted, and its file changed since that run started: what the old text did stays; resuming runs the new text from its first statement.`);
    if (!(await answer(confirm({ ...s.io, message: `Resume ${e.version} with the changed file? (recorded in the history)`, initialValue: false })))) return;
    acceptChanged.push(e.version);
  }
  // Asked first, taken only once the update is confirmed: answering No leaves nothing behind.
  const backupDir = (await answer(confirm({ ...s.io, message: "Take a backup first? (recommended)", initialValue: true }))) ? (await askBackupDir(s)) || "./backups" : null;
  if (!(await answer(confirm({ ...s.io, message: `Apply ${pending.length} migration${pending.length === 1 ? "" : "s"} now?`, initialValue: true })))) {
    say.info(s.io, "Not updated: nothing was changed.");
    return;
  }
  let restoreHint = "";
  let backupFile: string | null = null;
  if (backupDir) {
    const file = await backupAction(s, { quiet: true, dir: backupDir, pin: true });
    if (!file) return;
    backupFile = file;
    restoreHint = `${s.binary} restore ${file} --yes`;
  }
  let applied = 0;
  let at = report.version;
  const line = new ProgressLine(out(s));
  const draw = progressEmit(s, line);
  const ctx = s.context({
    emit: (e) => {
      if (e.type === "step-done" && e.step.kind !== "down") (applied++, (at = e.step.version));
      draw(e);
    },
  });
  try {
    const r = await migrate(ctx, { mode: "update", acceptChanged });
    s.changes.push(`updated to ${r.to}`);
    // The backup taken before this update replaces the earlier pre-update pin.
    if (backupFile) releasePreUpdatePins(ctx, backupFile);
    say.success(s.io, `Updated: the database is at ${r.to} (${r.steps.length} migration${r.steps.length === 1 ? "" : "s"} in ${formatDuration(r.durationMs)}).`);
    if (r.drift) say.warn(s.io, `The schema differs from the expected one in ${r.drift} place(s): run the health check.`);
  } catch (e) {
    if (applied) s.changes.push(`updated to ${at}`);
    const interrupted = isPgshipError(e) && e.exitCode === ExitCode.interrupted;
    line.abandon(interrupted ? "interrupted" : "failed");
    if (interrupted) {
      // Each migration runs in its own transaction: the interrupted one was rolled back, no data was lost.
      // Restoring the backup now would only throw away writes made since it was taken.
      say.info(s.io, applied ? `Stopped after ${applied} of ${pending.length}: the database is at ${at}; the interrupted migration was rolled back.` : `Nothing changed: the database is still at ${at}.`);
    } else if (restoreHint) {
      say.error(s.io, `The update failed${applied ? ` after ${applied} of ${pending.length} migrations (the database is at ${at})` : "; nothing changed"}. The backup taken just before is intact; to go back to it (writes since then are lost):\n  ${restoreHint}`);
    }
    throw e;
  }
}

export async function askBackupDir(s: Session, message = "Backup directory"): Promise<string> {
  return answer(text({ ...s.io, message, placeholder: "./backups", defaultValue: "./backups" }));
}

/**
 * What a backup or restore reports while the progress line runs: bytes and the
 * rate on the line; warnings and notes drawn above it, inside the frame.
 */
function opEmit(s: Session, line: ProgressLine, verb: string): Emit {
  return (e) => {
    if (e.type === "bytes") line.update(`${verb}: ${formatBytes(e.bytes)} at ${formatBytes(e.bytesPerSecond)}/s`);
    else if (e.type === "warn") line.interject(() => say.warn(s.io, e.message));
    else if (e.type === "info") line.interject(() => say.info(s.io, e.message));
    else if (e.type === "lock-wait") line.interject(() => say.info(s.io, "waiting for another run to finish (it holds the migration lock)"));
  };
}

/** Returns the backup file written, or null. */
export async function backupAction(s: Session, opts: { quiet?: boolean; dir?: string; pin?: boolean } = {}): Promise<string | null> {
  const dir = opts.dir ?? ((await askBackupDir(s)) || "./backups");
  const line = new ProgressLine(out(s));
  const ctx = s.context({ emit: opEmit(s, line, "Backing up") });
  line.start(`Backing up ${describeTarget(ctx.target())} to ${dir}`);
  let written: BackupWritten;
  try {
    written = await backup(ctx, { dir, compression: { method: "auto" }, keys: null, retention: {}, dryRun: false, tools: {}, pin: opts.pin ? "pre-update" : undefined });
  } catch (e) {
    line.done("Backup failed", false);
    throw e;
  }
  const file = written.file;
  line.done(`Backup written and verified: ${file}`);
  s.changes.push(`backup ${file}`);
  if (!opts.quiet) note(`Restore it with:\n  ${s.binary} restore ${file} --yes\n\n${cronAdvice(s, dir)}`, "Next", s.io);
  return file;
}

/** A restore of `file` as the wizard does it: swap (or in place without CREATEDB), with a way back. */
const restoreOptions = (file: string): RestoreOptions & { file: string } => ({
  file,
  undo: false,
  into: null,
  inPlace: false,
  dropOld: false,
  keepOwner: false,
  keepAcl: false,
  update: false,
  dryRun: false,
  requireManifest: true,
  otherApp: false,
  safetyDir: null,
  safetyBackup: true,
  keys: { identities: [], passphrases: [] },
  tools: {},
});

export async function restoreAction(s: Session): Promise<void> {
  const dir = (await askBackupDir(s, "Where are the backups?")) || "./backups";
  // Listing and planning draw nothing but warnings, inside the frame.
  const ctx = s.context({ emit: (e) => e.type === "warn" && say.warn(s.io, e.message) });
  const listing = await listBackups(ctx, { dir });
  const backups = listing.backups.filter((b): b is ListedBackup & { file: string } => b.file !== null);
  if (backups.length === 0) {
    say.warn(s.io, `No backups in ${dir}.`);
    return;
  }
  const file = await answer(
    select({
      ...s.io,
      message: "Which backup?",
      options: backups.map((b) => ({
        value: b.file,
        label: `${(b.createdAt ?? "").slice(0, 16).replace("T", " ")}  ${b.schemaVersion ?? "?"}`,
        hint: `${formatBytes(b.bytes ?? 0)}${b.encrypted ? ", encrypted" : ""}`,
      })),
    }),
  );
  const name = ctx.target().database;
  const opts = restoreOptions(file);
  // The way back, as the restore will decide it (swap or in place), said before the user confirms.
  const { plan } = await previewRestore(ctx, opts);
  const back =
    plan.mode === "swap"
      ? `The current database is kept under a dated name until you drop it (${s.binary} restore --undo swaps it back).`
      : plan.mode === "in-place"
        ? plan.safetyBackup
          ? `This role cannot create databases, so it is replaced in place; a safety backup of it is written to ${plan.safetyBackup} first (${s.binary} restore --undo restores it).`
          : "It is replaced in place, and no copy of it is kept."
        : `"${name}" does not exist yet: it is created from the backup.`;
  say.warn(s.io, yellow(`Restoring replaces the contents of "${name}" with the backup. ${back}`));
  const typed = await answer(text({ ...s.io, message: `Type the database name (${name}) to confirm`, validate: (v) => (v === name ? undefined : `type ${name} exactly`) }));
  if (typed !== name) throw new Cancelled();
  const shown = basename(file);
  const line = new ProgressLine(out(s));
  line.start(`Restoring ${shown}`);
  let result: RestoreOutcome;
  try {
    // Confirmed above, by typing the name.
    result = await restore({ ...s.context({ emit: opEmit(s, line, "Restoring") }), confirm: async () => true }, opts);
  } catch (e) {
    line.done("Restore failed: the live database was not changed", false);
    throw e;
  }
  line.done(`Restored ${shown}`);
  s.changes.push(`restored ${shown}`);
  const old = "kept" in result ? result.kept : null;
  const safety = "safetyBackup" in result ? result.safetyBackup : null;
  note(
    [
      old ? `The previous database is kept as "${old}": ${s.binary} restore --undo goes back to it; drop it when you are sure (${s.binary} restore --drop-old).` : "",
      safety ? `A safety backup of the previous contents: ${safety} (${s.binary} restore --undo restores it).` : "",
      `Check it: ${s.binary} status`,
    ]
      .filter(Boolean)
      .join("\n"),
    "Next",
    s.io,
  );
}

export async function healthAction(s: Session): Promise<void> {
  const { doctor } = await import("../ops/doctor.ts");
  // The operations' reports are drawn by the notes below; only their warnings are passed on.
  const warnings: Emit = (e) => e.type === "warn" && say.warn(s.io, e.message);
  const ctx = s.context({ emit: warnings });
  const line = new ProgressLine(out(s));
  line.start("Checking connection, tools, migrations and schema");
  const health = await doctor(ctx, {});
  const { checks } = health;
  const bad = checks.filter((c) => c.status !== "ok").length;
  line.done(bad ? `Health check: ${bad} finding(s)` : "Health check: all good", bad === 0);
  const width = Math.max(...checks.map((c) => c.name.length));
  const mark = { ok: "ok  ", warn: "WARN", fail: "FAIL" };
  note(checks.map((c) => `${mark[c.status]}  ${c.name.padEnd(width)}  ${c.detail}${c.fix ? dim(`\n      ${" ".repeat(width)}  fix: ${c.fix}`) : ""}`).join("\n"), "Health check", s.io);
  // Repairs are only ever made against the schema of the database's own version; with
  // migrations pending the way forward is the update, never a repair.
  if (health.pending) {
    say.warn(s.io, `${health.pending} migration${health.pending === 1 ? "" : "s"} pending: update first (choose Update in the menu), then run the health check again.`);
    return;
  }
  if (!checks.some((c) => c.name === "drift" && c.status === "fail")) return;
  const { verify } = await import("../ops/verify.ts");
  const { renderFindings } = await import("../catalog/diff.ts");
  const report = await verify(ctx, { fix: true, dryRun: true });
  note(renderFindings(report.findings), `Differences from the expected schema of ${report.version}`, s.io);
  const repairs = report.repairs ?? [];
  if (repairs.length) note(repairs.join("\n"), "Repair SQL (one transaction; nothing is dropped)", s.io);
  if (report.manual?.length) note(report.manual.map((m) => `${m.finding.name}: ${m.reason}${m.sql ? `\n  ${m.sql}` : ""}`).join("\n"), "Left for you to decide", s.io);
  if (!repairs.length || !(await answer(confirm({ ...s.io, message: `Apply ${repairs.length} repair statement(s)?`, initialValue: true })))) return;
  // Already confirmed above, with the SQL on screen: the operation re-plans under the lock and applies.
  const result = await verify({ ...s.context({ emit: warnings }), confirm: async () => true }, { fix: true, dryRun: false });
  s.changes.push("repaired drift");
  const applied = result.repaired ?? [];
  if (applied.join("\n") !== repairs.join("\n")) note(applied.join("\n") || "nothing", "The schema changed meanwhile: applied instead", s.io);
  if (result.ok) say.success(s.io, "Repaired; verified again: no drift.");
  else say.warn(s.io, `Repaired what could be repaired; ${result.remaining?.length ?? "some"} difference(s) remain for you to review.`);
}

export function countBackups(dir: string): number {
  if (!existsSync(dir)) return 0;
  return readdirSync(dir).filter((f) => /\.dump(\.age)?$/.test(f)).length;
}
