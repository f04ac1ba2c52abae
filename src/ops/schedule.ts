// schedule: a backup that runs by itself. A systemd timer + service where
// systemd runs (system units in /etc/systemd/system as root, user units in
// ~/.config/systemd/user otherwise), else a crontab line. Each names the binary,
// the env file and the backup directory by absolute path; secrets stay in the
// env file (0600), never in a unit or the crontab. Runs never overlap: the
// command runs under `flock -n` on a lock file beside the env file (and
// systemd never starts a timer's service while it still runs).
//
// Everything pgship writes carries a marker comment, so `schedule list` and
// `schedule remove` see only what this binary installed. PGSHIP_SCHEDULE_ROOT=DIR
// writes the units and a crontab file into DIR instead (tests, packaging):
// nothing is enabled, no crontab is touched.

import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, dirname, isAbsolute, join } from "node:path";
import { brand } from "../brand.ts";
import { parseDotenv } from "../core/config.ts";
import { PgshipError, UsageError } from "../core/errors.ts";
import { readRegularFile } from "../core/files.ts";
import { describePolicy, type RetentionPolicy } from "../backup/retention.ts";
import { runProc } from "../tools/proc.ts";
import { env } from "../runtime.ts";
import { saveDotenv, upsertDotenv } from "../core/env-file.ts";
import type { OpContext } from "./context.ts";

export type ScheduleBackend = "systemd" | "cron";

/** When it runs, in the machine's local time. */
export type ScheduleTime = { every: "day"; hour: number; minute: number } | { every: "hour"; minute: number };

/** What the scheduled `backup` does (typed; the op writes the command line). */
export interface ScheduledBackup {
  /** A directory (absolute), or an s3://bucket/prefix location. */
  dir: string;
  retention: RetentionPolicy;
  /** age recipients (public keys). */
  encryptTo: string[];
  /** Files of recipients / the passphrase, absolute. */
  recipientsFiles: string[];
  passphraseFile?: string;
  compress?: string;
  pgBin?: string;
  dockerContainer?: string;
}

export interface ScheduleOptions {
  /** The schedule's name: units <binary>-<name>.service/.timer, marker in the crontab. */
  name: string;
  at: ScheduleTime;
  backend: ScheduleBackend | "auto";
  /** Show what would be installed; write nothing. */
  print: boolean;
  /** The env file (absolute): DATABASE_URL and the other secrets. */
  envFile: string;
  /** Variables to set in the env file first (PGSHIP_PING_URL, AWS_*, ...): the file is rewritten 0600. */
  envVars: Record<string, string>;
  /** The binary the schedule runs, absolute. */
  binary: string;
  backup: ScheduledBackup;
}

export interface ScheduleFile {
  path: string;
  content: string;
}

/** `schedule backup --json`. */
export interface ScheduleInstalled {
  ok: true;
  name: string;
  backend: ScheduleBackend;
  /** Installed, or only printed (--print). */
  installed: boolean;
  /** Systemd units written, or the crontab (a file under PGSHIP_SCHEDULE_ROOT, else "crontab") with only our line as content. */
  files: ScheduleFile[];
  /** The crontab line (cron only). */
  cronLine: string | null;
  /** The commands that enable the timer (systemd). */
  activate: string[];
  /** They were run (not with --print, nor under PGSHIP_SCHEDULE_ROOT). */
  activated: boolean;
  /** What the scheduled run executes. */
  command: string[];
  envFile: string;
  /** Names of the variables written to the env file (never their values). */
  envVarsSet: string[];
  lockFile: string;
  when: string;
  retention: string;
}

export interface ListedSchedule {
  name: string;
  backend: ScheduleBackend;
  /** The unit file or the crontab. */
  where: string;
  when: string;
  command: string;
}

/** `schedule list --json`. */
export interface ScheduleListing {
  ok: true;
  schedules: ListedSchedule[];
}

/** `schedule remove --json`. */
export interface ScheduleRemoved {
  ok: true;
  name: string;
  removed: { backend: ScheduleBackend; where: string }[];
}

const MARK = `${brand.binary}-schedule`;
const NAME_RE = /^[a-z0-9][a-z0-9-]{0,39}$/;

export function checkName(name: string): string {
  if (!NAME_RE.test(name)) throw new UsageError(`schedule name "${name}" must be lower-case letters, digits and dashes (at most 40)`);
  return name;
}

