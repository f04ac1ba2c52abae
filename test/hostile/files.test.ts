// Hostile files in the migrations directory and beside it: a FIFO, dangling
// symbolic links, link loops, a directory named like a migration, an unreadable
// file, editor backups. Every one is either ignored (and listed by status) or one
// `file: what is wrong` message with exit 1, never a hang and never a stack trace.
// Plus an interrupted transaction:false migration whose file was edited before
// resuming it: refused (exit 4) unless --accept-changed, which is recorded.

import { describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import postgres from "postgres";
import { BUN, cluster, migrationsDir, noStackTrace, pgship, ROOT, useDatabases, type RunResult } from "../harness/env.ts";

const newDb = useDatabases("files");

const FIRST = { "20250101000000_first.sql": "-- migrate:up\ncreate table t (id int);\n-- migrate:down\ndrop table t;\n" };

/** A migrations directory with one good migration plus `hostile`, which builds the bad entry. */
function withEntry(hostile: (dir: string) => void): string {
  const dir = migrationsDir(FIRST);
  hostile(dir);
  return dir;
}

/** One clear file message: exit 1, code `file`, the file named, no stack trace, no "unexpected". */
function expectFileError(r: RunResult, file: string, problem: string) {
  expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 1 });
  expect(r.stderr).toContain(`${file}: ${problem}`);
  expect(r.stderr).not.toContain("unexpected");
  expect(noStackTrace(r.stderr)).toBe(true);
}

const BAD = "20990101000000_x.sql";

describe("non-regular files named like a migration", () => {
  test("a FIFO is refused at once (no blocking read), for status and up", async () => {
    const dir = withEntry((d) => {
      const r = spawnSync("mkfifo", [join(d, BAD)]);
      if (r.status !== 0) throw new Error(`mkfifo failed: ${r.stderr}`);
    });
    const db = await newDb();
    for (const cmd of ["status", "up"]) {
      const t0 = performance.now();
      const r = await pgship([cmd, "--migrations-dir", dir, "--database-url", db.url], { timeoutMs: 10_000 });
      expect(performance.now() - t0).toBeLessThan(3_000);
      expectFileError(r, BAD, "is a named pipe (FIFO), not a regular file");
    }
    const j = await pgship(["status", "--json", "--migrations-dir", dir, "--database-url", db.url], { timeoutMs: 10_000 });
    expect(JSON.parse(j.stdout).error).toMatchObject({ code: "file", exitCode: 1 });
  }, 30_000);

  test("a dangling symbolic link", async () => {
    const dir = withEntry((d) => symlinkSync(join(d, "nowhere.sql"), join(d, BAD)));
    const r = await pgship(["status", "--migrations-dir", dir, "--database-url", (await newDb()).url]);
    expectFileError(r, BAD, "dangling symbolic link");
  });

  test("a symbolic link loop", async () => {
    const dir = withEntry((d) => symlinkSync(BAD, join(d, BAD)));
    const r = await pgship(["status", "--migrations-dir", dir, "--database-url", (await newDb()).url]);
    expectFileError(r, BAD, "symbolic link loop");
  });

  test("a directory named like a migration", async () => {
    const dir = withEntry((d) => mkdirSync(join(d, BAD)));
    const r = await pgship(["status", "--migrations-dir", dir, "--database-url", (await newDb()).url]);
    expectFileError(r, BAD, "is a directory, not a regular file");
  });

  test.skipIf(process.getuid?.() === 0)("an unreadable file (not as root: root reads it anyway)", async () => {
    const dir = withEntry((d) => {
      writeFileSync(join(d, BAD), "-- migrate:up\nselect 1;\n");
      chmodSync(join(d, BAD), 0o000);
    });
    const r = await pgship(["status", "--migrations-dir", dir, "--database-url", (await newDb()).url]);
    expectFileError(r, BAD, "permission denied");
  });

  test("every bad file is named in the one message", async () => {
    const dir = withEntry((d) => {
      mkdirSync(join(d, "20990101000001_dir.sql"));
      symlinkSync("20990101000002_loop.sql", join(d, "20990101000002_loop.sql"));
    });
    const r = await pgship(["status", "--migrations-dir", dir, "--database-url", (await newDb()).url]);
    expectFileError(r, "20990101000001_dir.sql", "is a directory");
    expect(r.stderr).toContain("20990101000002_loop.sql: symbolic link loop");
  });

  test("--schema-file and --env-file that are FIFOs are refused without blocking", async () => {
    const dir = migrationsDir(FIRST);
    const fifo = join(dirname(dir), "pipe");
    spawnSync("mkfifo", [fifo]);
    const db = await newDb();
    const s = await pgship(["status", "--migrations-dir", dir, "--schema-file", fifo, "--database-url", db.url], { timeoutMs: 10_000 });
    expectFileError(s, fifo, "is a named pipe (FIFO)");
    const e = await pgship(["status", "--migrations-dir", dir, "--env-file", fifo], { timeoutMs: 10_000 });
    expectFileError(e, fifo, "is a named pipe (FIFO)");
    const k = await pgship(["backup", "--dir", join(dirname(dir), "backups"), "--passphrase-file", fifo, "--database-url", db.url], { timeoutMs: 10_000 });
    expectFileError(k, fifo, "is a named pipe (FIFO), not a regular file (--passphrase-file)");
    const i = await pgship(["restore", join(dirname(dir), "x.dump"), "--identity", fifo, "--yes", "--database-url", db.url], { timeoutMs: 10_000 });
    expect(i.code).toBeLessThanOrEqual(2);
    expect(i.stderr).not.toContain("unexpected");
  }, 30_000);
});

