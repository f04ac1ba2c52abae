// The wizard's "Automatic backups" in a real terminal (tmux), with
// PGSHIP_SCHEDULE_ROOT so nothing touches the system's units or crontab. What
// the screens promise is checked on disk: the backup file exists and was
// test-restored, the secret key is 0600 and named once, the saved crontab line
// holds the time and retention asked for, and that line, run as cron runs it,
// writes a backup the key decrypts. S3 the same way against a real S3 server
// (s3rver on loopback, its stored objects read from its own files): the secret
// typed masked lands in the env file only; refused credentials, a missing bucket
// or an unreachable endpoint save nothing.

import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cleanEnv, createDb, ensureBinary, pgship } from "../harness/env.ts";
import { runLikeCron } from "../harness/cron.ts";
import { missing } from "../harness/tools.ts";
import { Terminal, useTerminals } from "../harness/tmux.ts";
import { S3_KEY_ID, startS3, type S3Server } from "../harness/s3.ts";

const { terminals, dbs } = useTerminals();

// s3rver checks the access key ID, not the signature: any secret is accepted, so a distinctive one shows where it leaks.
const SECRET = "wizard-Secret-Qx7vP2mLk9Zt";
let s3: S3Server | null = null;
const server = async () => (s3 ??= await startS3(["backups"]));
afterAll(async () => s3?.stop());

const stored = (bucket: string, prefix: string) => s3!.stored(bucket, prefix);

/** Every regular file under a directory (recursively), with its text. */
function filesUnder(dir: string): [string, string][] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile())
    .map((f) => [f, readFileSync(f, "latin1")]);
}

/** Takes the default time and retention, no encryption, confirms, and waits for the backup to fail. */
async function defaultsUntilFailure(term: Terminal) {
  await term.waitFor("Back up every day at");
  term.send("Enter");
  await term.waitFor("Keep one backup per day for how many days?");
  term.send("Enter");
  await term.waitFor("And one per week for how many weeks?");
  term.send("Enter");
  await term.waitFor("Encrypt the backups?");
  term.send("Right", "Enter"); // No
  await term.waitFor("Back up and test-restore now, then save the schedule?");
  term.send("Enter");
  await term.waitFor("Backup failed: the schedule was not saved", 60_000);
}

/** Picks S3 and types the four fields. */
async function typeS3(term: Terminal, o: { endpoint: string; bucket: string; keyId: string; secret: string }) {
  term.send("Down", "Enter"); // S3-compatible storage
  await term.waitFor("S3 endpoint URL");
  term.type(o.endpoint);
  term.send("Enter");
  await term.waitFor("Bucket and prefix");
  term.type(o.bucket);
  term.send("Enter");
  await term.waitFor("Access key ID");
  term.type(o.keyId);
  term.send("Enter");
  await term.waitFor("Secret access key");
  term.type(o.secret);
  await term.waitFor("*".repeat(o.secret.length)); // masked as it is typed
  term.send("Enter");
}

async function setup(envMode = 0o600, extraEnv: Record<string, string> = {}) {
  const d = await createDb("wizsched");
  dbs.push(d);
  expect((await pgship(["install"], { env: { DATABASE_URL: d.url } })).code).toBe(0);
  const dir = mkdtempSync(join(tmpdir(), "pgship-wizard-sched-"));
  const envText = `DATABASE_URL=${d.url}\n`;
  writeFileSync(join(dir, ".env"), envText, { mode: envMode });
  const root = join(dir, "root");
  const base = cleanEnv();
  const term = new Terminal([ensureBinary()], {
    cwd: dir,
    width: 250,
    env: { PATH: base.PATH!, HOME: dir, LANG: "C.UTF-8", TERM: "xterm-256color", NO_COLOR: "1", PGSHIP_SCHEDULE_ROOT: root, ...extraEnv },
  });
  terminals.push(term);
  await term.waitFor("What would you like to do?");
  await term.waitFor("Automatic backups");
  // Up to date: Health check, Back up now, Restore, Automatic backups, Quit. Up from the first wraps to Quit.
  term.send("Up", "Up", "Enter");
  await term.waitFor("Where should the backups go?");
  return { d, dir, root, term, envText, password: new URL(d.url.replace(/^postgres/, "http")).password };
}

