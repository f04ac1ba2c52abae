// schedule: `schedule backup` installs a systemd timer (or a crontab line) that
// runs `backup` by itself; `schedule list` and `schedule remove NAME` see only
// what this command installed. The work is src/ops/schedule.ts.

import { brand, envName } from "../brand.ts";
import type { ArgsDef } from "citty";
import { basename, join, resolve } from "node:path";
import { existsSync } from "node:fs";
import { ExitCode, UsageError } from "../core/errors.ts";
import { encryptKeys } from "../backup/keys.ts";
import { parseCompression } from "../backup/compression.ts";
import { encryptArgs, keyFlags, repeated, retentionArgs, retentionPolicy, toolArgs } from "../cli/backup-flags.ts";
import type { Context } from "../cli/context.ts";
import type { Args } from "../cli/flags.ts";
import { listSchedules, parseAt, shellQuote, removeSchedule, scheduleBackup, type ScheduleInstalled, type ScheduleListing, type ScheduleOptions } from "../ops/schedule.ts";
import { cwd, execPath } from "../runtime.ts";

export const args = {
  action: { type: "positional", required: false, description: "backup, list or remove" },
  schedule: { type: "positional", required: false, description: "remove: the schedule's name (default backup)" },
  dir: { type: "string", description: "backup: where the backups go (a directory, or s3://BUCKET/PREFIX)", valueHint: "dir" },
  at: { type: "string", description: "backup: HH:MM on the 24-hour clock (local time), daily (00:00) or hourly", default: "03:15", valueHint: "time" },
  ...retentionArgs,
  ...encryptArgs,
  compress: { type: "string", description: "backup: compression, as for the backup command", valueHint: "method" },
  ...toolArgs,
  // Not the backup command's alertArgs: scheduling is not a run to report on; the URLs go into the env file.
  ping: { type: "string", description: `backup: monitoring URL each scheduled run reports to (written to the env file as ${envName("PING_URL")})`, valueHint: "url" },
  notify: { type: "string", description: `backup: URL each scheduled run POSTs its outcome to (written to the env file as ${envName("NOTIFY_URL")})`, valueHint: "url" },
  name: { type: "string", description: "backup: name of this schedule, to keep several (default backup)", valueHint: "name" },
  systemd: { type: "boolean", description: "backup: install a systemd timer (default where systemd runs)" },
  cron: { type: "boolean", description: "backup: install a crontab line (default where systemd does not run)" },
  print: { type: "boolean", description: "backup: print the units or the crontab line; install nothing" },
} as const satisfies ArgsDef;

export const usage = `Installs a systemd timer + service (system units in /etc/systemd/system as root, user units in
~/.config/systemd/user otherwise) where systemd runs, else a crontab line. They name the binary, the
env file and the directory by absolute path; DATABASE_URL and other secrets stay in the env file
(--env-file, else ./.env; mode 0600), never in a unit or the crontab. Runs never overlap (flock -n).
Exit codes: 0 ok, 1 error (schedule_unavailable: no systemd and no cron; schedule_missing), 2 usage.
Examples:
  ${brand.binary} schedule backup --dir /var/backups/app --env-file /srv/app/.env --at 03:15 --keep-daily 7 --keep-weekly 4
  ${brand.binary} schedule backup --dir /var/backups/app --env-file /srv/app/.env --ping https://hc-ping.com/<uuid>
  ${brand.binary} schedule backup --dir /var/backups/app --env-file /srv/app/.env --cron --print    # show the line only
  ${brand.binary} schedule list
  ${brand.binary} schedule remove backup`;

/** The binary a schedule runs: this one, by absolute path (not the runtime running the sources). */
function selfBinary(): string {
  const exe = execPath();
  if (/^(bun|deno|node)(\.exe)?$/.test(basename(exe))) throw new UsageError("a schedule runs the compiled binary: run this command with it, not from the sources");
  return exe;
}

function envFileOf(a: Args): string {
  if (a["database-url"]) throw new UsageError("--database-url would put the password into the schedule", "put DATABASE_URL in an env file (mode 0600) and pass --env-file FILE");
  if (a["env-file"]) return resolve(cwd(), String(a["env-file"]));
  const dotenv = join(cwd(), ".env");
  if (existsSync(dotenv)) return dotenv;
  throw new UsageError("a schedule reads DATABASE_URL from an env file: give --env-file FILE (or run this where ./.env is)", "the file holds DATABASE_URL=postgres://USER:PASSWORD@HOST:5432/DB, mode 0600");
}

