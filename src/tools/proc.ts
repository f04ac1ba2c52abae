// Child processes: a pure description ({ command, args, env }) and one runner.
// Secrets travel in `env`, never in `args` (argv is world-readable in /proc).

import { spawn, type ChildProcess } from "node:child_process";
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

/** SIGTERM, then SIGKILL if it is still there after this long. */
export const KILL_GRACE_MS = 2000;

function stopChild(child: ChildProcess): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }, KILL_GRACE_MS);
  timer.unref?.();
  child.once("close", () => clearTimeout(timer));
}

/** Stops the child when `signal` aborts (the user interrupted); returns the unsubscribe. */
function stopOnAbort(child: ChildProcess, signal: AbortSignal | undefined): () => void {
  if (!signal) return () => undefined;
  const stop = () => stopChild(child);
  if (signal.aborted) stop();
  else signal.addEventListener("abort", stop, { once: true });
  child.once("close", () => signal.removeEventListener("abort", stop));
  return () => signal.removeEventListener("abort", stop);
}

/** The environment children inherit, less the S3 secrets pgship reads (the PostgreSQL tools never need them). */
function inheritedEnv(): NodeJS.ProcessEnv {
  const { AWS_SECRET_ACCESS_KEY: _secret, AWS_SESSION_TOKEN: _token, ...rest } = process.env;
  return rest;
}

export function runProc(spec: ProcSpec, opts: { input?: string; timeoutMs?: number; signal?: AbortSignal } = {}): Promise<ProcResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(spec.command, spec.args, {
      env: { ...inheritedEnv(), ...spec.env },
      stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on("data", (d: Buffer) => out.push(d));
    child.stderr!.on("data", (d: Buffer) => err.push(d));
    const timer = opts.timeoutMs ? setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs) : null;
    stopOnAbort(child, opts.signal);
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

/** How a streamed process ended. */
export interface ProcExit {
  code: number | null;
  signal: string | null;
  /** The end of its stderr (bounded: a chatty tool cannot fill memory). */
  stderr: string;
  /** Set when the process could not be started at all. */
  spawnError?: PgshipError;
}

export interface RunningProc {
  readonly spec: ProcSpec;
  readonly pid: number | undefined;
  /** Writable stdin when started with stdin: "pipe". */
  readonly stdin: NodeJS.WritableStream | null;
  /** Readable stdout when started with stdout: "pipe"; read it as an async iterable. */
  readonly stdout: AsyncIterable<Uint8Array> | null;
  /** Resolves (never rejects) once the process has exited and stderr is drained. */
  readonly exited: Promise<ProcExit>;
  readonly hasExited: boolean;
  kill(signal?: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL after KILL_GRACE_MS if it has not exited. */
  stop(): void;
}

const STDERR_LIMIT = 64 * 1024;

/**
 * Starts a process whose stdout/stdin are streamed by the caller (pg_dump's
 * archive, pg_restore's input), so nothing is buffered whole. Secrets travel
 * in spec.env.
 */
export function startProc(spec: ProcSpec, opts: { stdin?: "pipe" | "ignore"; stdout?: "pipe" | "ignore"; signal?: AbortSignal } = {}): RunningProc {
  const child = spawn(spec.command, spec.args, {
    env: { ...inheritedEnv(), ...spec.env },
    stdio: [opts.stdin ?? "ignore", opts.stdout ?? "ignore", "pipe"],
  });
  stopOnAbort(child, opts.signal);
  let stderr = "";
  let done = false;
  child.stderr!.on("data", (d: Buffer) => {
    stderr += d.toString("utf8");
    if (stderr.length > STDERR_LIMIT * 2) stderr = stderr.slice(-STDERR_LIMIT);
  });
  // A child that exits early makes our writes fail with EPIPE; the exit status says why, not EPIPE.
  child.stdin?.on("error", () => undefined);
  const exited = new Promise<ProcExit>((resolve) => {
    child.on("error", (e: NodeJS.ErrnoException) => {
      done = true;
      resolve({
        code: null,
        signal: null,
        stderr,
        spawnError:
          e.code === "ENOENT"
            ? new PgshipError("tool_missing", `${spec.command} was not found`, { cause: e })
            : new PgshipError("tool_failed", `could not run ${spec.command}: ${e.message}`, { cause: e }),
      });
    });
    child.on("close", (code, signal) => {
      done = true;
      resolve({ code, signal, stderr: stderr.slice(-STDERR_LIMIT) });
    });
  });
  return {
    spec,
    pid: child.pid,
    stdin: child.stdin ?? null,
    stdout: child.stdout ?? null,
    exited,
    get hasExited() {
      return done;
    },
    kill(signal: NodeJS.Signals = "SIGTERM") {
      if (!done) child.kill(signal);
    },
    stop() {
      if (!done) stopChild(child);
    },
  };
}

/** "pg_dump exited with code 1: <its last error lines>", or "was killed by SIGKILL". */
export function describeExit(name: string, e: ProcExit): string {
  if (e.spawnError) return e.spawnError.message;
  const lines = e.stderr
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  const errors = lines.filter((l) => /error|fatal|could not|failed|denied|unsupported/i.test(l));
  const shown = (errors.length ? errors : lines).slice(-3).join("; ");
  const how = e.signal ? `was killed by ${e.signal}` : `exited with code ${e.code}`;
  return `${name} ${how}${shown ? `: ${shown}` : ""}`;
}

/**
 * Writes a chunk to a child's stdin, waiting for the pipe to drain. Resolves
 * false when the child has closed its end (it exited or stopped reading).
 */
export async function writeChunk(child: RunningProc, chunk: Uint8Array): Promise<boolean> {
  const w = child.stdin as (NodeJS.WritableStream & { destroyed?: boolean; writableEnded?: boolean }) | null;
  if (!w || w.destroyed || w.writableEnded || child.hasExited) return false;
  return new Promise<boolean>((resolve) => {
    let settled = false;
    const finish = (ok: boolean) => {
      if (settled) return;
      settled = true;
      w.off("drain", onDrain);
      w.off("error", onError);
      w.off("close", onClose);
      resolve(ok);
    };
    const onDrain = () => finish(true);
    const onError = () => finish(false);
    const onClose = () => finish(false);
    w.on("error", onError);
    w.on("close", onClose);
    if (w.write(chunk)) finish(true);
    else w.on("drain", onDrain);
  });
}

/** Closes a child's stdin (end of input), ignoring a pipe the child already closed. */
export function endInput(child: RunningProc): void {
  try {
    child.stdin?.end();
  } catch {
    // The child already exited and closed its end; its exit status tells why.
  }
}
