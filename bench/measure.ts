// Measuring one child process: wall time around spawn..exit, and its peak RSS.
//
// Peak RSS cannot come from the rusage Bun gets when it reaps the child: Linux
// folds the pre-exec memory of the forking process (here Bun, ~50 MiB) into the
// child's ru_maxrss. GNU time forks from a tiny process, so its %M is the tool's
// own peak; it adds the same ~1 ms of fork/exec to every tool's wall time.
// Without GNU time (Debian: apt-get install time) VmHWM is polled from /proc,
// which can miss a peak in the last few milliseconds of a run.

import { existsSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";

export interface Command {
  argv: string[];
  /** The child's whole environment: nothing leaks in from the caller's PG* or DATABASE_URL. */
  env: Record<string, string>;
  cwd: string;
}

export interface Sample {
  ms: number;
  rssMiB: number;
}

const GNU_TIME = ["/usr/bin/time", "/bin/time"].find((p) => {
  if (!existsSync(p)) return false;
  const r = Bun.spawnSync([p, "-f", "%M", "true"], { stdout: "ignore", stderr: "pipe" });
  return r.exitCode === 0 && /^\d+\s*$/.test(r.stderr.toString());
});

export const rssMethod = GNU_TIME ? "GNU time %M" : "VmHWM polled from /proc every 5 ms (may miss a late peak)";

let runCounter = 0;

export async function runTimed(cmd: Command): Promise<Sample & { stdout: string; stderr: string }> {
  const rssFile = join(tmpdir(), `pgship-bench-rss-${process.pid}-${++runCounter}`);
  const argv = GNU_TIME ? [GNU_TIME, "-o", rssFile, "-f", "%M", ...cmd.argv] : cmd.argv;
  const t0 = performance.now();
  const child = Bun.spawn(argv, { cwd: cmd.cwd, env: cmd.env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const poller = GNU_TIME ? null : pollHwm(child.pid);
  // Drain both pipes while waiting, or a chatty child blocks on a full pipe.
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  const ms = performance.now() - t0;
  const kib = GNU_TIME ? readRss(rssFile) : poller!.stop();
  if (code !== 0) throw new Error(`${basename(cmd.argv[0]!)} ${cmd.argv.slice(1).join(" ")} exited with ${code}:\n${stderr || stdout}`);
  return { ms, rssMiB: kib / 1024, stdout, stderr };
}

/** GNU time's -o file: the last line is %M in KiB (a failing child adds a status line before it). */
function readRss(file: string): number {
  try {
    return Number(readFileSync(file, "utf8").trim().split("\n").at(-1));
  } catch {
    return Number.NaN;
  } finally {
    rmSync(file, { force: true });
  }
}

function pollHwm(pid: number): { stop(): number } {
  let peak = 0;
  const read = () => {
    try {
      const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      if (m) peak = Math.max(peak, Number(m[1]));
    } catch {
      // Already exited.
    }
  };
  read();
  const timer = setInterval(read, 5);
  return {
    stop() {
      clearInterval(timer);
      return peak || Number.NaN;
    },
  };
}

/** Runs a command that is part of the setup, not the measurement; fails loudly. */
export function runSetup(cmd: Command): string {
  const r = Bun.spawnSync(cmd.argv, { cwd: cmd.cwd, env: cmd.env, stdout: "pipe", stderr: "pipe" });
  const out = r.stdout.toString();
  if (r.exitCode !== 0) throw new Error(`${basename(cmd.argv[0]!)} ${cmd.argv.slice(1).join(" ")} exited with ${r.exitCode}:\n${r.stderr.toString() || out}`);
  return out;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export const min = (xs: number[]) => Math.min(...xs);
export const max = (xs: number[]) => Math.max(...xs);
