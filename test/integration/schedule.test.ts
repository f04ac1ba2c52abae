// `schedule backup|list|remove` with PGSHIP_SCHEDULE_ROOT, so nothing touches
// /etc or a real crontab: the systemd units pass `systemd-analyze verify`, the
// crontab line is run as cron would run it (sh -c, an almost empty environment)
// and really writes a backup, flock keeps two runs apart, secrets stay in the
// env file, and bad input is one message with its exit code.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createDb, describeWithPgDump, ensureBinary, noStackTrace, pgship, tempDir, type TestDb } from "../harness/env.ts";
import { cronCommand, runLikeCron } from "../harness/cron.ts";
import { missing } from "../harness/tools.ts";
import Ajv2020 from "ajv/dist/2020";
import { ROOT } from "../harness/env.ts";

const ajv = new Ajv2020({ allErrors: true, strict: false });
for (const f of ["schedule.schema.json", "error.schema.json"]) ajv.addSchema(JSON.parse(readFileSync(join(ROOT, "docs", "json", f), "utf8")), f);
/** The --json document, checked against docs/json/schedule.schema.json. */
function doc(stdout: string) {
  const v = JSON.parse(stdout);
  const validate = ajv.getSchema("schedule.schema.json")!;
  if (!validate(v)) throw new Error(`schedule.schema.json: ${ajv.errorsText(validate.errors)}\n${stdout}`);
  return v;
}

let d: TestDb;
beforeAll(async () => {
  d = await createDb("sched");
});
afterAll(async () => d?.sql.end());

const PING = "https://hc-ping.com/0f3c2a9e-7d41-4b8a-9c55-5e1d2f7a8b90";

/** A deployment directory: .env (0600) with DATABASE_URL, and a root for the units and crontab. */
function setup(envText = `DATABASE_URL=${d.url}\n`) {
  const dir = tempDir();
  const envFile = join(dir, ".env");
  writeFileSync(envFile, envText, { mode: 0o600 });
  const root = join(dir, "root");
  return { dir, envFile, root, env: { PGSHIP_SCHEDULE_ROOT: root } };
}

const dumps = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".dump")) : []);

