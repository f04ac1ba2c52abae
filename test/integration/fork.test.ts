// What an app that forks this repository does: replace migrations/ with its own,
// delete the sample schema.sql, rebrand package.json, build, and run the tests.
// The suite runs against its own app (test/fixtures/app), so it stays green.

import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { BUN, cleanEnv, ROOT, tempDir } from "../harness/env.ts";

/** A representative subset: up, status and update; backup and restore; pgship.json and init. */
const SUBSET = ["test/integration/install-update.test.ts", "test/backup/roundtrip.test.ts", "test/integration/init.test.ts"];

test("a fork with its own migrations, no schema.sql and another brand builds, and the tests pass in it", () => {
  const fork = join(tempDir(), "myapp");
  try {
    forkAndTest(fork);
  } finally {
    rmSync(dirname(fork), { recursive: true, force: true });
  }
}, 1_800_000);

function forkAndTest(fork: string): void {
  // The repository's files as they are in the working tree (committed or not, ignored files left out).
  const listed = spawnSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "-z"], { cwd: ROOT, encoding: "utf8" });
  expect(listed.status).toBe(0);
  const files = listed.stdout.split("\0").filter((f) => f && existsSync(join(ROOT, f)) && statSync(join(ROOT, f)).isFile());
  expect(files).toContain("package.json");
  for (const f of files) {
    mkdirSync(dirname(join(fork, f)), { recursive: true });
    cpSync(join(ROOT, f), join(fork, f));
  }
  symlinkSync(join(ROOT, "node_modules"), join(fork, "node_modules"));

  // The app's own migrations; the sample snapshot and model go.
  rmSync(join(fork, "migrations"), { recursive: true });
  mkdirSync(join(fork, "migrations"));
  writeFileSync(join(fork, "migrations", "20310101000000_create_widgets.sql"), "-- migrate:up\ncreate table widgets (id bigint primary key, name text not null);\n\n-- migrate:down\ndrop table widgets;\n");
  writeFileSync(join(fork, "migrations", "20310102000000_add_widget_color.sql"), "-- migrate:up\nalter table widgets add column color text;\n\n-- migrate:down\nalter table widgets drop column color;\n");
  for (const f of ["schema.sql", "schema.model.json"]) rmSync(join(fork, f));
  const pkg = JSON.parse(readFileSync(join(fork, "package.json"), "utf8"));
  pkg.pgship = { ...pkg.pgship, binaryName: "myapp-db", displayName: "MyApp", trackingSchema: "myapp_db", releaseRepository: "acme/myapp" };
  writeFileSync(join(fork, "package.json"), JSON.stringify(pkg, null, 2));

  const env = cleanEnv();
  delete env.PGSHIP_BIN;
  const build = spawnSync(BUN, ["run", "build"], { cwd: fork, env, encoding: "utf8", timeout: 300_000 });
  expect({ status: build.status, stderr: build.stderr }).toMatchObject({ status: 0 });
  expect(build.stdout).toContain("built dist/myapp-db with 2 migrations (head 20310102000000, snapshot none)");
  expect(spawnSync(join(fork, "dist", "myapp-db"), ["--version"], { encoding: "utf8" }).stdout).toStartWith("myapp-db ");

  const run = spawnSync(BUN, ["test", "--timeout", "60000", ...SUBSET], { cwd: fork, env, encoding: "utf8", timeout: 1_500_000 });
  const out = `${run.stdout}\n${run.stderr}`;
  const passed = Number(/^\s*(\d+) pass$/m.exec(out)?.[1] ?? 0);
  const failed = Number(/^\s*(\d+) fail$/m.exec(out)?.[1] ?? -1);
  expect({ failed, status: run.status, failures: out.split("\n").filter((l) => l.startsWith("(fail)")) }).toEqual({ failed: 0, status: 0, failures: [] });
  expect(passed).toBeGreaterThan(15);
  // The suite ran against its own app, built into the copy.
  expect(existsSync(join(fork, "dist", "test", "pgship"))).toBe(true);
}