describe("the build script", () => {
  test("a FIFO among the migrations fails the build at once with the file message (exit 1)", () => {
    const dir = withEntry((d) => spawnSync("mkfifo", [join(d, BAD)]));
    const t0 = performance.now();
    const r = spawnSync(BUN, ["scripts/build.ts", "--migrations-dir", dir, "--outfile", join(dirname(dir), "never")], { cwd: ROOT, encoding: "utf8", timeout: 20_000 });
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${BAD}: is a named pipe (FIFO), not a regular file`);
    expect(r.stderr).toContain("build failed");
    expect(noStackTrace(r.stderr)).toBe(true);
  }, 30_000);
});

describe("files that are not migrations", () => {
  test("editor backups, a README and hidden files are ignored and listed by status", async () => {
    const dir = withEntry((d) => {
      writeFileSync(join(d, "20250101000000_first.sql.bak"), "old text, not SQL");
      writeFileSync(join(d, "20250101000000_first.sql~"), "old text");
      writeFileSync(join(d, "README.md"), "# migrations\n");
      writeFileSync(join(d, ".20250101000000_first.sql.swp"), "\0binary");
    });
    const db = await newDb();
    const up = await pgship(["up", "--migrations-dir", dir, "--database-url", db.url]);
    expect(up.code).toBe(0);
    const st = await pgship(["status", "--migrations-dir", dir, "--database-url", db.url]);
    expect(st.code).toBe(0);
    expect(st.stdout).toContain("ignored: 20250101000000_first.sql.bak (not a .sql file)");
    expect(st.stdout).toContain("ignored: README.md (not a .sql file)");
    expect(st.stdout).toContain("ignored: .20250101000000_first.sql.swp (hidden file)");
    const j = JSON.parse((await pgship(["status", "--json", "--migrations-dir", dir, "--database-url", db.url])).stdout);
    expect(j.ignored).toEqual([
      { file: ".20250101000000_first.sql.swp", reason: "hidden file" },
      { file: "20250101000000_first.sql.bak", reason: "not a .sql file" },
      { file: "20250101000000_first.sql~", reason: "not a .sql file" },
      { file: "README.md", reason: "not a .sql file" },
    ]);
    expect(j.counts).toMatchObject({ applied: 1, pending: 0 });
  });
});

describe("a transactional migration over 1 MiB (sent statement by statement in its transaction)", () => {
  test("applies, and a failure names the right line and rolls everything back", async () => {
    const rows = Array.from({ length: 20_000 }, (_, i) => `insert into big values (${i}, 'row ${i}; padding ${"x".repeat(40)}');`);
    const good = `-- migrate:up\ncreate table big (id int, payload text);\n${rows.join("\n")}\n`;
    expect(good.length).toBeGreaterThan(1 << 20);
    const db = await newDb();
    const ok = await pgship(["up", "--migrations-dir", migrationsDir({ "20250101000000_big.sql": good }), "--database-url", db.url, "--no-verify"]);
    expect({ code: ok.code, stderr: ok.stderr }).toMatchObject({ code: 0 });
    expect((await db.sql`select count(*)::int as n from big`)[0]!.n).toBe(20_000);

    // Line 3 + 15000 holds a typo at column 8: the message names that line.
    const bad = good.replace("insert into big values (15000,", "insert intx big values (15000,");
    const other = await newDb();
    const r = await pgship(["up", "--migrations-dir", migrationsDir({ "20250101000000_big.sql": bad }), "--database-url", other.url, "--no-verify"]);
    expect({ code: r.code }).toEqual({ code: 1 });
    expect(r.stderr).toContain("20250101000000_big.sql:15003:");
    expect(r.stderr).toContain("rolled back");
    expect((await other.sql`select to_regclass('big')::text as t`)[0]!.t).toBeNull();
    // Its rows would otherwise be written out when the cluster shuts down, after the last test.
    await Promise.all([db.sql.end(), other.sql.end()]);
    const admin = postgres((await cluster()).url("postgres"), { max: 1, onnotice: () => {} });
    await admin.unsafe(`drop database "${db.name}"`);
    await admin.end();
  }, 60_000);
});

describe("an interrupted transaction:false migration edited before resuming", () => {
  const V = "20250102000000";
  const file = `${V}_concurrent.sql`;
  const OLD = "-- migrate:up transaction:false\ncreate table old_t (id int);\nselect 1/0;\n";
  const NEW = "-- migrate:up transaction:false\ncreate table new_t (id int);\n";

  test("is refused with both checksums and the command, then accepted with --accept-changed and recorded", async () => {
    const dir = migrationsDir({ ...FIRST, [file]: OLD });
    const db = await newDb();
    const args = ["--migrations-dir", dir, "--database-url", db.url];
    const first = await pgship(["up", ...args]);
    expect(first.code).toBe(1);
    const [row] = await db.sql`select state, checksum from pgship.migrations where version = ${V}`;
    expect(row!.state).toBe("running");
    const oldSum = row!.checksum as string;

    // The same text resumes as before; an edited one does not.
    writeFileSync(join(dir, file), NEW);
    const refused = await pgship(["up", ...args]);
    expect(refused.code).toBe(4);
    expect(refused.stderr).toContain(`${V}_concurrent was interrupted`);
    expect(refused.stderr).toContain(oldSum);
    expect(refused.stderr).toContain(`pgship up --migrations-dir ${dir} --database-url <database-url> --accept-changed ${V}`);
    expect(noStackTrace(refused.stderr)).toBe(true);
    const json = JSON.parse((await pgship(["update", "--json", ...args])).stdout);
    expect(json.error).toMatchObject({ code: "changed_since_interrupted", exitCode: 4 });
    expect(json.error.message).toContain(oldSum);
    expect(json.error.hint).toContain(`--accept-changed ${V}`);
    expect((await db.sql`select state, checksum from pgship.migrations where version = ${V}`)[0]).toEqual({ state: "running", checksum: oldSum });
    expect((await db.sql`select to_regclass('new_t') as t`)[0]!.t).toBeNull();

    const status = JSON.parse((await pgship(["status", "--json", ...args])).stdout);
    expect(status.running[0].recovery).toContain(`--accept-changed ${V}`);

    const accepted = await pgship(["up", ...args, "--accept-changed", V]);
    expect(accepted.code).toBe(0);
    expect(accepted.stderr).toContain("with its edited text");
    const [done] = await db.sql`select state, checksum from pgship.migrations where version = ${V}`;
    expect(done!.state).toBe("applied");
    expect(done!.checksum).not.toBe(oldSum);
    const [hist] = await db.sql`select args from pgship.history where args like '%accepted changed%' order by id desc limit 1`;
    expect(hist!.args).toContain(`accepted changed ${V}: checksum ${oldSum} -> ${done!.checksum}`);
    // Both the old text's first statement and the new text's stay: that is what was accepted.
    expect((await db.sql`select to_regclass('old_t')::text as o, to_regclass('new_t')::text as n`)[0]).toEqual({ o: "old_t", n: "new_t" });
  }, 60_000);
});
