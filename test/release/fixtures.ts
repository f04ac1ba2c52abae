// Shared by the install.sh and workflow tests: a loopback "GitHub releases"
// server with fake assets, PATH directories with real tools left out or faked,
// and a runner for install.sh under a chosen shell with a clean environment.

import { createHash } from "node:crypto";
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { gzipSync } from "node:zlib";
import { join, resolve } from "node:path";
import pkg from "../../package.json" with { type: "json" };

export const ROOT = resolve(import.meta.dir, "../..");
export const INSTALL_SH = join(ROOT, "install.sh");
export const BINARY = pkg.pgship.binaryName;

/** Every build a release carries, as "<os>-<arch>[-musl][-baseline]". */
export const PLATFORMS = [
  "linux-x64",
  "linux-x64-baseline",
  "linux-x64-musl",
  "linux-x64-musl-baseline",
  "linux-arm64",
  "linux-arm64-musl",
  "darwin-x64",
  "darwin-arm64",
] as const;

export const sha256 = (data: string | Uint8Array) => createHash("sha256").update(data).digest("hex");

const created: string[] = [];

export function tempDir(prefix = "pgship-release-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  created.push(dir);
  return dir;
}

/** Removes every directory tempDir made (call from afterAll). */
export function removeTempDirs(): void {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
  toolDirs.clear();
}

/** A fake release binary: a shell script that prints its version and asset name. */
export function fakeBinary(version: string, asset: string): string {
  return [
    "#!/bin/sh",
    `if [ "$1" = --version ]; then echo "${asset.replace(/-(linux|darwin)-.*$/, "")} ${version} (${asset})"; exit 0; fi`,
    'if [ -t 0 ]; then echo "wizard: stdin is a terminal"; else echo "wizard: stdin is not a terminal"; fi',
    "",
  ].join("\n");
}

export type Asset = string | Uint8Array;

export const gzip = (data: Asset): Uint8Array => gzipSync(data, { level: 9 });

/** xz -6 of data, with the real xz (the release workflow uses it too). */
export function xz(data: Asset): Uint8Array {
  const r = spawnSync("xz", ["-6", "-c"], { input: data });
  if (r.status !== 0) throw new Error(`xz failed: ${r.stderr}`);
  return new Uint8Array(r.stdout);
}

export interface FakeRelease {
  /** asset name -> content; a name mapped to null is listed in SHA256SUMS but not served. */
  files: Record<string, Asset | null>;
  /** SHA256SUMS text; default: computed from files. */
  sums?: string;
  /** Served instead of the listed content (to fake a tampered download). */
  served?: Record<string, Asset>;
  /** Assets whose download stalls after the first bytes (to test interruption). */
  stall?: string[];
}

/**
 * A release as the workflow publishes it: every build raw, .gz and .xz (with
 * `compressed: false`, raw only, like releases made before compression).
 */
export function makeRelease(version: string, opts: { binary?: string; platforms?: readonly string[]; omit?: string[]; compressed?: boolean } = {}): FakeRelease {
  const name = opts.binary ?? BINARY;
  const files: Record<string, Asset | null> = {};
  for (const p of opts.platforms ?? PLATFORMS) {
    const asset = `${name}-${p}`;
    if (opts.omit?.includes(p)) continue;
    const bin = fakeBinary(version, asset);
    files[asset] = bin;
    if (opts.compressed !== false) {
      files[`${asset}.gz`] = gzip(bin);
      files[`${asset}.xz`] = xz(bin);
    }
  }
  files["install.sh"] = readFileSync(INSTALL_SH, "utf8");
  return { files };
}

export function sumsOf(files: Record<string, Asset | null>, listed: string[] = Object.keys(files)): string {
  return listed.map((n) => `${sha256(files[n] ?? `missing ${n}`)}  ${n}\n`).join("");
}

export interface ReleaseServer {
  url: string;
  /** Paths requested so far. */
  requests: string[];
  releases: Map<string, FakeRelease>;
  stop(): void;
}

/**
 * Serves releases like GitHub does: /releases/download/<tag>/<asset>,
 * /releases/latest/download/<asset> (the tag in `latest`), and /mirror/<tag>/<asset>
 * for PGSHIP_BASE_URL. Anything else is a 404.
 */