describe.skipIf(missing("tmux"))("wizard: automatic backups", () => {
  test("local folder, encrypted: one backup, test-restored, then the schedule with the promised time and retention", async () => {
    // A .env others can read: the warning about it is drawn inside the frame.
    const { d, dir, root, term, password } = await setup(0o644);
    term.send("Enter"); // a folder on this machine
    await term.waitFor("Backup folder");
    term.send("Enter"); // ./backups
    await term.waitFor("Back up every day at");
    term.type("25:00");
    term.send("Enter");
    await term.waitFor("HH:MM on the 24-hour clock, e.g. 03:15");
    term.send("BSpace", "BSpace", "BSpace", "BSpace", "BSpace");
    term.type("02:30");
    term.send("Enter");
    await term.waitFor("Keep one backup per day for how many days?");
    term.send("Enter"); // 7
    await term.waitFor("And one per week for how many weeks?");
    term.type("5");
    term.send("Enter");
    await term.waitFor("Encrypt the backups?");
    term.send("Enter"); // yes
    await term.waitFor("Plan: automatic backups");
    await term.waitFor("Back up and test-restore now, then save the schedule?");
    term.send("Enter");
    await term.waitFor("Automatic backups saved", 90_000);
    await term.waitFor("What would you like to do?");
    term.send("Up", "Enter"); // Quit
    expect(await term.exitCode()).toBe(0);
    expect(term.strays()).toEqual([]);
    const screen = term.screen();
    expect(screen).not.toContain(password);
    expect(screen).toContain("Test restore passed: test-restored into a scratch database");
    expect(screen).toContain(`${join(dir, ".env")} can be read by other users: chmod 600`);

    // The backup exists, encrypted, and its manifest records the test restore.
    const backups = join(dir, "backups");
    const files = readdirSync(backups).filter((f) => f.endsWith(".dump.age"));
    expect(files).toHaveLength(1);
    const manifest = JSON.parse(readFileSync(join(backups, files[0]!.replace(/\.dump\.age$/, ".manifest.json")), "utf8"));
    expect(manifest.verified.map((v: { how: string }) => v.how)).toEqual(["readback", "test-restore"]);

    // The secret key: 0600 beside the env file, named on the screen once.
    const keyFile = join(dir, "pgship-backup-key.txt");
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const key = readFileSync(keyFile, "utf8");
    const recipient = /# public key: (age1\S+)/.exec(key)![1]!;
    expect(screen.split(`The secret key is in ${keyFile}`).length - 1).toBe(1);
    expect(screen).toContain("Without it the backups cannot be read");
    expect(screen).not.toContain("AGE-SECRET-KEY-");

    // The schedule: the promised time and retention; no secret in it.
    const crontab = readFileSync(join(root, "crontab"), "utf8");
    const line = crontab.trimEnd().split("\n").at(-1)!;
    expect(line).toStartWith("30 2 * * * ");
    expect(line).toContain("--keep-daily 7 --keep-weekly 5");
    expect(line).toContain(`--encrypt-to ${recipient}`);
    expect(line).toContain(`--dir ${backups}`);
    expect(crontab).not.toContain(password);
    expect(crontab).not.toContain("AGE-SECRET-KEY-");
    expect(screen).toContain("keeping 7 daily, 5 weekly");

    // The line works under cron: sh, an almost empty environment, another directory.
    const run = spawnSync("/bin/sh", ["-c", line.split(" ").slice(5).join(" ").replace(/ # pgship-schedule:backup$/, "").replace(/\\%/g, "%")], {
      cwd: tmpdir(),
      encoding: "utf8",
      env: { HOME: dir, PATH: "/usr/bin:/bin" },
      timeout: 120_000,
    });
    expect({ status: run.status, stderr: run.stderr }).toMatchObject({ status: 0 });
    // Retention ran too: one per day and per week keeps only the newer of two taken today.
    const after = readdirSync(backups).filter((f) => f.endsWith(".dump.age"));
    expect(after).toHaveLength(1);
    expect(after[0]).not.toBe(files[0]);
    const v = await pgship(["backups", "verify", join(backups, after[0]!), "--identity", keyFile], { env: { DATABASE_URL: d.url } });
    expect({ code: v.code, stderr: v.stderr }).toMatchObject({ code: 0 });
  }, 180_000);

  test("S3: the four fields, then a plan naming the location; answering No changes nothing and shows no secret", async () => {
    const { dir, root, term, envText } = await setup();
    term.send("Down", "Enter"); // S3-compatible storage
    await term.waitFor("S3 endpoint URL");
    term.type("s3.example.com");
    term.send("Enter");
    await term.waitFor("an http:// or https:// URL");
    term.send("C-u");
    for (let i = 0; i < 14; i++) term.send("BSpace");
    term.type("https://s3.eu-central-1.amazonaws.com"); // the region is in the name: signed for it, saved for the runs
    term.send("Enter");
    await term.waitFor("Bucket and prefix");
    term.type("my-bucket/app-backups");
    term.send("Enter");
    await term.waitFor("Access key ID");
    term.type("AKIAEXAMPLEKEYID");
    term.send("Enter");
    await term.waitFor("Secret access key");
    term.type("wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY");
    term.send("Enter");
    await term.waitFor("Back up every day at");
    term.send("Enter");
    await term.waitFor("Keep one backup per day for how many days?");
    term.type("0"); // no daily rule
    term.send("Enter");
    await term.waitFor("And one per week for how many weeks?");
    term.send("Enter"); // 4
    await term.waitFor("Encrypt the backups?");
    term.send("Right", "Enter"); // No
    await term.waitFor("Plan: automatic backups");
    await term.waitFor("Back up and test-restore now, then save the schedule?");
    const plan = term.screen();
    expect(plan).toContain("s3://my-bucket/app-backups at https://s3.eu-central-1.amazonaws.com (region eu-central-1, key ID AKIAEXAMPLEKEYID;");
    expect(plan).toContain("daily at 03:15");
    expect(plan).toMatch(/Keep: +4 weekly +│/); // 0 days: no daily rule
    expect(plan).toContain("AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION written there");
    term.send("Right", "Enter"); // No
    await term.waitFor("Not saved: nothing was changed.");
    await term.waitFor("What would you like to do?");
    term.send("Up", "Enter");
    expect(await term.exitCode()).toBe(0);
    expect(term.strays()).toEqual([]);
    expect(term.screen()).not.toContain("wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY");
    expect(term.screen()).toContain("Nothing was changed. Bye.");
    expect(existsSync(root)).toBe(false);
    expect(readFileSync(join(dir, ".env"), "utf8")).toBe(envText);
    expect(existsSync(join(dir, "pgship-backup-key.txt"))).toBe(false);
  }, 120_000);

  test("a backup that fails saves no schedule: the error is in the frame and the menu comes back", async () => {
    const { dir, root, term, envText } = await setup();
    term.send("Enter"); // a folder on this machine
    await term.waitFor("Backup folder");
    term.type("./.env/backups"); // under a file: cannot be created
    term.send("Enter");
    await defaultsUntilFailure(term);
    await term.waitFor("What would you like to do?");
    term.send("Up", "Enter");
    expect(await term.exitCode()).toBe(0);
    expect(term.strays()).toEqual([]);
    expect(existsSync(root)).toBe(false);
    expect(readFileSync(join(dir, ".env"), "utf8")).toBe(envText);
  }, 120_000);

  test("S3, encrypted: the backup and its test restore in the bucket, the schedule naming s3://, the secret in the env file only, and the crontab line backs up again", async () => {
    const s3 = await server();
    // S3 settings in the shell that cron will not have: the test backup must not use them (the endpoint beats the typed one).
    // The env file starts readable by others: written with the secret, it is 0600.
    const { d, dir, root, term, password } = await setup(0o644, { AWS_ENDPOINT_URL_S3: "http://127.0.0.1:9", AWS_SESSION_TOKEN: "shell-session-token" });
    await typeS3(term, { endpoint: s3.endpoint, bucket: "backups/wizard", keyId: S3_KEY_ID, secret: SECRET });
    await term.waitFor("Back up every day at");
    term.type("02:30");
    term.send("Enter");
    await term.waitFor("Keep one backup per day for how many days?");
    term.type("7");
    term.send("Enter");
    await term.waitFor("And one per week for how many weeks?");
    term.type("0");
    term.send("Enter");
    await term.waitFor("Encrypt the backups?");
    term.send("Enter"); // yes
    await term.waitFor("Plan: automatic backups");
    await term.waitFor("Back up and test-restore now, then save the schedule?");
    expect(term.screen()).toContain(`s3://backups/wizard at ${s3.endpoint} (key ID ${S3_KEY_ID}`);
    term.send("Enter");
    await term.waitFor("Automatic backups saved", 90_000);
    await term.waitFor("What would you like to do?");
    term.send("Up", "Enter"); // Quit
    expect(await term.exitCode()).toBe(0);
    expect(term.strays()).toEqual([]);
    const screen = term.screen();
    expect(screen).toContain("Test restore passed: test-restored into a scratch database");
    expect(screen).toContain("keeping 7 daily");
    // The closing summary names what was written to the env file (names, not values).
    expect(screen).toContain(`set AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY in ${join(dir, ".env")}`);
    expect(screen).not.toContain("can be read by other users");

    // In the bucket: one encrypted archive and its manifest, which records the read-back and the test restore.
    const objects = stored("backups", "wizard");
    const archives = [...objects.keys()].filter((f) => f.endsWith(".dump.age"));
    expect(archives).toHaveLength(1);
    expect(screen).toContain(`Backup written: s3://backups/wizard/${archives[0]}`);
    const manifest = JSON.parse(objects.get(archives[0]!.replace(/\.dump\.age$/, ".manifest.json"))!.toString());
    expect(manifest.verified.map((v: { how: string }) => v.how)).toEqual(["readback", "test-restore"]);
    expect(objects.get(archives[0]!)!.length).toBe(manifest.archive.bytes);

    // The schedule: the time, the retention and the S3 location; no secret in it.
    const crontab = readFileSync(join(root, "crontab"), "utf8");
    const line = crontab.trimEnd().split("\n").at(-1)!;
    expect(line).toStartWith("30 2 * * * ");
    expect(line).toContain("--dir s3://backups/wizard --keep-daily 7");
    expect(line).not.toContain("--keep-weekly");
    // The env file: 0600, the S3 settings typed, the database URL kept.
    const envFile = join(dir, ".env");
    expect(statSync(envFile).mode & 0o777).toBe(0o600);
    const envText = readFileSync(envFile, "utf8");
    expect(envText).toContain(`DATABASE_URL=${d.url}\n`);
    expect(envText).toContain(`AWS_ENDPOINT_URL=${s3.endpoint}\n`);
    expect(envText).toContain(`AWS_ACCESS_KEY_ID=${S3_KEY_ID}\n`);
    expect(envText).toContain(`AWS_SECRET_ACCESS_KEY=${SECRET}\n`);
    // The secret nowhere else: not on the screen, in the crontab, the key file or the bucket.
    expect(screen).not.toContain(SECRET);
    expect(screen).not.toContain(password);
    const elsewhere = [...filesUnder(dir), ...filesUnder(s3.dir)].filter(([f, text]) => f !== envFile && text.includes(SECRET)).map(([f]) => f);
    expect(elsewhere).toEqual([]);

    // The crontab line, run as cron runs it, writes the next backup to the bucket; retention (one a day) drops the first.
    const run = runLikeCron(line, tmpdir(), dir);
    expect({ status: run.status, stderr: run.stderr }).toMatchObject({ status: 0 });
    const after = [...stored("backups", "wizard").keys()].filter((f) => f.endsWith(".dump.age"));
    expect(after).toHaveLength(1);
    expect(after[0]).not.toBe(archives[0]);
    const second = stored("backups", "wizard");
    expect([...second.keys()].sort()).toEqual([after[0]!, after[0]!.replace(/\.dump\.age$/, ".manifest.json")].sort());
    expect(JSON.parse(second.get(after[0]!.replace(/\.dump\.age$/, ".manifest.json"))!.toString()).verified.map((x: { how: string }) => x.how)).toEqual(["readback"]);
    const v = await pgship(["backups", "verify", `s3://backups/wizard/${after[0]}`, "--identity", join(dir, "pgship-backup-key.txt")], { env: { DATABASE_URL: d.url, ...s3.env } });
    expect({ code: v.code, stderr: v.stderr }).toMatchObject({ code: 0 });
  }, 240_000);

  for (const c of [
    // The message names the endpoint typed (it is no secret) and what to check.
    { name: "a wrong access key ID", endpoint: () => s3!.endpoint, keyId: "NOT-THE-KEY", said: () => `the S3 server ${s3!.endpoint} refused access to s3://backups (InvalidAccessKeyId` },
    { name: "a bucket that does not exist", endpoint: () => s3!.endpoint, keyId: S3_KEY_ID, bucket: "nosuch/refused", said: () => `S3 bucket "nosuch" does not exist on ${s3!.endpoint}` },
    { name: "an endpoint nobody answers on", endpoint: () => "http://127.0.0.1:9", keyId: S3_KEY_ID, said: () => "cannot reach the S3 server http://127.0.0.1:9: ECONNREFUSED" },
  ]) {
    test(`S3 with ${c.name}: a clear message in the frame, no schedule, the env file untouched`, async () => {
      await server();
      const { dir, root, term, envText } = await setup();
      await typeS3(term, { endpoint: c.endpoint(), bucket: c.bucket ?? "backups/refused", keyId: c.keyId, secret: SECRET });
      await defaultsUntilFailure(term);
      await term.waitFor(c.said());
      await term.waitFor("check the endpoint URL, bucket, access key ID and secret access key typed above");
      await term.waitFor("What would you like to do?");
      term.send("Up", "Enter");
      expect(await term.exitCode()).toBe(0);
      expect(term.strays()).toEqual([]);
      expect(term.screen()).not.toContain(SECRET);
      expect(existsSync(root)).toBe(false);
      expect(readFileSync(join(dir, ".env"), "utf8")).toBe(envText);
      expect(stored("backups", "refused").size).toBe(0);
    }, 120_000);
  }
});