describe("schedule backup: systemd units", () => {
  test("--print shows both units with absolute paths, the time and retention, and writes nothing", async () => {
    const s = setup();
    const r = await pgship(["schedule", "backup", "--systemd", "--print", "--dir", "backups", "--at", "04:05", "--keep-daily", "7", "--keep-weekly", "4", "--ping", PING], { cwd: s.dir, env: s.env });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`EnvironmentFile=${s.envFile}\n`);
    expect(r.stdout).toContain("OnCalendar=*-*-* 04:05:00");
    expect(r.stdout).toMatch(new RegExp(`ExecStart=/\\S*flock -n ${s.dir}/\\.pgship-backup\\.lock ${ensureBinary()} backup --env-file ${s.envFile} --dir ${s.dir}/backups --keep-daily 7 --keep-weekly 4\\n`));
    expect(r.stdout).toContain("systemctl daemon-reload\nsystemctl enable pgship-backup.timer\nsystemctl restart pgship-backup.timer\n");
    expect(r.stdout).not.toContain(PING);
    expect(r.stdout).not.toContain("hc-ping");
    expect(existsSync(s.root)).toBe(false);
    expect(readFileSync(s.envFile, "utf8")).toBe(`DATABASE_URL=${d.url}\n`);
  }, 60_000);

  test.skipIf(missing("systemd-analyze"))("installs the service and timer: systemd-analyze verify accepts them; the ping URL goes to the env file only", async () => {
    const s = setup();
    const r = await pgship(["schedule", "backup", "--systemd", "--dir", "./my backups%1", "--at", "hourly", "--keep-last", "3", "--ping", PING, "--json"], { cwd: s.dir, env: s.env });
    expect(r.code).toBe(0);
    const out = doc(r.stdout);
    expect(out).toMatchObject({ ok: true, backend: "systemd", installed: true, activated: false, envVarsSet: ["PGSHIP_PING_URL"], when: "hourly at :00", retention: "last 3" });
    const service = join(s.root, "pgship-backup.service");
    const timer = join(s.root, "pgship-backup.timer");
    // A directory with a space and a % survives systemd's quoting and specifiers.
    expect(readFileSync(service, "utf8")).toContain(`"${s.dir}/my backups%%1"`);
    const v = spawnSync("systemd-analyze", ["verify", service, timer], { encoding: "utf8" });
    expect({ code: v.status, stderr: v.stderr }).toEqual({ code: 0, stderr: "" });
    for (const f of [service, timer]) expect(readFileSync(f, "utf8")).not.toContain("hc-ping");
    for (const f of [service, timer]) expect(readFileSync(f, "utf8")).not.toContain(new URL(d.url.replace(/^postgres/, "http")).password);
    expect(readFileSync(s.envFile, "utf8")).toBe(`DATABASE_URL=${d.url}\nPGSHIP_PING_URL=${PING}\n`);
    expect(statSync(s.envFile).mode & 0o777).toBe(0o600);
    expect(r.stdout).not.toContain("hc-ping");

    const list = await pgship(["schedule", "list", "--json"], { env: s.env });
    expect(doc(list.stdout).schedules).toEqual([{ name: "backup", backend: "systemd", where: service, when: "*-*-* *:00:00", command: expect.stringContaining("backup --env-file") }]);
    // A unit that is not ours is neither listed nor removed.
    writeFileSync(join(s.root, "pgship-other.service"), "[Service]\nExecStart=/bin/true\n");
    const removed = await pgship(["schedule", "remove", "backup", "--json"], { env: s.env });
    expect(doc(removed.stdout)).toEqual({ ok: true, name: "backup", removed: [{ backend: "systemd", where: service }] });
    expect(readdirSync(s.root)).toEqual(["pgship-other.service"]);
    const again = await pgship(["schedule", "remove", "backup", "--json"], { env: s.env });
    expect(again.code).toBe(1);
    expect(doc(again.stdout).error.code).toBe("schedule_missing");
  }, 60_000);
});