export function startReleaseServer(releases: Map<string, FakeRelease>, latest: string): ReleaseServer {
  const requests: string[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const path = new URL(req.url).pathname;
      requests.push(path);
      const m = path.match(/^\/releases\/(?:download\/([^/]+)|(latest)\/download)\/([^/]+)$/) ?? path.match(/^\/mirror\/([^/]+)\/()([^/]+)$/);
      if (!m) return new Response("Not Found", { status: 404 });
      const tag = m[2] === "latest" ? latest : m[1]!;
      const name = m[3]!;
      const rel = releases.get(tag);
      if (!rel) return new Response("Not Found", { status: 404 });
      if (name === "SHA256SUMS") return new Response(rel.sums ?? sumsOf(rel.files));
      if (rel.stall?.includes(name)) {
        return new Response(
          new ReadableStream({
            start(controller) {
              controller.enqueue(new TextEncoder().encode("#!/bin/sh\n# partial"));
            },
          }),
          { headers: { "content-length": "100000000" } },
        );
      }
      const body = rel.served?.[name] ?? rel.files[name];
      if (body == null) return new Response("Not Found", { status: 404 });
      return new Response(body);
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, requests, releases, stop: () => server.stop(true) };
}

/** A shell to run install.sh with: argv prefix, e.g. ["/usr/bin/dash"]. */
export interface Shell {
  name: string;
  argv: string[];
}

export function availableShells(): Shell[] {
  const candidates: Shell[] = [
    { name: "dash", argv: ["dash"] },
    { name: "bash --posix", argv: ["bash", "--posix"] },
    { name: "busybox sh", argv: ["busybox", "sh"] },
    { name: "yash --posix", argv: ["yash", "--posix"] },
  ];
  const out: Shell[] = [];
  for (const c of candidates) {
    const path = Bun.which(c.argv[0]!);
    if (path) out.push({ name: c.name, argv: [path, ...c.argv.slice(1)] });
  }
  return out;
}

const SYSTEM_PATH = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

export const fakes = {
  uname: (s: string, m: string) => `#!/bin/sh\ncase "$1" in -m) echo '${m}' ;; *) echo '${s}' ;; esac\n`,
  lddMusl: `#!/bin/sh\necho 'musl libc (x86_64)' >&2\necho 'Version 1.2.4' >&2\nexit 1\n`,
  lddGlibc: `#!/bin/sh\necho 'ldd (GNU libc) 2.36'\n`,
  id: (uid: number) => `#!/bin/sh\nif [ "$1" = -u ]; then echo ${uid}; else echo 'uid=${uid}'; fi\n`,
  sysctlRosetta: `#!/bin/sh\n[ "$2" = sysctl.proc_translated ] && echo 1\nexit 0\n`,
  getconf32: `#!/bin/sh\necho 32\n`,
};

/**
 * A directory to use as the whole PATH: links to every program on the system
 * PATH except `exclude`, plus `fakes` (name -> script). With `busybox`, the
 * programs are busybox's applets only (an Alpine-like userland).
 */
const toolDirs = new Map<string, string>();

export function toolDir(opts: { exclude?: string[]; fakes?: Record<string, string>; busybox?: boolean } = {}): string {
  const key = JSON.stringify([opts.busybox ?? false, [...(opts.exclude ?? [])].sort(), Object.entries(opts.fakes ?? {}).sort()]);
  const cached = toolDirs.get(key);
  if (cached && existsSync(cached)) return cached;
  const dir = tempDir("pgship-path-");
  toolDirs.set(key, dir);
  const skip = new Set([...(opts.exclude ?? []), ...Object.keys(opts.fakes ?? {})]);
  if (opts.busybox) {
    const bb = Bun.which("busybox");
    if (!bb) throw new Error("busybox is not installed");
    const applets = Bun.spawnSync([bb, "--list"]).stdout.toString().split("\n").filter(Boolean);
    for (const a of applets) if (!skip.has(a)) symlinkSync(bb, join(dir, a));
  } else {
    const seen = new Set<string>();
    for (const d of SYSTEM_PATH) {
      if (!existsSync(d)) continue;
      for (const name of readdirSync(d)) {
        if (seen.has(name) || skip.has(name)) continue;
        seen.add(name);
        symlinkSync(join(d, name), join(dir, name));
      }
    }
  }
  for (const [name, script] of Object.entries(opts.fakes ?? {})) {
    writeFileSync(join(dir, name), script);
    chmodSync(join(dir, name), 0o755);
  }
  return dir;
}

/** A fake filesystem root for the installer's CPU and libc probes (PGSHIP_SYSROOT). */
export function sysroot(opts: { avx2?: boolean; cpuinfo?: boolean; muslLoader?: string } = {}): string {
  const dir = tempDir("pgship-sysroot-");
  if (opts.cpuinfo !== false) {
    mkdirSync(join(dir, "proc"));
    const flags = ["fpu", "vme", "sse", "sse2", "ssse3", "sse4_1", "sse4_2", "avx", ...(opts.avx2 === false ? [] : ["avx2", "bmi2"])];
    writeFileSync(join(dir, "proc", "cpuinfo"), `processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: ${flags.join(" ")}\n\n`);
  }
  if (opts.muslLoader) {
    mkdirSync(join(dir, "lib"));
    writeFileSync(join(dir, "lib", opts.muslLoader), "");
  }
  return dir;
}