function urlVar(a: Args, flag: string, variable: string, into: Record<string, string>, ctx: Context): void {
  const v = a[flag];
  if (v === undefined || v === "") return;
  const s = String(v);
  ctx.secrets.push(s);
  let u: URL | null = null;
  try {
    u = new URL(s);
  } catch {
    // reported below, without the value
  }
  if (!u || (u.protocol !== "http:" && u.protocol !== "https:")) throw new UsageError(`--${flag} is not an http:// or https:// URL`);
  into[variable] = s;
}

export function options(ctx: Context, a: Args): ScheduleOptions {
  if (!a.dir) throw new UsageError("--dir is required", `say where the backups go, e.g. ${brand.binary} schedule backup --dir /var/backups/app`);
  if (a.systemd && a.cron) throw new UsageError("--systemd and --cron cannot be combined");
  const at = parseAt(String(a.at ?? "03:15"));
  const retention = retentionPolicy(a);
  if (a.compress !== undefined) parseCompression(String(a.compress));
  encryptKeys(keyFlags(ctx, a), ctx.secrets); // checks the recipients and key files now, not at 03:15
  const abs = (p: string) => resolve(cwd(), p);
  const dir = String(a.dir);
  const envVars: Record<string, string> = {};
  urlVar(a, "ping", envName("PING_URL"), envVars, ctx);
  urlVar(a, "notify", envName("NOTIFY_URL"), envVars, ctx);
  return {
    name: String(a.name ?? "backup"),
    at,
    backend: a.systemd ? "systemd" : a.cron ? "cron" : "auto",
    print: Boolean(a.print),
    envFile: envFileOf(a),
    envVars,
    binary: selfBinary(),
    backup: {
      dir: /^s3:\/\//.test(dir) ? dir : abs(dir),
      retention,
      encryptTo: repeated("encrypt-to"),
      recipientsFiles: repeated("recipients-file").map(abs),
      passphraseFile: a["passphrase-file"] ? abs(String(a["passphrase-file"])) : undefined,
      compress: a.compress === undefined ? undefined : String(a.compress),
      pgBin: a["pg-bin"] ? abs(String(a["pg-bin"])) : undefined,
      dockerContainer: a["docker-container"] ? String(a["docker-container"]) : undefined,
    },
  };
}

export async function run(ctx: Context, a: Args): Promise<number> {
  const action = a.action as string | undefined;
  if (action === "backup") {
    const outcome = await scheduleBackup(ctx, options(ctx, a));
    ctx.result(outcome, () => installedText(outcome));
    return ExitCode.ok;
  }
  if (action === "list" || action === undefined) {
    const listing = await listSchedules(ctx);
    ctx.result(listing, () => listText(listing));
    return ExitCode.ok;
  }
  if (action === "remove") {
    const outcome = await removeSchedule(ctx, { name: String(a.schedule ?? "backup") });
    ctx.result(outcome, () => outcome.removed.map((r) => `Removed schedule ${outcome.name} (${r.backend}: ${r.where})`).join("\n"));
    return ExitCode.ok;
  }
  throw new UsageError(`unknown schedule action "${action}"`, `use '${brand.binary} schedule backup --dir DIR', 'schedule list' or 'schedule remove NAME'`);
}

export function installedText(o: ScheduleInstalled): string {
  const lines: string[] = [];
  if (!o.installed) {
    for (const f of o.files) lines.push(o.backend === "cron" ? "# crontab line (crontab -e):" : `# ${f.path}`, f.content.trimEnd(), "");
    if (o.activate.length) lines.push("# then:", ...o.activate, "");
    if (o.envVarsSet.length) lines.push(`# and in ${o.envFile} (mode 0600): ${o.envVarsSet.join(", ")}`);
    return lines.join("\n").trimEnd();
  }
  lines.push(`Scheduled backup "${o.name}" (${o.backend}): ${o.when}, retention: ${o.retention}`);
  for (const f of o.files) lines.push(`  wrote ${f.path}`);
  if (o.activate.length) lines.push(`  ${o.activated ? "enabled" : "to enable"}: ${o.activate.join(" && ")}`);
  lines.push(`  settings: ${o.envFile}${o.envVarsSet.length ? ` (set ${o.envVarsSet.join(", ")})` : ""}`);
  lines.push(`  runs: ${o.command.map(shellQuote).join(" ")}`);
  return lines.join("\n");
}

export function listText(l: ScheduleListing): string {
  if (!l.schedules.length) return `No schedules installed by ${brand.binary}.`;
  return l.schedules.map((s) => `${s.name}  ${s.backend}  ${s.when}  ${s.where}\n  ${s.command}`).join("\n");
}
