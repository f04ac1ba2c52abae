// "Automatic backups": where (a local folder, or S3-compatible storage), when,
// how long to keep, whether to encrypt (a new age key pair, its secret key
// written 0600 beside the env file). Before anything is saved it proves the
// setup works: one backup, then a test restore of it into a scratch database
// (the `backups verify` operation). Only then is the schedule installed (the
// `schedule backup` operation), secrets in the env file only.

import { dirname, join, resolve } from "node:path";
import { confirm, note, password, select, text } from "@clack/prompts";
import { describeTarget, parseDotenv } from "../core/config.ts";
import { PgshipError } from "../core/errors.ts";
import { readRegularFile } from "../core/files.ts";
import { keyPairFile } from "../backup/keys.ts";
import { withS3Environment } from "../backup/s3.ts";
import { describePolicy, type RetentionPolicy } from "../backup/retention.ts";
import { backup } from "../ops/backup.ts";
import { verifyBackup } from "../ops/backups.ts";
import { describeTime, parseAt, scheduleBackup, type ScheduleOptions, type ScheduleTime } from "../ops/schedule.ts";
import { cwd, env } from "../runtime.ts";
import { databaseUrl } from "./provision.ts";
import { opEmit, selfPath, type Session } from "./actions.ts";
import { answer, ProgressLine, say, type WizardIO } from "./ui.ts";

interface S3Answers {
  endpoint: string;
  /** From the endpoint's name (s3.REGION.amazonaws.com and the like); requests are signed for it. */
  region: string | null;
  location: string;
  accessKeyId: string;
  secretAccessKey: string;
}

const out = (io: WizardIO) => io.output ?? process.stdout;

/** The region an endpoint names: s3.eu-central-1.amazonaws.com, s3-eu-west-1.amazonaws.com, s3.us-west-004.backblazeb2.com. */
function regionOf(endpoint: string): string | null {
  const host = /^https?:\/\/([^/:]+)/i.exec(endpoint)?.[1]?.toLowerCase() ?? "";
  return /^(?:[^.]+\.)*s3[.-]([a-z]{2}(?:-[a-z]+)+-\d+)\.(?:amazonaws\.com(?:\.cn)?|backblazeb2\.com)$/.exec(host)?.[1] ?? null;
}

/** The env file's S3 lines for these answers. */
function s3Vars(s3: S3Answers): Record<string, string> {
  return { AWS_ENDPOINT_URL: s3.endpoint, AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, ...(s3.region ? { AWS_REGION: s3.region } : {}) };
}

const count = (v: string | undefined) => (/^\d{1,4}$/.test(v ?? "") ? undefined : "a whole number (0 for none)");