describeWithPgDump("schedule backup: a crontab line", () => {
  test("the installed line, run by sh like cron, writes a verified backup; re-installing replaces only our line", async () => {
    const s = setup();
    mkdirSync(s.root);
    writeFileSync(join(s.root, "crontab"), "MAILTO=ops@example.com\n0 1 * * * /usr/local/bin/other-job\n");
    const r = await pgship(["schedule", "backup", "--cron", "--dir", "backups", "--at", "02:30", "--keep-daily", "7", "--ping", PING, "--json"], { cwd: s.dir, env: s.env });
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
    // The outcome shows our line, never the rest of the user's crontab.
    expect(doc(r.stdout).files).toEqual([{ path: join(s.root, "crontab"), content: expect.stringMatching(/^30 2 \* \* \* .* # pgship-schedule:backup\n$/) }]);
    expect(r.stdout).not.toContain("ops@example.com");
    const crontab = readFileSync(join(s.root, "crontab"), "utf8");
    const lines = crontab.trimEnd().split("\n");
    expect(lines.slice(0, 2)).toEqual(["MAILTO=ops@example.com", "0 1 * * * /usr/local/bin/other-job"]);
    const ours = lines[2]!;
    expect(ours).toStartWith("30 2 * * * /");
    expect(ours).toContain("--keep-daily 7");
    expect(ours).toEndWith(" # pgship-schedule:backup");
    expect(crontab).not.toContain("hc-ping");
    expect(crontab).not.toContain(new URL(d.url.replace(/^postgres/, "http")).password);
    expect(readFileSync(s.envFile, "utf8")).toContain(`PGSHIP_PING_URL=${PING}`);

    // Run it as cron would, from another directory: it finds everything by absolute path.
    const run = runLikeCron(ours, tempDir());
    expect({ status: run.status, stderr: run.stderr }).toMatchObject({ status: 0 });
    expect(dumps(join(s.dir, "backups"))).toHaveLength(1);
    const listed = await pgship(["backups", "--dir", join(s.dir, "backups"), "--json"]);
    expect(JSON.parse(listed.stdout).backups[0]).toMatchObject({ status: "ok", database: d.name, verified: { how: "readback" } });

    // Again with another time: one line of ours, the others kept.
    expect((await pgship(["schedule", "backup", "--cron", "--dir", "backups", "--at", "05:00"], { cwd: s.dir, env: s.env })).code).toBe(0);
    const after = readFileSync(join(s.root, "crontab"), "utf8").trimEnd().split("\n");
    expect(after).toHaveLength(3);
    expect(after[2]).toStartWith("0 5 * * * ");
    const list = doc((await pgship(["schedule", "list", "--json"], { env: s.env })).stdout);
    expect(list.schedules).toMatchObject([{ name: "backup", backend: "cron", when: "0 5 * * *" }]);
    expect((await pgship(["schedule", "remove"], { env: s.env })).code).toBe(0);
    expect(readFileSync(join(s.root, "crontab"), "utf8")).toBe("MAILTO=ops@example.com\n0 1 * * * /usr/local/bin/other-job\n");
  }, 120_000);

  test("a run that finds the previous one still holding the lock exits at once and writes nothing", async () => {
    const s = setup();
    const r = await pgship(["schedule", "backup", "--cron", "--dir", "backups", "--json"], { cwd: s.dir, env: s.env });
    expect(r.code).toBe(0);
    const out = doc(r.stdout);
    const holder = spawn("flock", [out.lockFile, "sleep", "30"], { stdio: "ignore" });
    try {
      await new Promise((res) => setTimeout(res, 300));
      const t0 = Date.now();
      const run = runLikeCron(out.cronLine, s.dir);
      expect(run.status).toBe(1);
      expect(Date.now() - t0).toBeLessThan(5_000);
      expect(dumps(join(s.dir, "backups"))).toEqual([]);
    } finally {
      holder.kill();
    }
  }, 60_000);
});

test("help lists --ping and --notify (what each scheduled run reports to)", async () => {
  const r = await pgship(["schedule", "--help"]);
  expect(r.stdout).toContain("  --ping <url>");
  expect(r.stdout).toContain("  --notify <url>");
  expect(r.stdout).not.toMatch(/(^|\s)-ping/);
});

describeWithPgDump("schedule backup --ping: the URL reaches each run through the env file", () => {
  test("scheduling pings nothing; the crontab line's run reports start and success to the monitor", async () => {
    const hits: string[] = [];
    const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (req) => (hits.push(`${req.method} ${new URL(req.url).pathname}`), new Response("OK")) });
    try {
      const url = `http://127.0.0.1:${server.port}/ping/5b2c1e0a-token-8d7f6e5d4c3b`;
      const s = setup();
      const r = await pgship(["schedule", "backup", "--cron", "--dir", "backups", "--ping", url, "--json"], { cwd: s.dir, env: s.env });
      expect(r.code).toBe(0);
      expect(hits).toEqual([]);
      const line: string = doc(r.stdout).cronLine;
      expect(line).not.toContain("5b2c1e0a-token");
      // Run like cron, without blocking this process (the monitor answers from here).
      const child = spawn("/bin/sh", ["-c", cronCommand(line)], { cwd: s.dir, env: { HOME: s.dir, PATH: "/usr/bin:/bin" }, stdio: "ignore" });
      const code = await new Promise<number | null>((res) => child.on("close", res));
      expect(code).toBe(0);
      expect(dumps(join(s.dir, "backups"))).toHaveLength(1);
      expect(hits).toEqual(["POST /ping/5b2c1e0a-token-8d7f6e5d4c3b/start", "POST /ping/5b2c1e0a-token-8d7f6e5d4c3b"]);
    } finally {
      server.stop(true);
    }
  }, 120_000);
});

test.skipIf(process.getuid?.() !== 0)("root adding the ping URL to an app's env file leaves the file its owner (mode 0600)", async () => {
  const s = setup();
  chownSync(s.envFile, 4321, 4321);
  const r = await pgship(["schedule", "backup", "--systemd", "--dir", "b", "--ping", PING], { cwd: s.dir, env: s.env });
  expect(r.code).toBe(0);
  const st = statSync(s.envFile);
  expect({ uid: st.uid, gid: st.gid, mode: st.mode & 0o777 }).toEqual({ uid: 4321, gid: 4321, mode: 0o600 });
  expect(readFileSync(s.envFile, "utf8")).toContain(`PGSHIP_PING_URL=${PING}`);
}, 60_000);

describe("schedule: bad input is one message and an exit code", () => {
  const bad = async (args: string[], code: number, message: string | RegExp, envText?: string) => {
    const s = setup(envText);
    const r = await pgship(["schedule", ...args], { cwd: s.dir, env: s.env });
    expect({ args, code: r.code }).toEqual({ args, code });
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split("\n").length).toBeLessThanOrEqual(2);
    expect(noStackTrace(r.stderr)).toBe(true);
    expect(existsSync(s.root)).toBe(false);
    return r;
  };

  test("--at must be HH:MM on the 24-hour clock, daily or hourly", async () => {
    for (const at of ["3:15", "24:00", "03:60", "03:15:00", "3pm", "weekly", ""]) await bad(["backup", "--cron", "--dir", "b", "--at", at], 2, at ? `--at "${at}" is not a time` : /needs a value|is not a time/);
  }, 60_000);

  test("missing --dir, unknown action, both backends, --database-url, no env file, a ping that is not a URL", async () => {
    await bad(["backup", "--cron"], 2, "--dir is required");
    await bad(["bogus"], 2, 'unknown schedule action "bogus"');
    await bad(["backup", "--dir", "b", "--cron", "--systemd"], 2, "cannot be combined");
    await bad(["backup", "--dir", "b", "--cron", "--database-url", d.url], 2, "--database-url would put the password into the schedule");
    await bad(["backup", "--dir", "b", "--cron", "--env-file", "/nonexistent/.env"], 2, "no such file");
    const r = await bad(["backup", "--dir", "b", "--cron", "--ping", "hc-ping.com/secret-token-1234567890"], 2, "--ping is not an http:// or https:// URL");
    expect(r.stderr).not.toContain("secret-token");
    await bad(["backup", "--dir", "b", "--cron", "--keep-daily", "0"], 2, "--keep-daily");
    await bad(["backup", "--dir", "b", "--cron", "--encrypt-to", "age1nope"], 2, "is not an age recipient");
    await bad(["remove", "Bad_Name"], 2, "must be lower-case");
  }, 60_000);

  test("an env file sh would misread is refused for cron, naming the line", async () => {
    await bad(["backup", "--dir", "b", "--cron"], 2, /line 2 \(DATABASE_URL\): cron reads this file with sh/, `# app\nDATABASE_URL=${d.url}?sslmode=disable&application_name=x\n`);
  }, 60_000);

  // Without PGSHIP_SCHEDULE_ROOT this would install for real: skipped where systemd runs (it would install units there).
  test.skipIf(existsSync("/run/systemd/system"))("neither systemd nor cron: schedule_unavailable, exit 1, nothing installed", async () => {
    const s = setup();
    const emptyPath = tempDir();
    const r = spawnSync(ensureBinary(), ["schedule", "backup", "--dir", "b", "--json"], { cwd: s.dir, encoding: "utf8", env: { PATH: emptyPath, HOME: s.dir } });
    expect(r.status).toBe(1);
    expect(doc(r.stdout).error).toMatchObject({ code: "schedule_unavailable", exitCode: 1 });
    expect(r.stderr).toContain("neither systemd nor cron runs here");
  }, 60_000);
});