/** --at: HH:MM (24 h, daily), `daily` (00:00) or `hourly` (minute 0). Strict: 3:15, 24:00 and 03:15:00 are refused. */
export function parseAt(value: string): ScheduleTime {
  if (value === "hourly") return { every: "hour", minute: 0 };
  if (value === "daily") return { every: "day", hour: 0, minute: 0 };
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(value);
  if (!m) throw new UsageError(`--at "${value}" is not a time`, "use HH:MM on the 24-hour clock (e.g. 03:15), daily or hourly");
  return { every: "day", hour: Number(m[1]), minute: Number(m[2]) };
}

const pad = (n: number) => String(n).padStart(2, "0");
export const describeTime = (t: ScheduleTime) => (t.every === "hour" ? `hourly at :${pad(t.minute)}` : `daily at ${pad(t.hour)}:${pad(t.minute)}`);
const onCalendar = (t: ScheduleTime) => (t.every === "hour" ? `*-*-* *:${pad(t.minute)}:00` : `*-*-* ${pad(t.hour)}:${pad(t.minute)}:00`);
const cronTime = (t: ScheduleTime) => (t.every === "hour" ? `${t.minute} * * * *` : `${t.minute} ${t.hour} * * *`);

/** The arguments after the binary: `backup --env-file F --dir D ...`. */
export function backupArgv(envFile: string, b: ScheduledBackup): string[] {
  const a = ["backup", "--env-file", envFile, "--dir", b.dir];
  const r = b.retention;
  if (r.last) a.push("--keep-last", String(r.last));
  if (r.daily) a.push("--keep-daily", String(r.daily));
  if (r.weekly) a.push("--keep-weekly", String(r.weekly));
  if (r.monthly) a.push("--keep-monthly", String(r.monthly));
  for (const x of b.encryptTo) a.push("--encrypt-to", x);
  for (const f of b.recipientsFiles) a.push("--recipients-file", f);
  if (b.passphraseFile) a.push("--passphrase-file", b.passphraseFile);
  if (b.compress) a.push("--compress", b.compress);
  if (b.pgBin) a.push("--pg-bin", b.pgBin);
  if (b.dockerContainer) a.push("--docker-container", b.dockerContainer);
  return a;
}

export const shellQuote = (s: string) => (/^[A-Za-z0-9_./:@=+,%-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`);

/** One ExecStart= word: systemd expands % specifiers and $VARIABLES, and splits at spaces. */
const systemdWord = (s: string) => {
  const e = s.replace(/%/g, "%%").replace(/\$/g, "$$$$");
  return /[\s"'\\;]/.test(e) ? `"${e.replace(/(["\\])/g, "\\$1")}"` : e;
};

/** A path in a unit's setting (EnvironmentFile=): only % needs escaping. */
const systemdPath = (s: string) => s.replace(/%/g, "%%");

export const unitName = (name: string) => `${brand.binary}-${name}`;
export const lockFileFor = (envFile: string, name: string) => join(dirname(envFile), `.${brand.binary}-${name}.lock`);
const marker = (name: string) => `# ${MARK}:${name}`;

export function renderUnits(o: { name: string; at: ScheduleTime; envFile: string; flock: string; binary: string; argv: string[]; retention: RetentionPolicy; user: boolean }): { service: string; timer: string } {
  const lock = lockFileFor(o.envFile, o.name);
  const exec = [o.flock, "-n", lock, o.binary, ...o.argv].map(systemdWord).join(" ");
  const head = `${marker(o.name)}\n# Written by '${brand.binary} schedule backup'; remove with '${brand.binary} schedule remove ${o.name}'.\n`;
  const service = `${head}[Unit]
Description=${brand.display} backup (${o.name}): ${describeTime(o.at)}, retention: ${describePolicy(o.retention)}
${o.user ? "" : "Wants=network-online.target\nAfter=network-online.target\n"}
[Service]
Type=oneshot
# DATABASE_URL and the other secrets are only in this file (mode 0600).
EnvironmentFile=${systemdPath(o.envFile)}
# flock -n: a run that finds the previous one still going exits at once.
ExecStart=${exec}
`;
  const timer = `${head}[Unit]
Description=${brand.display} backup (${o.name}): ${describeTime(o.at)}

[Timer]
OnCalendar=${onCalendar(o.at)}
Persistent=true
Unit=${unitName(o.name)}.service

[Install]
WantedBy=timers.target
`;
  return { service, timer };
}