async function askS3(io: WizardIO): Promise<S3Answers> {
  const endpoint = await answer(
    text({
      ...io,
      message: "S3 endpoint URL",
      placeholder: "https://s3.eu-central-1.amazonaws.com",
      validate: (v) => (/^https?:\/\/[^\s/]+/.test(v ?? "") ? undefined : "an http:// or https:// URL"),
    }),
  );
  const bucket = await answer(
    text({ ...io, message: "Bucket and prefix", placeholder: "my-bucket/app-backups", validate: (v) => (/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/[^\s]*)?$/.test((v ?? "").replace(/^s3:\/\//, "")) ? undefined : "bucket/prefix, e.g. my-bucket/app-backups") }),
  );
  const accessKeyId = await answer(text({ ...io, message: "Access key ID", validate: (v) => (/^\S+$/.test(v ?? "") ? undefined : "the access key ID") }));
  const secretAccessKey = await answer(password({ ...io, message: "Secret access key", mask: "*", validate: (v) => (/^\S+$/.test(v ?? "") ? undefined : "the secret access key") }));
  return { endpoint, region: regionOf(endpoint), location: `s3://${bucket.replace(/^s3:\/\//, "").replace(/\/$/, "")}`, accessKeyId, secretAccessKey };
}

/**
 * Runs `fn` with the S3 settings the scheduled runs will have: the AWS_* lines of the env file with
 * the ones typed, none of this shell's own (cron and systemd do not have them; AWS_ENDPOINT_URL_S3 or
 * AWS_SESSION_TOKEN here would make the test backup go elsewhere than the nightly one). The process's
 * environment is not changed. An S3 error names what was typed, not the environment.
 */
async function asScheduled<T>(envFile: string, typed: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const vars = Object.fromEntries(Object.entries({ ...parseDotenv(readRegularFile(envFile, "the env file") ?? ""), ...typed }).filter(([k]) => k.startsWith("AWS_")));
  try {
    return await withS3Environment(vars, fn);
  } catch (e) {
    if (e instanceof PgshipError && e.code.startsWith("s3_")) {
      throw new PgshipError(e.code, e.message, { exitCode: e.exitCode, hint: "check the endpoint URL, bucket, access key ID and secret access key typed above", cause: e });
    }
    throw e;
  }
}

export async function scheduleAction(s: Session): Promise<void> {
  const io = s.io;
  const where = await answer(
    select({
      ...io,
      message: "Where should the backups go?",
      options: [
        { value: "local", label: "A folder on this machine" },
        { value: "s3", label: "S3-compatible storage", hint: "AWS S3, MinIO, Backblaze B2, Cloudflare R2, ..." },
      ],
    }),
  );
  let dir: string;
  let s3: S3Answers | null = null;
  if (where === "local") {
    dir = resolve(cwd(), (await answer(text({ ...io, message: "Backup folder", placeholder: "./backups", defaultValue: "./backups" }))) || "./backups");
  } else {
    s3 = await askS3(io);
    s.context().secrets.push(s3.secretAccessKey);
    dir = s3.location;
  }
  const time = await answer(
    text({
      ...io,
      message: "Back up every day at (HH:MM, 24-hour clock, this machine's time)",
      placeholder: "03:15",
      defaultValue: "03:15",
      validate: (v) => (/^([01]\d|2[0-3]):[0-5]\d$/.test(v || "03:15") ? undefined : "HH:MM on the 24-hour clock, e.g. 03:15"),
    }),
  );
  const at: ScheduleTime = parseAt(time || "03:15");
  const daily = Number(await answer(text({ ...io, message: "Keep one backup per day for how many days?", placeholder: "7", defaultValue: "7", validate: (v) => count(v || "7") })) || 7);
  const weekly = Number(await answer(text({ ...io, message: "And one per week for how many weeks?", placeholder: "4", defaultValue: "4", validate: (v) => count(v || "4") })) || 0);
  const retention: RetentionPolicy = { daily: daily || undefined, weekly: weekly || undefined };
  const encrypt = await answer(confirm({ ...io, message: "Encrypt the backups? (a key pair is created; only its secret key can read them)", initialValue: true }));

  // Warnings (an env file others can read) are drawn inside the frame.
  const ctx = s.context({ emit: (e) => e.type === "warn" && say.warn(io, e.message) });
  const target = ctx.target();
  const envFile = s.envFile ?? join(cwd(), ".env");
  const keyFile = join(dirname(envFile), `${s.binary}-backup-key.txt`);
  const envVars: Record<string, string> = {};
  // Settings typed (or only in the environment) go into the env file, which the schedule reads.
  if (!s.envFile) envVars.DATABASE_URL = target.source === "env" && env().DATABASE_URL ? env().DATABASE_URL! : databaseUrl(target);
  if (s3) Object.assign(envVars, s3Vars(s3));
  const opts: ScheduleOptions = {
    name: "backup",
    at,
    backend: "auto",
    print: true,
    envFile,
    envVars,
    binary: selfPath(s),
    backup: { dir, retention, encryptTo: [], recipientsFiles: [] },
  };
  // Checked before anything is written: systemd or cron is there, the env file can hold the settings.
  const preview = await scheduleBackup(ctx, opts);
  note(
    [
      `Where:     ${s3 ? `${s3.location} at ${s3.endpoint} (${s3.region ? `region ${s3.region}, ` : ""}key ID ${s3.accessKeyId}; the secret access key goes to ${envFile} only)` : dir}`,
      `When:      ${describeTime(at)}`,
      `Keep:      ${describePolicy(retention)}`,
      `Encrypted: ${encrypt ? "yes, to a key pair made for these backups" : "no"}`,
      `Runs by:   ${preview.backend === "systemd" ? "a systemd timer" : "a crontab line"}, with the settings in ${envFile}${Object.keys(envVars).length ? ` (${Object.keys(envVars).join(", ")} written there, mode 0600)` : ""}`,
      "",
      "First one backup is taken now and test-restored into a scratch database;",
      "the schedule is saved only if that works.",
    ].join("\n"),
    "Plan: automatic backups",
    io,
  );
  if (!(await answer(confirm({ ...io, message: "Back up and test-restore now, then save the schedule?", initialValue: true })))) {
    say.info(io, "Not saved: nothing was changed.");
    return;
  }
  let keys: { identity: string; recipient: string } | null = null;
  if (encrypt) {
    const pair = await keyPairFile(keyFile);
    keys = pair;
    ctx.secrets.push(pair.identity);
    if (pair.created) {
      s.changes.push(`created the backup key ${keyFile}`);
      say.warn(io, `The secret key is in ${keyFile} (mode 0600). Without it the backups cannot be read: copy it somewhere safe, off this machine, now.`);
    } else {
      say.info(io, `Using the existing backup key in ${keyFile}.`);
    }
    opts.backup.encryptTo = [pair.recipient];
  }
  // The backup taken now and its test restore see S3 as the scheduled runs will.
  await asScheduled(envFile, s3 ? s3Vars(s3) : {}, async () => {
    const line = new ProgressLine(out(io));
    line.start(`Backing up ${describeTarget(target)} to ${dir}`);
    let file: string;
    try {
      const written = await backup(s.context({ emit: opEmit(s, line, "Backing up") }), {
        dir,
        compression: { method: "auto" },
        keys: keys ? { recipients: [keys.recipient] } : null,
        retention,
        dryRun: false,
        tools: {},
      });
      file = written.file;
    } catch (e) {
      line.done("Backup failed: the schedule was not saved", false);
      throw e;
    }
    line.done(`Backup written: ${file}`);
    s.changes.push(`backup ${file}`);
    line.start("Test-restoring it into a scratch database");
    try {
      const v = await verifyBackup(s.context({ emit: opEmit(s, line, "Test restore") }), {
        file,
        keys: { identities: keys ? [keys.identity] : [], passphrases: [] },
        restore: true,
        requireManifest: true,
        tools: {},
      });
      line.done(`Test restore passed: ${v.detail}`);
    } catch (e) {
      line.done("Test restore failed: the schedule was not saved", false);
      throw e;
    }
  });
  const saved = await scheduleBackup(ctx, { ...opts, print: false });
  if (saved.envVarsSet.length) s.changes.push(`set ${saved.envVarsSet.join(", ")} in ${envFile}`);
  s.changes.push(`scheduled backups (${at.every === "hour" ? "hourly" : `daily, ${time || "03:15"}`})`);
  say.success(io, `Automatic backups saved (${saved.backend === "systemd" ? "systemd timer" : "crontab line"}): ${saved.when}, keeping ${saved.retention}.`);
  note(
    [
      ...saved.files.map((f) => `wrote ${f.path}`),
      saved.envVarsSet.length ? `set ${saved.envVarsSet.join(", ")} in ${envFile} (mode 0600)` : "",
      saved.activate.length && !saved.activated ? `enable it: ${saved.activate.join(" && ")}` : "",
      `each run: ${saved.command.join(" ")}`,
      `see it: ${s.binary} schedule list; stop it: ${s.binary} schedule remove backup`,
    ]
      .filter(Boolean)
      .join("\n"),
    "Next",
    io,
  );
}

