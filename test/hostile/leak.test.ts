// No fragment of a password ever reaches stdout, stderr, --json or the history
// table, however the password is given (unencoded @ : / ? # in a URL, percent-
// encoded, PGPASSWORD, ./.env) and whether the command succeeds or fails.
// Plus the connection messages: sslmode=require without TLS on the server, a
// port out of range, and the longest duration a flag accepts.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { cluster, createDb, migrationsDir, noStackTrace, pgship, tempDir, type RunResult, type TestDb, testWithPgDump } from "../harness/env.ts";

// Every fragment between the special characters is at least 3 characters long and
// appears nowhere else, so a leak of any part of it is caught.
const HOSTILE = "Sunb3am@Kx7j:Qz4/Wv9?Lmq#Rt4e@Yp2";
const WORD = "letmein";

let port = 0;
let db: TestDb; // owned by "leaky" (password HOSTILE), installed by the tests below
let spare: TestDb; // owned by "leaky", for a failing migration
let wordDb: TestDb; // owned by "wordy" (password WORD)

const raw = (pw: string, name = db.name, user = "leaky") => `postgres://${user}:${pw}@127.0.0.1:${port}/${name}`;
const encoded = (pw: string, name = db.name, user = "leaky") => raw(encodeURIComponent(pw), name, user);

