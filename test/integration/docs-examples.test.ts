// Every `pgship init` and `pgship pack` example in README.md and docs/install.md runs
// as written (through sh, with the compiled binary as `pgship` on PATH) in an app
// directory like the one the README describes; each packed binary answers --version
// with the name and version the example gives it.

import { afterAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cleanEnv, ensureBinary, noStackTrace, ROOT } from "../harness/env.ts";

const work = mkdtempSync(join(tmpdir(), "docs-examples-"));
// Packed binaries are as big as the released one.
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The `pgship init` / `pgship pack` lines of a Markdown file's sh blocks, continuations joined, comments cut. */
function examples(file: string): string[] {
  const text = readFileSync(join(ROOT, file), "utf8");
  const out: string[] = [];
  for (const block of text.matchAll(/^```sh\n([\s\S]*?)^```/gm)) {
    for (const line of block[1]!.replace(/\\\n\s*/g, "").split("\n")) {
      const command = line.replace(/\s+#.*$/, "").trim();
      if (/^pgship (init|pack)\b/.test(command)) out.push(command);
    }
  }
  return out;
}

test("the README's and docs/install.md's init and pack examples run as written", () => {
  const all = [...examples("README.md"), ...examples("docs/install.md")];
  const inits = all.filter((c) => c.startsWith("pgship init"));
  const packs = all.filter((c) => c.startsWith("pgship pack"));
  // The README's four commands hold a bare `pgship pack`; the reference has full-flag ones and --inspect.
  expect(inits.length).toBeGreaterThanOrEqual(1);
  expect(packs).toContain("pgship pack");
  expect(packs.filter((c) => c.includes("--from")).length).toBeGreaterThanOrEqual(2);
  expect(packs.some((c) => c.includes("--inspect"))).toBe(true);

  const bin = join(work, "bin");
  mkdirSync(bin);
  symlinkSync(ensureBinary(), join(bin, "pgship"));
  const env = cleanEnv({ PATH: `${bin}:${process.env.PATH}` });
  const sh = (command: string, cwd: string) => {
    const r = spawnSync("sh", ["-c", command], { cwd, env, encoding: "utf8", timeout: 120_000 });
    expect({ command, code: r.status, stackTrace: !noStackTrace(r.stderr) }).toEqual({ command, code: 0, stackTrace: false });
    return r;
  };
  /** The app's repository the README talks about: its directory gives the default name myapp-db. */
  const fresh = () => {
    const app = join(mkdtempSync(join(work, "app-")), "myapp");
    mkdirSync(app);
    writeFileSync(join(app, "app.py"), "print('myapp')\n");
    for (const args of [["init", "-q"], ["remote", "add", "origin", "https://github.com/acme/myapp.git"]]) expect(spawnSync("git", args, { cwd: app }).status).toBe(0);
    return app;
  };

  let app = "";
  for (const command of inits) {
    app = fresh();
    sh(command, app);
    expect(JSON.parse(readFileSync(join(app, "pgship.json"), "utf8"))).toMatchObject({ name: "myapp-db", releaseRepository: "acme/myapp" });
  }
  // The first migration, written as init asks.
  const [first] = readdirSync(join(app, "db/migrations"));
  writeFileSync(join(app, "db/migrations", first!), "-- migrate:up\ncreate table accounts (id bigint primary key);\n\n-- migrate:down\ndrop table accounts;\n");
  const head = first!.slice(0, 14);

  for (const command of packs) {
    // A released build named as the example names it.
    const from = /--from (\S+)/.exec(command)?.[1];
    if (from && !existsSync(join(app, from))) symlinkSync(ensureBinary(), join(app, from));
    const r = sh(command, app);
    if (command.includes("--inspect")) {
      expect(r.stdout).toContain(`brand: myapp-db`);
      continue;
    }
    const out = /--out (\S+)/.exec(command)?.[1] ?? "dist/myapp-db";
    const name = /--name (\S+)/.exec(command)?.[1] ?? "myapp-db";
    const version = /--version (\S+)/.exec(command)?.[1] ?? head;
    expect({ command, version: spawnSync(join(app, out), ["--version"], { encoding: "utf8" }).stdout }).toEqual({ command, version: `${name} ${version}\n` });
  }
}, 180_000);
