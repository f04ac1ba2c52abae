// The one place that knows which runtime runs pgship (the compiled Bun binary,
// `bun src/main.ts`, or `deno run -A src/main.ts`). Everything here uses node:
// APIs that Bun and Deno both provide; keep runtime-specific calls in this file.

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

export function writeStdout(text: string): void {
  process.stdout.write(text);
}
export function writeStderr(text: string): void {
  process.stderr.write(text);
}

/** Exit once stdout and stderr have drained (pipes would otherwise truncate). */
export async function exit(code: number): Promise<never> {
  await Promise.all(
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

/** Where interactive prompts draw, so stdout stays for results. */
export const promptOutput = (): NodeJS.WritableStream => process.stderr;

/** The running executable: the compiled binary itself, or the runtime (bun, deno) running the sources. */
export const execPath = (): string => process.execPath;

/**
 * Collects garbage now (Bun; a no-op elsewhere). Streaming code calls it every
 * few MiB: the chunks already passed on are garbage, and left to the
 * collector's own pace they pile up to tens of MiB of resident memory.
 */
export function collectGarbage(): void {
  (globalThis as { Bun?: { gc(sync: boolean): void } }).Bun?.gc(true);
}