/** The password, its encoded form, and every piece of it between special characters (3 characters or more). */
function fragments(pw: string): string[] {
  const parts = pw.split(/[@:/?#%]/).filter((f) => f.length >= 3);
  return [...new Set([pw, encodeURIComponent(pw), ...parts])];
}

function leaks(text: string, pw: string): string[] {
  return fragments(pw).filter((f) => text.includes(f));
}

/** Asserts no fragment of `pw` in the output (and no stack trace unless --verbose asked for one). */
function clean(label: string, r: RunResult, pw = HOSTILE, verbose = false): RunResult {
  expect({ label, leaked: leaks(r.stdout + r.stderr, pw) }).toEqual({ label, leaked: [] });
  if (!verbose) expect(noStackTrace(r.stderr)).toBe(true);
  return r;
}

const json = (r: RunResult) => JSON.parse(r.stdout) as { ok: boolean; error?: { code: string; message: string; hint: string | null; exitCode: number } };

beforeAll(async () => {
  const c = await cluster();
  port = c.port;
  db = await createDb("leak");
  spare = await createDb("leak");
  wordDb = await createDb("leak");
  await db.sql.unsafe(`create role leaky login password '${HOSTILE}'`);
  await db.sql.unsafe(`create role wordy login password '${WORD}'`);
  await db.sql.unsafe(`alter database "${db.name}" owner to leaky`);
  await db.sql.unsafe(`alter database "${spare.name}" owner to leaky`);
  await db.sql.unsafe(`alter database "${wordDb.name}" owner to wordy`);
  await db.sql.unsafe(`alter schema public owner to leaky`);
  await spare.sql.unsafe(`alter schema public owner to leaky`);
  await wordDb.sql.unsafe(`alter schema public owner to wordy`);
});
afterAll(async () => {
  await Promise.all([db, spare, wordDb].map((d) => d?.sql.end()));
});

describe("a password with unencoded @ : / ? # is never printed", () => {
  const commands = [["status"], ["up"], ["doctor"], ["backup", "--dir", "BACKUPDIR"]];
  for (const cmd of commands) {
    for (const asJson of [false, true]) {
      test(`${cmd[0]}${asJson ? " --json" : ""} with --database-url`, async () => {
        const args = [...cmd.map((a) => (a === "BACKUPDIR" ? tempDir() : a)), "--database-url", raw(HOSTILE), ...(asJson ? ["--json"] : [])];
        const r = clean(args.join(" "), await pgship(args));
        expect(r.code).toBe(2);
        expect(r.stderr).toContain(`postgres://***@127.0.0.1:${port}/${db.name}`);
        expect(r.stderr).toContain("percent-encode");
        if (asJson) expect(json(r).error).toMatchObject({ code: "usage", exitCode: 2 });
      });
    }
  }

  test("from DATABASE_URL and from ./.env", async () => {
    clean("env", await pgship(["status", "--json"], { env: { DATABASE_URL: raw(HOSTILE) } }));
    const cwd = tempDir();
    writeFileSync(join(cwd, ".env"), `DATABASE_URL=${raw(HOSTILE)}\n`);
    const r = clean(".env", await pgship(["status", "--json"], { cwd }));
    expect(r.code).toBe(2);
    // Other shapes: only / or only ? unencoded, a bad %-escape, the host forgotten.
    const cases: [string, string][] = [
      ["Sunb3am/Kx7jQz4", raw("Sunb3am/Kx7jQz4")],
      ["Sunb3am?Kx7jQz4", raw("Sunb3am?Kx7jQz4")],
      ["Sunb3am%ZZKx7jQz4", raw("Sunb3am%ZZKx7jQz4")],
      ["Sunb3amKx7jQz4", `postgres://leaky:Sunb3amKx7jQz4/${db.name}`],
    ];
    for (const [pw, url] of cases) {
      for (const extra of [[], ["--json"]]) {
        const s = clean(url, await pgship(["status", "--database-url", url, ...extra]), pw);
        expect(s.code).toBe(2);
      }
    }
  });
});

describe("percent-encoded, PGPASSWORD and ./.env: the password works and is never printed", () => {
  testWithPgDump("up, status, doctor, backup (text and --json) with --database-url", async () => {
    const url = encoded(HOSTILE);
    expect(clean("up", await pgship(["up", "--database-url", url])).code).toBe(0);
    expect(clean("status", await pgship(["status", "--database-url", url])).code).toBe(0);
    expect(clean("status --json", await pgship(["status", "--json", "--database-url", url])).code).toBe(0);
    expect(clean("up --json", await pgship(["up", "--json", "--database-url", url])).code).toBe(0);
    clean("doctor", await pgship(["doctor", "--database-url", url]));
    clean("doctor --json", await pgship(["doctor", "--json", "--database-url", url]));
    const b = clean("backup --json", await pgship(["backup", "--dir", tempDir(), "--json", "--verbose", "--database-url", url]), HOSTILE, true);
    expect(b.code).toBe(0);
    // What was recorded in the history, too.
    const rows = await db.sql.unsafe<{ args: string | null; error: string | null }[]>(`select args, error from pgship.history`);
    expect(rows.length).toBeGreaterThan(0);
    expect(leaks(JSON.stringify(rows), HOSTILE)).toEqual([]);
  });

  testWithPgDump("PGPASSWORD and ./.env", async () => {
    const pgEnv = { PGHOST: "127.0.0.1", PGPORT: String(port), PGUSER: "leaky", PGDATABASE: db.name, PGPASSWORD: HOSTILE };
    expect(clean("PGPASSWORD status", await pgship(["status", "--json"], { env: pgEnv })).code).toBe(0);
    expect(clean("PGPASSWORD up", await pgship(["up", "--verbose"], { env: pgEnv }), HOSTILE, true).code).toBe(0);
    clean("PGPASSWORD doctor", await pgship(["doctor", "--verbose"], { env: pgEnv }), HOSTILE, true);
    const wrong = clean("PGPASSWORD wrong", await pgship(["status", "--json"], { env: { ...pgEnv, PGPASSWORD: `${HOSTILE}x` } }), `${HOSTILE}x`);
    expect(wrong.code).toBe(1);
    const cwd = tempDir();
    writeFileSync(join(cwd, ".env"), `DATABASE_URL=${encoded(HOSTILE)}\n`);
    expect(clean(".env status", await pgship(["status"], { cwd })).code).toBe(0);
    expect(clean(".env backup", await pgship(["backup", "--dir", tempDir()], { cwd })).code).toBe(0);
  });

  test("a wrong password, in text and --json, for every command", async () => {
    const wrongPw = `${HOSTILE}Zz9`;
    for (const cmd of [["status"], ["up"], ["doctor"], ["backup", "--dir", tempDir()]]) {
      for (const extra of [[], ["--json"], ["--verbose"]]) {
        const r = clean(`${cmd[0]} ${extra}`, await pgship([...cmd, ...extra, "--database-url", encoded(wrongPw)]), wrongPw, extra[0] === "--verbose");
        expect(r.code).toBe(1);
        // doctor reports it as its "connection" check on stdout; --json escapes the quotes.
        expect(r.stdout + r.stderr).toMatch(/password authentication failed for user \\?"leaky\\?" \(wrong password, or the user does not exist\)/);
      }
    }
  });

  test("a server error quoting the password is scrubbed in the output and in the history row", async () => {
    const dir = migrationsDir({ "20990101000000_quote.sql": `-- migrate:up\nselect '${HOSTILE.replace(/'/g, "''")}'::int;\n-- migrate:down\nselect 1;\n` });
    for (const extra of [[], ["--json"]]) {
      const r = clean(`failing up ${extra}`, await pgship(["up", "--migrations-dir", dir, "--database-url", encoded(HOSTILE, spare.name), ...extra]));
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("invalid input syntax for type integer");
    }
    const rows = await spare.sql.unsafe<{ args: string | null; error: string | null }[]>(`select args, error from pgship.history`);
    expect(rows.some((r) => r.error?.includes("invalid input syntax"))).toBe(true);
    expect(leaks(JSON.stringify(rows), HOSTILE)).toEqual([]);
  });
});

describe("a password that is a common word", () => {
  test("never printed when wrong, and messages are not mangled", async () => {
    for (const extra of [[], ["--json"]]) {
      const r = clean(`wrong ${extra}`, await pgship(["status", ...extra, "--database-url", raw(WORD, wordDb.name, "leaky")]), WORD);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("password authentication failed");
    }
    const ok = clean("right", await pgship(["status", "--database-url", raw(WORD, wordDb.name, "wordy")]), WORD);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("not installed");
  });

  testWithPgDump("a passphrase that is a word of the message leaves the message whole", async () => {
    const url = encoded(HOSTILE);
    const dir = tempDir();
    const right = join(dir, "right");
    const wrong = join(dir, "wrong");
    writeFileSync(right, "a long enough passphrase\n", { mode: 0o600 });
    const b = clean("backup", await pgship(["backup", "--dir", dir, "--passphrase-file", right, "--json", "--database-url", url]));
    expect(b.code).toBe(0);
    const file = (JSON.parse(b.stdout) as { file: string }).file;
    for (const word of ["is", "wrong"]) {
      writeFileSync(wrong, `${word}\n`, { mode: 0o600 });
      const r = clean("restore", await pgship(["restore", file, "--passphrase-file", wrong, "--yes", "--database-url", url]), "a long enough passphrase");
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("the passphrase is wrong");
    }
  });
});

describe("connection messages", () => {
  test("sslmode=require against a server without TLS", async () => {
    for (const extra of [[], ["--json"]]) {
      const r = clean("sslmode", await pgship(["status", ...extra, "--database-url", `${encoded(HOSTILE)}?sslmode=require`]));
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("the server does not offer SSL; use sslmode=prefer or enable SSL on the server");
      if (extra.length) expect(json(r).error?.code).toBe("connect_failed");
    }
  });

  test("a port out of range is a usage error that says so", async () => {
    for (const url of [`postgres://leaky:${encodeURIComponent(HOSTILE)}@127.0.0.1:99999/${db.name}`, `postgres://leaky:${HOSTILE}@127.0.0.1:99999/x`]) {
      const r = clean("port", await pgship(["status", "--database-url", url]));
      expect(r.code).toBe(2);
      if (!url.includes("#")) expect(r.stderr).toContain("port 99999 is out of range (1-65535)");
      expect(r.stderr).not.toContain("cannot be parsed");
    }
    const env = await pgship(["status"], { env: { PGHOST: "127.0.0.1", PGPORT: "70000", PGUSER: "leaky", PGDATABASE: db.name } });
    expect(env.code).toBe(2);
    expect(env.stderr).toContain("port 70000 is out of range (1-65535)");
  });

  test("durations: one maximum (24 days) for --wait, --lock-timeout and wait --timeout", async () => {
    const url = encoded(HOSTILE);
    for (const args of [["status", "--wait", "99999999h"], ["status", "--wait", "25d"], ["status", "--lock-timeout", "25d"], ["wait", "--timeout", "99999999h"], ["wait", "--timeout", "25d"]]) {
      const r = await pgship([...args, "--database-url", url]);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toContain("is longer than the maximum of 24 days (24d)");
    }
    const ok = await pgship(["wait", "--timeout", "24d", "--json", "--database-url", url]);
    expect(ok.code).toBe(0);
    expect((await pgship(["status", "--wait", "2d", "--lock-timeout", "1d", "--database-url", url])).code).toBe(0);
  });
});
