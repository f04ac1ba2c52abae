// The one place that knows which runtime runs pgship (the compiled Bun binary,
// `bun src/main.ts`, or `deno run -A src/main.ts`). Everything here uses node:
// APIs that Bun and Deno both provide; keep runtime-specific calls in this file.

import { writeSync } from "node:fs";
import process from "node:process";

export const argv = (): string[] => process.argv.slice(2);
export const env = (): Record<string, string | undefined> => process.env;
export const cwd = (): string => process.cwd();
export const pid = (): number => process.pid;
export const platform = (): string => `${process.platform}-${process.arch}`;

export const stdinIsTTY = (): boolean => Boolean(process.stdin.isTTY);
export const stderrIsTTY = (): boolean => Boolean(process.stderr.isTTY);
export const stdoutIsTTY = (): boolean => Boolean(process.stdout.isTTY);
/** The terminal's width for help text; 80 when stdout is not a terminal. */
export const stdoutColumns = (): number => (process.stdout.isTTY && process.stdout.columns >= 40 ? process.stdout.columns : 80);

/**
 * Output goes straight to the file descriptor while it can: Bun builds process.stdout and
 * process.stderr (streams) on first use, which costs a short command several milliseconds
 * and a few MiB. A write that fails (a pipe that would block, a closed reader) hands the
 * rest, and everything after it, to the streams, as does usingStreams().
 */
let streams = false;
/** Something writes through process.stdout / process.stderr themselves (prompts, the wizard): keep to them, and drain them at exit. */
export function usingStreams(): void {
  streams = true;
}
function write(fd: 1 | 2, text: string): void {
  const stream = () => (fd === 1 ? process.stdout : process.stderr);
  if (streams) {
    stream().write(text);
    return;
  }
  const bytes = Buffer.from(text, "utf8");
  let done = 0;
  try {
    while (done < bytes.length) done += writeSync(fd, bytes, done);
  } catch {
    streams = true;
    stream().write(bytes.subarray(done));
  }
}
export function writeStdout(text: string): void {
  write(1, text);
}
export function writeStderr(text: string): void {
  write(2, text);
}

/** Exit once stdout and stderr have drained (pipes would otherwise truncate). */
export async function exit(code: number): Promise<never> {
  if (profile) {
    mark("exit");
    writeStderr(`profile ${JSON.stringify(profile)}\n`);
  }
  if (streams) await Promise.all(
    [process.stdout, process.stderr].map(
      (s) => new Promise<void>((resolve) => (s.writableLength > 0 ? s.write("", () => resolve()) : resolve())),
    ),
  );
  process.exit(code);
}

export function onSignal(signal: "SIGINT" | "SIGTERM", handler: () => void): void {
  process.on(signal, handler);
}

export const runtimeName = (): string =>
  "Deno" in globalThis ? `deno ${(globalThis as { Deno?: { version: { deno: string } } }).Deno!.version.deno}` : `bun ${process.versions.bun ?? "?"}`;

/**
 * One line of input from the terminal (stdin must be a TTY; callers check first).
 * Ctrl-C at the prompt is the same as SIGINT; `signal` closes the prompt (the
 * answer is then never settled: the caller races it against the signal).
 */
export async function ask(question: string, signal?: AbortSignal): Promise<string> {
  usingStreams();
  const { createInterface } = await import("node:readline");
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  rl.on("SIGINT", () => process.emit("SIGINT"));
  const close = () => rl.close();
  signal?.addEventListener("abort", close, { once: true });
  try {
    return await new Promise<string>((resolve) => rl.question(question, resolve));
  } finally {
    signal?.removeEventListener("abort", close);
    rl.close();
  }
}

/**
 * A write past the file size limit (ulimit -f) should fail with EFBIG, not
 * kill the process with SIGXFSZ before it can clean up. Bun already ignores
 * the signal; Deno needs a handler.
 */
let fileSizeSignalIgnored = false;
export function ignoreFileSizeSignal(): void {
  if (fileSizeSignalIgnored) return;
  fileSizeSignalIgnored = true;
  try {
    process.on("SIGXFSZ" as NodeJS.Signals, () => undefined);
  } catch {
    // Runtimes that cannot listen for SIGXFSZ (Windows) have no file size signal either.
  }
}

/** An incremental SHA-256 (update with text as UTF-8 or bytes, then a hex digest). */
export interface Sha256 {
  update(data: string | Uint8Array): unknown;
  digest(encoding: "hex"): string;
}
/**
 * Bun's native SHA-256, or null on runtimes without one (the caller uses node:crypto's):
 * Bun's node:crypto Hash is a stream object, several times slower on a migration history.
 */
export function nativeSha256(): Sha256 | null {
  const bun = (globalThis as { Bun?: { CryptoHasher: new (algorithm: string) => Sha256 } }).Bun;
  return bun ? new bun.CryptoHasher("sha256") : null;
}

/** Where interactive prompts draw, so stdout stays for results. */
export const promptOutput = (): NodeJS.WritableStream => (usingStreams(), process.stderr);

/**
 * sha256 of some bytes. Bun's native hasher, not node:crypto: loading that module
 * costs milliseconds, and a packed binary hashes its index at every start.
 */
export function sha256(bytes: Uint8Array): Buffer {
  const bun = (globalThis as { Bun?: { CryptoHasher: new (alg: string) => { update(b: Uint8Array): { digest(): Uint8Array } } } }).Bun;
  if (bun) return Buffer.from(new bun.CryptoHasher("sha256").update(bytes).digest());
  const crypto = (process as unknown as { getBuiltinModule(id: string): typeof import("node:crypto") }).getBuiltinModule("node:crypto");
  return crypto.createHash("sha256").update(bytes).digest();
}

/** The running executable: the compiled binary itself, or the runtime (bun, deno) running the sources. */
export const execPath = (): string => process.execPath;

/**
 * PGSHIP_PROFILE=1: where a command's milliseconds went. Each mark is the time since the
 * process started; at exit they go to stderr as one line, `profile {"runtime":12.3,...}`
 * (bench/startup.ts reads it). Off, a mark costs one check.
 */
const profile: Record<string, number> | null = process.env.PGSHIP_PROFILE ? {} : null;
export function mark(name: string): void {
  if (profile && !(name in profile)) profile[name] = Math.round(performance.now() * 100) / 100;
}

/**
 * Collects garbage now (Bun; a no-op elsewhere). Streaming code calls it every
 * few MiB: the chunks already passed on are garbage, and left to the
 * collector's own pace they pile up to tens of MiB of resident memory.
 */
export function collectGarbage(): void {
  (globalThis as { Bun?: { gc(sync: boolean): void } }).Bun?.gc(true);
}