/**
 * The crontab line: sh reads the env file (set -a exports each variable, as
 * systemd's EnvironmentFile= does) and runs the backup under flock -n.
 */
export function renderCronLine(o: { name: string; at: ScheduleTime; envFile: string; flock: string; binary: string; argv: string[] }): string {
  const lock = lockFileFor(o.envFile, o.name);
  const inner = `set -a && . ${shellQuote(o.envFile)} && set +a && exec ${[o.binary, ...o.argv].map(shellQuote).join(" ")}`;
  // % is a newline in a crontab command: escaped.
  return `${cronTime(o.at)} ${[o.flock, "-n", lock, "sh", "-c", inner].map(shellQuote).join(" ").replace(/%/g, "\\%")} ${marker(o.name)}`;
}

/**
 * Cron reads the env file with sh: every assignment must mean to sh what it means
 * to pgship and systemd (plain values, or single or double quotes without $ ` \).
 */
export function checkShellSafeEnvFile(text: string, path: string): void {
  const lines = text.replace(/\r\n/g, "\n").split("\n");
  lines.forEach((raw, i) => {
    const l = raw.trim();
    if (!l || l.startsWith("#")) return;
    if (/^(export\s+)?[A-Za-z_][A-Za-z0-9_]*=([A-Za-z0-9_@%:/.?=+,-]*|'[^']*'|"[^"$`\\]*")$/.test(l)) return;
    const key = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=/.exec(l)?.[1];
    throw new UsageError(
      `${path} line ${i + 1}${key ? ` (${key})` : ""}: cron reads this file with sh, which would read this line differently`,
      key ? `put the value in single quotes: ${key}='...'` : "make it a KEY=value line, or a # comment",
    );
  });
}

/** Where units and the crontab go: the real system, or PGSHIP_SCHEDULE_ROOT. */
interface Place {
  root: string | null;
  unitDir: string;
  user: boolean;
}

function place(): Place {
  const root = env().PGSHIP_SCHEDULE_ROOT || null;
  if (root) {
    if (!isAbsolute(root)) throw new UsageError(`PGSHIP_SCHEDULE_ROOT "${root}" must be an absolute path`);
    return { root, unitDir: root, user: process.getuid?.() !== 0 };
  }
  const user = process.getuid?.() !== 0;
  const unitDir = user ? join(env().XDG_CONFIG_HOME || join(homedir(), ".config"), "systemd", "user") : "/etc/systemd/system";
  return { root: null, unitDir, user };
}

/** A program on PATH, by absolute path; null when there is none. */
export function onPath(name: string): string | null {
  for (const dir of (env().PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, name);
    try {
      if (statSync(p).isFile() && (statSync(p).mode & 0o111) !== 0) return p;
    } catch {
      // not here
    }
  }
  return null;
}

const systemdRuns = () => existsSync("/run/systemd/system");

function chooseBackend(want: ScheduleBackend | "auto", p: Place): ScheduleBackend {
  if (want !== "auto") return want;
  if (systemdRuns()) return "systemd";
  // Under PGSHIP_SCHEDULE_ROOT the crontab is a file there: no crontab program needed.
  if (p.root || onPath("crontab")) return "cron";
  throw new PgshipError("schedule_unavailable", "neither systemd nor cron runs here: there is nothing to install a schedule into", {
    hint: `install cron (e.g. apt-get install cron), or run '${brand.binary} schedule backup ... --print' and put the line into whatever runs your jobs`,
  });
}

function requireFlock(): string {
  const flock = onPath("flock");
  if (!flock) throw new PgshipError("tool_missing", "flock was not found on PATH (it keeps two scheduled runs from overlapping)", { hint: "install util-linux (apt-get install util-linux)" });
  return flock;
}

async function run(ctx: OpContext, command: string, args: string[], input?: string): Promise<string> {
  const r = await runProc({ command, args }, { input, signal: ctx.interrupt.signal, timeoutMs: 60_000 });
  if (r.code !== 0) throw new PgshipError("tool_failed", `${command} ${args.join(" ")} failed: ${(r.stderr || r.stdout).trim().split("\n")[0] || `exit ${r.code}`}`);
  return r.stdout;
}

/** The crontab: PGSHIP_SCHEDULE_ROOT/crontab, else `crontab -l` (none yet: empty). */
async function readCrontab(ctx: OpContext, p: Place): Promise<string> {
  if (p.root) return readRegularFile(join(p.root, "crontab"), "the crontab") ?? "";
  const crontab = onPath("crontab");
  if (!crontab) return "";
  const r = await runProc({ command: crontab, args: ["-l"] }, { signal: ctx.interrupt.signal, timeoutMs: 60_000 });
  if (r.code === 0) return r.stdout;
  if (/no crontab/i.test(r.stderr)) return "";
  throw new PgshipError("tool_failed", `crontab -l failed: ${r.stderr.trim().split("\n")[0] || `exit ${r.code}`}`);
}

async function writeCrontab(ctx: OpContext, p: Place, text: string): Promise<void> {
  if (p.root) {
    mkdirSync(p.root, { recursive: true });
    writeFileSync(join(p.root, "crontab"), text, { mode: 0o600 });
    return;
  }
  await run(ctx, onPath("crontab") ?? "crontab", ["-"], text);
}

const withoutOurs = (text: string, name: string) =>
  text
    .split("\n")
    .filter((l) => !l.endsWith(` ${marker(name)}`))
    .join("\n");

const NOT_SECRET = /^AWS_(ENDPOINT_URL(_S3)?|ACCESS_KEY_ID|REGION|DEFAULT_REGION)$/;

const systemctl = (p: Place, ...args: string[]) => ["systemctl", ...(p.user ? ["--user"] : []), ...args];

export async function scheduleBackup(ctx: OpContext, o: ScheduleOptions): Promise<ScheduleInstalled> {
  checkName(o.name);
  for (const path of [o.envFile, o.binary]) if (!isAbsolute(path)) throw new UsageError(`${path} must be an absolute path (a schedule does not run in this directory)`);
  const p = place();
  const backend = chooseBackend(o.backend, p);
  const flock = requireFlock();
  // The env file as it will be: the current one with the new variables.
  const text = readRegularFile(o.envFile, "--env-file");
  if (text === null && !Object.keys(o.envVars).length) throw new UsageError(`${o.envFile}: no such file (given with --env-file)`);
  for (const [k, v] of Object.entries(o.envVars)) {
    // Where the S3 server is and which key ID is used are no secrets: masking them would hide the endpoint in errors.
    if (!NOT_SECRET.test(k)) ctx.secrets.push(v);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) || /[\n\r'"$`\\]/.test(v)) throw new UsageError(`the value for ${k} cannot be written to an env file (quotes, $, \`, \\ or a newline)`);
  }
  const after = Object.entries(o.envVars).reduce((t, [k, v]) => upsertDotenv(t, k, v), text ?? "");
  if (!parseDotenv(after).DATABASE_URL) throw new UsageError(`${o.envFile}: no DATABASE_URL in this env file`, "add a line DATABASE_URL=postgres://USER:PASSWORD@HOST:5432/DB");
  if (backend === "cron") checkShellSafeEnvFile(after, o.envFile);
  const argv = backupArgv(o.envFile, o.backup);
  const lockFile = lockFileFor(o.envFile, o.name);
  const unit = unitName(o.name);
  let files: ScheduleFile[];
  let cronLine: string | null = null;
  let activate: string[];
  let crontabText = "";
  if (backend === "systemd") {
    const u = renderUnits({ name: o.name, at: o.at, envFile: o.envFile, flock, binary: o.binary, argv, retention: o.backup.retention, user: p.user });
    files = [
      { path: join(p.unitDir, `${unit}.service`), content: u.service },
      { path: join(p.unitDir, `${unit}.timer`), content: u.timer },
    ];
    // restart, not start: a timer installed again with another time takes it now.
    activate = [systemctl(p, "daemon-reload"), systemctl(p, "enable", `${unit}.timer`), systemctl(p, "restart", `${unit}.timer`)].map((c) => c.join(" "));
  } else {
    cronLine = renderCronLine({ name: o.name, at: o.at, envFile: o.envFile, flock, binary: o.binary, argv });
    if (!o.print) {
      const before = withoutOurs(await readCrontab(ctx, p), o.name).replace(/\n*$/, "");
      crontabText = `${before ? `${before}\n` : ""}${cronLine}\n`;
    }
    // Only our line: the rest of the crontab is the user's (and may hold anything).
    files = [{ path: p.root ? join(p.root, "crontab") : "crontab", content: `${cronLine}\n` }];
    activate = [];
  }
  if (!o.print) {
    // The env file first: a schedule never runs without its settings.
    for (const [k, v] of Object.entries(o.envVars)) saveDotenv(o.envFile, k, v);
    if ((statSync(o.envFile).mode & 0o077) !== 0) ctx.emit({ type: "warn", message: `${o.envFile} can be read by other users: chmod 600 ${o.envFile}` });
    if (backend === "systemd") {
      mkdirSync(p.unitDir, { recursive: true });
      for (const f of files) writeFileSync(f.path, f.content, { mode: 0o644 });
      if (!p.root) for (const c of activate) await run(ctx, c.split(" ")[0]!, c.split(" ").slice(1));
    } else {
      await writeCrontab(ctx, p, crontabText);
    }
  }
  return {
    ok: true,
    name: o.name,
    backend,
    installed: !o.print,
    files,
    cronLine,
    activate,
    activated: backend === "systemd" && !o.print && !p.root,
    command: [flock, "-n", lockFile, o.binary, ...argv],
    envFile: o.envFile,
    envVarsSet: Object.keys(o.envVars),
    lockFile,
    when: describeTime(o.at),
    retention: describePolicy(o.backup.retention),
  };
}

function unitSchedules(p: Place): ListedSchedule[] {
  if (!existsSync(p.unitDir)) return [];
  const out: ListedSchedule[] = [];
  for (const f of readdirSync(p.unitDir).filter((f) => f.startsWith(`${brand.binary}-`) && f.endsWith(".service")).sort()) {
    const path = join(p.unitDir, f);
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch {
      continue;
    }
    const m = new RegExp(`^# ${MARK}:([a-z0-9-]+)$`, "m").exec(text);
    if (!m) continue;
    const timer = existsSync(path.replace(/\.service$/, ".timer")) ? readFileSync(path.replace(/\.service$/, ".timer"), "utf8") : "";
    const cal = /^OnCalendar=(.*)$/m.exec(timer)?.[1] ?? "?";
    out.push({ name: m[1]!, backend: "systemd", where: path, when: cal, command: /^ExecStart=(.*)$/m.exec(text)?.[1] ?? "" });
  }
  return out;
}

function cronSchedules(text: string, where: string): ListedSchedule[] {
  const out: ListedSchedule[] = [];
  for (const l of text.split("\n")) {
    const m = new RegExp(` # ${MARK}:([a-z0-9-]+)$`).exec(l);
    if (!m) continue;
    const fields = l.slice(0, m.index).split(" ");
    out.push({ name: m[1]!, backend: "cron", where, when: fields.slice(0, 5).join(" "), command: fields.slice(5).join(" ") });
  }
  return out;
}

export async function listSchedules(ctx: OpContext): Promise<ScheduleListing> {
  const p = place();
  const cron = p.root || onPath("crontab") ? cronSchedules(await readCrontab(ctx, p), p.root ? join(p.root, "crontab") : "crontab") : [];
  return { ok: true, schedules: [...unitSchedules(p), ...cron] };
}

export async function removeSchedule(ctx: OpContext, o: { name: string }): Promise<ScheduleRemoved> {
  checkName(o.name);
  const p = place();
  const removed: ScheduleRemoved["removed"] = [];
  const unit = unitName(o.name);
  const ours = unitSchedules(p).filter((s) => s.name === o.name);
  if (ours.length) {
    if (!p.root) await run(ctx, "systemctl", systemctl(p, "disable", "--now", `${unit}.timer`).slice(1)).catch((e) => ctx.emit({ type: "warn", message: (e as Error).message }));
    for (const ext of ["timer", "service"]) rmSync(join(p.unitDir, `${unit}.${ext}`), { force: true });
    if (!p.root) await run(ctx, "systemctl", systemctl(p, "daemon-reload").slice(1)).catch(() => undefined);
    removed.push({ backend: "systemd", where: ours[0]!.where });
  }
  if (p.root || onPath("crontab")) {
    const text = await readCrontab(ctx, p);
    if (cronSchedules(text, "").some((s) => s.name === o.name)) {
      await writeCrontab(ctx, p, withoutOurs(text, o.name));
      removed.push({ backend: "cron", where: p.root ? join(p.root, "crontab") : "crontab" });
    }
  }
  if (!removed.length) throw new PgshipError("schedule_missing", `no schedule named "${o.name}" was installed by ${brand.binary}`, { hint: `'${brand.binary} schedule list' shows the ones there are` });
  return { ok: true, name: o.name, removed };
}
