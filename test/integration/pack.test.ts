// pack: the released binary (dist/) branded with a fixture app's migrations
// behaves byte for byte like a binary compiled from source with the same
// migrations and brand; damaged, cut-off and foreign inputs are refused with
// one message; cross-platform binaries are packed and read back.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdtempSync, mkdirSync, readFileSync, statSync, truncateSync, writeFileSync, openSync, writeSync, readSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Ajv2020 from "ajv/dist/2020";
import { testWith } from "../harness/tools.ts";
import { BUN, cleanEnv, createDb, ensureBinary, migrationsDir, noStackTrace, ROOT, tempDir, type TestDb } from "../harness/env.ts";

// Databases for this file, closed without waiting on idle connections when it is done.
const dbs: TestDb[] = [];
const db = async () => {
  const d = await createDb("pack");
  dbs.push(d);
  return d;
};
afterAll(async () => {
  await Promise.all(dbs.map((d) => d.sql.end({ timeout: 1 })));
}, 30_000);
const ajv = new Ajv2020({ allErrors: true, strict: false });
for (const f of ["error.schema.json", "pack.schema.json"]) ajv.addSchema(JSON.parse(readFileSync(join(ROOT, "docs", "json", f), "utf8")), f);
/** The --json document, checked against docs/json/pack.schema.json. */
function packJson(stdout: string) {
  const doc = JSON.parse(stdout);
  const validate = ajv.getSchema("pack.schema.json")!;
  expect({ valid: validate(doc), errors: validate.errors ?? null }).toEqual({ valid: true, errors: null });
  return doc;
}
const APP = join(ROOT, "test", "fixtures", "pack-app");
const FIXTURE = ["--migrations-dir", join(APP, "migrations"), "--schema-file", join(APP, "schema.sql")];
const BRAND = ["--name", "notes-db", "--display-name", "Notes", "--tracking-schema", "notes_db", "--version", "2.1.0"];
const work = tempDir();
const built = join(work, "built", "notes-db");
const packed = join(work, "packed", "notes-db");

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}
const run = (bin: string, args: string[], env: Record<string, string> = {}): Run => {
  const r = spawnSync(bin, args, { cwd: work, env: cleanEnv(env), encoding: "utf8", timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};
const pgship = (args: string[]) => run(ensureBinary(), args);

/** Compiles src/ with the fixture's migrations and a package.json carrying the same brand. */
function buildFromSource(outfile: string, target?: string): Run {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
  pkg.name = "notes";
  pkg.version = "2.1.0";
  pkg.pgship = { ...pkg.pgship, binaryName: "notes-db", displayName: "Notes", trackingSchema: "notes_db" };
  writeFileSync(join(work, "package.json"), JSON.stringify(pkg));
  const r = spawnSync(BUN, ["scripts/build.ts", ...FIXTURE, "--package-json", join(work, "package.json"), "--outfile", outfile, ...(target ? ["--target", target] : [])], { cwd: ROOT, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  mkdirSync(join(work, "built"));
  const b = buildFromSource(built);
  expect({ code: b.code, stderr: b.stderr }).toMatchObject({ code: 0 });
  const p = pgship(["pack", ...FIXTURE, ...BRAND, "--out", packed]);
  expect({ code: p.code, stderr: p.stderr }).toEqual({ code: 0, stderr: "" });
  expect(p.stdout).toContain("notes-db 2.1.0, 3 migrations (head 20240402080000, snapshot 20240402080000)");
}, 180_000);

/** Both binaries' output for the same command line, on two databases made the same way. */
function both(args: (bin: "built" | "packed") => string[], env: (bin: "built" | "packed") => Record<string, string> = () => ({})) {
  return { built: run(built, args("built"), env("built")), packed: run(packed, args("packed"), env("packed")) };
}

/** Only what must differ between two runs: the database's name, durations (`…Ms`) and times (`…At`, dates). */
const normalise = (text: string, names: string[]) => {
  let t = text;
  for (const n of names) t = t.replaceAll(n, "DB");
  return t.replace(/"(\w*(?:Ms|At))": ("[^"]*"|\d+(\.\d+)?)/g, '"$1": 0').replace(/\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?Z?/g, "TIME");
};

describe("a packed binary against one built from source with the same migrations and brand", () => {
  test("the packed file is the released binary, unchanged, with the payload after it; mode 0755", () => {
    const base = readFileSync(ensureBinary());
    const out = readFileSync(packed);
    expect(out.length).toBeGreaterThan(base.length);
    expect(out.subarray(0, base.length).equals(base)).toBe(true);
    expect(statSync(packed).mode & 0o777).toBe(0o755);
  }, 60_000);

  test("--version, --help, and status --json offline are byte for byte the same, and never say pgship", () => {
    for (const args of [["--version"], ["--help"], ["status", "--json"], ["status"], ["up", "--help"]]) {
      const r = both(() => args);
      expect({ args, ...r.packed }).toEqual({ args, ...r.built });
      expect(r.packed.code).toBe(0);
    }
    expect(run(packed, ["--version"]).stdout).toBe("notes-db 2.1.0\n");
    for (const args of [["--version"], ["--help"], ["pack", "--help"], ["status", "--json"], ["status"]]) {
      const r = run(packed, args);
      expect({ args, out: `${r.stdout}${r.stderr}`.toLowerCase().includes("pgship") }).toEqual({ args, out: false });
    }
  }, 60_000);

  test("status, up, status, verify and check against real databases: the same output, no pgship", async () => {
    const dbs = { built: await db(), packed: await db() };
    const names = [dbs.built.name, dbs.packed.name];
    const env = (b: "built" | "packed") => ({ DATABASE_URL: dbs[b].url });
    for (const args of [["status", "--json"], ["up", "--json"], ["status", "--json"], ["verify", "--json"], ["check", "--json", ...FIXTURE], ["status"]]) {
      const r = both(() => args, env);
      const [p, b] = [r.packed, r.built].map((x) => ({ code: x.code, stdout: normalise(x.stdout, names), stderr: normalise(x.stderr, names) }));
      expect({ args, ...p }).toEqual({ args, ...b! });
      expect({ args, code: r.packed.code }).toEqual({ args, code: 0 });
      expect({ args, pgship: `${r.packed.stdout}${r.packed.stderr}`.toLowerCase().includes("pgship") }).toEqual({ args, pgship: false });
    }
    // The packed binary tracks its migrations in its own schema.
    const rows = await dbs.packed.sql`select version from notes_db.migrations order by version`;
    expect(rows.map((r) => r.version)).toEqual(["20240301090000", "20240315120000", "20240402080000"]);
  }, 180_000);
});

describe("repacking", () => {
  test("a packed binary packed again carries only the new payload (from --from, and from itself)", () => {
    const again = join(work, "again", "other-db");
    const r = pgship(["pack", ...FIXTURE, "--name", "other-db", "--version", "3.0.0", "--from", packed, "--out", again, "--json"]);
    expect(r.code).toBe(0);
    expect(packJson(r.stdout)).toMatchObject({ ok: true, replaced: true, platform: "linux-x64-glibc", brand: { name: "other-db", displayName: "other-db", trackingSchema: "other_db", version: "3.0.0" } });
    expect(run(again, ["--version"]).stdout).toBe("other-db 3.0.0\n");
    // Same size as packing the released binary directly: the old payload is gone.
    const direct = join(work, "direct", "other-db");
    expect(pgship(["pack", ...FIXTURE, "--name", "other-db", "--version", "3.0.0", "--out", direct]).code).toBe(0);
    expect(statSync(again).size).toBe(statSync(direct).size);
    expect(readFileSync(again).subarray(0, statSync(ensureBinary()).size).equals(readFileSync(ensureBinary()))).toBe(true);
    // The packed binary packs with itself as the base (the default --from).
    const self = join(work, "self", "third-db");
    const s = run(packed, ["pack", ...FIXTURE, "--name", "third-db", "--out", self, "--json"]);
    expect(s.code).toBe(0);
    expect(packJson(s.stdout)).toMatchObject({ replaced: true, brand: { version: "20240402080000" } });
    expect(run(self, ["--version"]).stdout).toBe("third-db 20240402080000\n");
    expect(statSync(self).size).toBeLessThan(statSync(packed).size + 1000);
  }, 120_000);
});

/** A copy of the packed binary with `damage` applied. */
function damaged(name: string, damage: (file: string, size: number) => void): string {
  const f = join(work, "damaged", name);
  mkdirSync(join(work, "damaged"), { recursive: true });
  copyFileSync(packed, f);
  damage(f, statSync(f).size);
  return f;
}
const flip = (file: string, at: number) => {
  const fd = openSync(file, "r+");
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, at);
  b[0]! ^= 0x20;
  writeSync(fd, b, 0, 1, at);
  closeSync(fd);
};

/** One clear message, exit 1, no stack trace. */
function expectRefused(r: Run, what: string) {
  expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 1, stderr: expect.stringContaining(what) });
  expect(r.stderr.split("\n").filter((l) => l.startsWith("error:"))).toHaveLength(1);
  expect(noStackTrace(r.stderr)).toBe(true);
}

describe("a damaged packed binary refuses to start", () => {
  test("a flipped byte in the trailer or the migration list: every command, --version included (exit 1)", () => {
    const bytes = readFileSync(packed);
    for (const [name, at, what] of [
      ["trailer", bytes.length - 100, "the trailer fails its checksum"],
      ["index", bytes.lastIndexOf('{"brand":') + 12, "the migration list and brand fail their checksum"],
    ] as const) {
      const f = damaged(name, (file) => flip(file, at));
      expectRefused(run(f, ["--version"]), `this binary: the migrations attached to this binary are damaged (${what})`);
      const j = run(f, ["up", "--json"]);
      expect(j.code).toBe(1);
      expect(JSON.parse(j.stdout).error).toMatchObject({ code: "payload_corrupt", exitCode: 1 });
    }
  }, 60_000);

  test("a flipped byte in the SQL: status (which never reads it) works, up refuses before connecting", async () => {
    const payloadBytes = statSync(packed).size - statSync(ensureBinary()).size;
    // The models part comes last; the SQL part before it. Find the SQL by its text.
    const bytes = readFileSync(packed);
    const at = bytes.lastIndexOf("create table note_tags");
    expect(at).toBeGreaterThan(bytes.length - payloadBytes);
    const f = damaged("sql", (file) => flip(file, at));
    expect(run(f, ["--version"]).stdout).toBe("notes-db 2.1.0\n");
    expect(run(f, ["status", "--json"]).code).toBe(0);
    const d = await db();
    const up = run(f, ["up"], { DATABASE_URL: d.url });
    expectRefused(up, "the migrations attached to this binary are damaged (the migrations fail their checksum)");
    const [{ n }] = (await d.sql`select count(*)::int as n from pg_namespace where nspname = 'notes_db'`) as unknown as [{ n: number }];
    expect(n).toBe(0);
  }, 60_000);

  test("a cut-off file (a partial download) is refused, not run as the unbranded binary", () => {
    for (const cut of [1, 176, 3000]) {
      const f = damaged(`cut-${cut}`, (file, size) => truncateSync(file, size - cut));
      expectRefused(run(f, ["--version"]), "without a valid trailer: the file is cut off or damaged");
      expectRefused(run(f, ["status"]), "cut off");
    }
    // pack --inspect says the same, and pack refuses it as a base.
    const f = join(work, "damaged", "cut-1");
    expectRefused(pgship(["pack", "--inspect", f]), "cut off");
    expectRefused(pgship(["pack", ...FIXTURE, "--name", "x", "--from", f, "--out", join(work, "never")]), "cut off");
    expect(existsSync(join(work, "never"))).toBe(false);
  }, 60_000);
});

const SETPRIV = process.getuid?.() === 0 ? Bun.which("setpriv") : null;
test.skipIf(!SETPRIV)("an execute-only packed binary run by another user stops (it cannot tell which migrations it carries)", () => {
  // A directory the other user may enter (the test's work directory is private).
  const dir = mkdtempSync(join(tmpdir(), "pack-xo-"));
  chmodSync(dir, 0o755);
  const f = join(dir, "notes-db");
  copyFileSync(packed, f);
  const as = (mode: number) => {
    spawnSync("chmod", [mode.toString(8), f]);
    const r = spawnSync(SETPRIV!, ["--reuid=65534", "--regid=65534", "--clear-groups", f, "--version"], { encoding: "utf8", cwd: "/" });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  expect(as(0o755)).toEqual({ code: 0, stdout: "notes-db 2.1.0\n", stderr: "" });
  expectRefused(as(0o711), "cannot read its own file to find the migrations attached to it (EACCES)");
}, 60_000);

describe("inputs pack refuses", () => {
  const out = () => join(work, "refused", "x");
  test("a file that is not a binary, a program that is not pgship's, a Bun program that is not pgship", () => {
    writeFileSync(join(work, "notes.txt"), "hello\n".repeat(100));
    for (const [from, what] of [
      [join(work, "notes.txt"), "not an executable pgship can pack"],
      ["/bin/sh", "without a .bun section: not a pgship binary"],
      [join(work, "missing"), "does not exist"],
    ] as const) {
      const r = pgship(["pack", ...FIXTURE, "--name", "x", "--from", from, "--out", out(), "--json"]);
      expect({ from, code: r.code }).toEqual({ from, code: 1 });
      expect(r.stderr).toContain(what);
      expect(noStackTrace(r.stderr)).toBe(true);
    }
    expect(packJson(pgship(["pack", ...FIXTURE, "--name", "x", "--from", "/bin/sh", "--out", out(), "--json"]).stdout).error.code).toBe("pack_refused");
    // Compiled by Bun, but not pgship: no code to read a payload.
    const foreign = join(work, "foreign");
    writeFileSync(join(work, "hello.ts"), "console.log('hello');\n");
    expect(spawnSync(BUN, ["build", "--compile", join(work, "hello.ts"), "--outfile", foreign], { encoding: "utf8" }).status).toBe(0);
    const r = pgship(["pack", ...FIXTURE, "--name", "x", "--from", foreign, "--out", out()]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("a Bun program that cannot carry migrations: not a pgship binary");
    expect(existsSync(out())).toBe(false);
  }, 60_000);

  test("--out naming the input is a usage error (exit 2); the input is untouched", () => {
    const before = readFileSync(packed);
    const r = pgship(["pack", ...FIXTURE, "--name", "x", "--from", packed, "--out", packed]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("is the input binary");
    expect(readFileSync(packed).equals(before)).toBe(true);
  }, 60_000);

  test("malformed migrations fail with file:line and exit 1, like the build; nothing is written", () => {
    const dir = migrationsDir({
      "20240101000000_ok.sql": "-- migrate:up\ncreate table a (id int);\n-- migrate:down\ndrop table a;\n",
      "20240102000000_bad.sql": "-- migrate:up\ncreate table b (id int);\n-- migrate:down\ndrop table b;\n-- migrate:up\nselect 1;\n",
    });
    const r = pgship(["pack", "--migrations-dir", dir, "--name", "x", "--out", out()]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/migrations\/20240102000000_bad\.sql:5: /);
    expect(noStackTrace(r.stderr)).toBe(true);
    expect(existsSync(out())).toBe(false);
    const b = spawnSync(BUN, ["scripts/build.ts", "--migrations-dir", dir, "--outfile", out()], { cwd: ROOT, encoding: "utf8" });
    expect(b.status).toBe(1);
    expect(b.stderr).toMatch(/migrations\/20240102000000_bad\.sql:5: /);
    // The same problem lines, in the same words.
    const lines = (t: string) => t.split("\n").filter((l) => /_bad\.sql:\d+:/.test(l)).map((l) => l.replace(/^.*?migrations\//, "").trim());
    expect(lines(r.stderr)).toEqual(lines(b.stderr));
  }, 60_000);

  test("bad brand flags and a missing migrations directory are usage errors (exit 2)", () => {
    expect(pgship(["pack", ...FIXTURE, "--name", "../x", "--out", out()]).code).toBe(2);
    expect(pgship(["pack", ...FIXTURE, "--name", "x", "--tracking-schema", "Bad-Schema", "--out", out()]).code).toBe(2);
    expect(pgship(["pack", ...FIXTURE, "--out", out()]).code).toBe(2);
    const missing = pgship(["pack", "--migrations-dir", join(work, "nowhere"), "--name", "x", "--out", out()]);
    expect({ code: missing.code, stderr: missing.stderr }).toMatchObject({ code: 2, stderr: expect.stringContaining("nowhere does not exist") });
  }, 60_000);
});

describe("binaries for other platforms", () => {
  /** The packed binaries, by Bun target. */
  const packedFor = new Map<string, string>();
  // Bun downloads the runtime for each target from the npm registry (once, then cached).
  test("linux arm64 (glibc), x64 musl, darwin arm64 and windows x64: packed, then read back with pack --inspect", () => {
    for (const [target, platform] of [["bun-linux-arm64", "linux-arm64-glibc"], ["bun-linux-x64-musl", "linux-x64-musl"], ["bun-darwin-arm64", "darwin-arm64"], ["bun-windows-x64", "windows-x64"]] as const) {
      const outfile = join(work, "cross", target);
      const b = spawnSync(BUN, ["scripts/build.ts", "--target", target, "--outfile", outfile], { cwd: ROOT, encoding: "utf8" });
      const base = target.includes("windows") ? `${outfile}.exe` : outfile;
      expect({ target, code: b.status, stderr: b.stderr }).toMatchObject({ target, code: 0 });
      const out = join(work, "cross", `${target}-notes-db`);
      const r = pgship(["pack", ...FIXTURE, ...BRAND, "--from", base, "--out", out, "--json"]);
      expect({ target, code: r.code, stderr: r.stderr }).toMatchObject({ target, code: 0 });
      const o = packJson(r.stdout);
      expect(o).toMatchObject({ platform, migrations: 3, replaced: false, resign: platform.startsWith("darwin") ? expect.stringContaining("codesign -s -") : null });
      if (platform.startsWith("darwin")) expect(spawnSync(ensureBinary(), ["pack", ...FIXTURE, ...BRAND, "--from", base, "--out", `${out}2`], { encoding: "utf8" }).stdout).toContain("rcodesign sign");
      const i = pgship(["pack", "--inspect", out, "--json"]);
      expect({ target, code: i.code }).toEqual({ target, code: 0 });
      expect(packJson(i.stdout)).toEqual({
        ok: true,
        file: expect.any(String),
        platform,
        packed: { brand: { name: "notes-db", displayName: "Notes", trackingSchema: "notes_db", version: "2.1.0" }, migrations: 3, head: "20240402080000", snapshot: "20240402080000", models: true },
      });
      packedFor.set(target, out);
      // ELF: the binary proper is kept as it was, the payload after it.
      const [bin, packedBin] = [readFileSync(base), readFileSync(out)];
      if (!platform.startsWith("darwin")) expect(packedBin.subarray(0, bin.length).equals(bin)).toBe(true);
    }
    // The unpacked release carries nothing.
    expect(packJson(pgship(["pack", "--inspect", ensureBinary(), "--json"]).stdout)).toMatchObject({ platform: "linux-x64-glibc", packed: null });
  }, 300_000);

  // Emulated: qemu-user with the arm64 C library (Debian: qemu-user libc6-arm64-cross).
  testWith(["qemu-aarch64"], "the packed linux arm64 binary runs (under qemu-user) and answers like the packed x64 one", () => {
    const sysroot = "/usr/aarch64-linux-gnu";
    expect({ arm64libc: existsSync(join(sysroot, "lib", "ld-linux-aarch64.so.1")), hint: "apt-get install libc6-arm64-cross" }).toEqual({ arm64libc: true, hint: expect.any(String) });
    const out = packedFor.get("bun-linux-arm64");
    expect(out).toBeDefined();
    const arm = (args: string[]) => spawnSync(Bun.which("qemu-aarch64")!, ["-L", sysroot, out!, ...args], { cwd: work, env: cleanEnv(), encoding: "utf8", timeout: 120_000 });
    expect(arm(["--version"]).stdout).toBe("notes-db 2.1.0\n");
    const status = arm(["status", "--json"]);
    expect({ code: status.status, stderr: status.stderr }).toEqual({ code: 0, stderr: "" });
    expect(status.stdout).toBe(run(packed, ["status", "--json"]).stdout);
  }, 240_000);
});