export interface InstallRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs install.sh with exactly the given environment (plus defaults for PATH and
 * HOME), never the developer's, so no PGSHIP_* variable leaks in.
 */
export async function runInstall(
  shell: Shell,
  args: string[],
  env: Record<string, string>,
  /** script: the installer to run (default install.sh; "" runs the shell argv alone). */
  opts: { script?: string; timeoutMs?: number; wrap?: string[] } = {},
): Promise<InstallRun> {
  const fullEnv: Record<string, string> = { PATH: SYSTEM_PATH.join(":"), LC_ALL: "C", ...env };
  const script = opts.script === "" ? [] : [opts.script ?? INSTALL_SH];
  const proc = Bun.spawn([...(opts.wrap ?? []), ...shell.argv, ...script, ...args], {
    env: fullEnv,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), opts.timeoutMs ?? 30_000);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** Parses --dry-run's key=value lines. */
export function parseDryRun(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of stdout.split("\n")) {
    const i = line.indexOf("=");
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/** Machines to detect: fake uname/ldd/sysctl and CPU flags, and the build each should get. */
export interface MachineCase {
  name: string;
  uname: [string, string];
  musl?: "ldd" | "loader";
  avx2?: boolean;
  cpuinfo?: boolean;
  rosetta?: boolean;
  expect: string;
}

export const MACHINES: MachineCase[] = [
  { name: "Linux x86_64 glibc with AVX2", uname: ["Linux", "x86_64"], avx2: true, expect: "linux-x64" },
  { name: "Linux x86_64 glibc without AVX2", uname: ["Linux", "x86_64"], avx2: false, expect: "linux-x64-baseline" },
  { name: "Linux x86_64, CPU flags unreadable", uname: ["Linux", "x86_64"], cpuinfo: false, expect: "linux-x64-baseline" },
  { name: "Linux x86_64 musl (ldd) with AVX2", uname: ["Linux", "x86_64"], musl: "ldd", avx2: true, expect: "linux-x64-musl" },
  { name: "Linux x86_64 musl (loader) with AVX2", uname: ["Linux", "x86_64"], musl: "loader", avx2: true, expect: "linux-x64-musl" },
  { name: "Linux x86_64 musl without AVX2", uname: ["Linux", "x86_64"], musl: "ldd", avx2: false, expect: "linux-x64-musl-baseline" },
  { name: "Linux aarch64 glibc", uname: ["Linux", "aarch64"], expect: "linux-arm64" },
  { name: "Linux arm64 glibc", uname: ["Linux", "arm64"], avx2: false, expect: "linux-arm64" },
  { name: "Linux aarch64 musl", uname: ["Linux", "aarch64"], musl: "ldd", expect: "linux-arm64-musl" },
  { name: "macOS Intel", uname: ["Darwin", "x86_64"], expect: "darwin-x64" },
  { name: "macOS Apple silicon", uname: ["Darwin", "arm64"], expect: "darwin-arm64" },
  { name: "macOS Apple silicon, shell under Rosetta", uname: ["Darwin", "x86_64"], rosetta: true, expect: "darwin-arm64" },
];

/** PATH dir and PGSHIP_SYSROOT for a machine case. */
export function machineEnv(m: MachineCase, extraFakes: Record<string, string> = {}): { PATH: string; PGSHIP_SYSROOT: string } {
  const f: Record<string, string> = { uname: fakes.uname(...m.uname), ldd: m.musl === "ldd" ? fakes.lddMusl : fakes.lddGlibc, ...extraFakes };
  if (m.rosetta) f.sysctl = fakes.sysctlRosetta;
  return {
    PATH: toolDir({ fakes: f }),
    PGSHIP_SYSROOT: sysroot({ avx2: m.avx2 ?? true, cpuinfo: m.cpuinfo, muslLoader: m.musl === "loader" ? "ld-musl-x86_64.so.1" : undefined }),
  };
}

/** Lists a directory tree's entries (relative paths), for "nothing was left behind" checks. */
export function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      out.push(rel + e);
      if (lstatSync(p).isDirectory()) walk(p, `${rel}${e}/`);
    }
  };
  if (existsSync(dir)) walk(dir, "");
  return out.sort();
}
