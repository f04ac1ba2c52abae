// Child processes: a pure description ({ command, args, env }) and one runner.
// Secrets travel in `env`, never in `args` (argv is world-readable in /proc).

import { spawn } from "node:child_process";
import { PgshipError } from "../core/errors.ts";

export interface ProcSpec {
  command: string;
  args: string[];
  /** Added to the inherited environment. */
  env?: Record<string, string>;
}

export interface ProcResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runProc(spec: ProcSpec, opts: { input?: string; timeoutMs?: number } = {}): Promise<ProcResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(spec.command, spec.args, {
      env: { ...process.env, ...spec.env },
      stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on("data", (d: Buffer) => out.push(d));
    child.stderr!.on("data", (d: Buffer) => err.push(d));
    const timer = opts.timeoutMs ? setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs) : null;
    child.on("error", (e: NodeJS.ErrnoException) => {
      if (timer) clearTimeout(timer);
      reject(
        e.code === "ENOENT"
          ? new PgshipError("tool_missing", `${spec.command} was not found`, { cause: e })
          : new PgshipError("tool_failed", `could not run ${spec.command}: ${e.message}`, { cause: e }),
      );
    });
    child.on("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}
