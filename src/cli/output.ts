// How pgship talks: results on stdout, log lines on stderr (so `--json` output
// and pipes stay clean). Log lines go through consola with a reporter of ours:
// plain, stable lines that read well in cron mail and CI logs.

import { createConsola, type ConsolaInstance, type LogObject } from "consola/core";
import { formatWithOptions } from "node:util";
import { env, stderrIsTTY, writeStderr, writeStdout } from "../runtime.ts";

export interface OutputOptions {
  json: boolean;
  quiet: boolean;
  verbose: boolean;
  /** Applied to every log line (the redactor). */
  scrub?: (text: string) => string;
}

export function useColor(): boolean {
  const e = env();
  return stderrIsTTY() && !e.NO_COLOR && e.TERM !== "dumb";
}

const paint = (code: number, text: string) => (useColor() ? `\u001b[${code}m${text}\u001b[0m` : text);
export const dim = (t: string) => paint(2, t);
export const bold = (t: string) => paint(1, t);
export const red = (t: string) => paint(31, t);
export const green = (t: string) => paint(32, t);
export const yellow = (t: string) => paint(33, t);

const PREFIX: Record<string, (t: string) => string> = {
  error: (t) => `${red("error:")} ${t}`,
  fatal: (t) => `${red("error:")} ${t}`,
  warn: (t) => `${yellow("warning:")} ${t}`,
  success: (t) => `${green("ok:")} ${t}`,
  debug: (t) => dim(t),
  trace: (t) => dim(t),
};

export function createLogger(opts: OutputOptions): ConsolaInstance {
  return createConsola({
    // 0 errors, 1 warnings, 3 info, 4 debug
    // --json: only warnings and errors on stderr (progress goes to --json-events when asked for).
    level: opts.verbose ? 4 : opts.quiet || opts.json ? 1 : 3,
    reporters: [
      {
        log(obj: LogObject) {
          const text = formatWithOptions({ colors: false }, ...obj.args);
          const fmt = PREFIX[obj.type] ?? ((t: string) => t);
          writeStderr(`${fmt(opts.scrub ? opts.scrub(text) : text)}\n`);
        },
      },
    ],
  });
}

export function printJson(value: unknown): void {
  writeStdout(`${JSON.stringify(value, null, 2)}\n`);
}

export function printText(text: string): void {
  writeStdout(text.endsWith("\n") ? text : `${text}\n`);
}

/** Left-aligned columns, for tables on stdout. */
export function table(rows: string[][], indent = "  "): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => indent + r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ")).join("\n");
}
