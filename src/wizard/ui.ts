// What every wizard step draws with: clack prompts on injectable streams (so
// steps are testable without a terminal), cancel as an exception, and a
// progress line that leaves the keyboard alone (clack's spinner grabs stdin and
// exits 0 on Ctrl-C; a migration in flight must get SIGINT instead).

import type { Readable, Writable } from "node:stream";
import { cancel, isCancel, log, outro } from "@clack/prompts";
import { formatDuration } from "../core/duration.ts";
import { redactor } from "../core/redact.ts";

export interface WizardIO {
  input?: Readable;
  output?: Writable;
}

/** The person pressed Ctrl-C or Escape at a prompt. */
export class Cancelled extends Error {
  constructor() {
    super("cancelled");
  }
}

export async function answer<T>(pending: Promise<T>): Promise<Exclude<T, symbol>> {
  const v = await pending;
  if (isCancel(v)) throw new Cancelled();
  return v as Exclude<T, symbol>;
}

const env = () => process.env;
export const unicode = () => /utf-?8/i.test(env().LC_ALL || env().LC_CTYPE || env().LANG || "") && env().TERM !== "linux";
export const color = () => !env().NO_COLOR && env().TERM !== "dumb";

const paint = (code: number) => (t: string) => (color() ? `\u001b[${code}m${t}\u001b[39m` : t);
export const green = paint(32);
export const red = paint(31);
export const yellow = paint(33);
export const dim = (t: string) => (color() ? `\u001b[2m${t}\u001b[22m` : t);

export function glyph(name: "ok" | "fail" | "bar" | "step"): string {
  const u = unicode();
  return { ok: u ? "✔" : "+", fail: u ? "✖" : "x", bar: u ? "│" : "|", step: u ? "◇" : "o" }[name];
}

/** Breaks text into lines of at most `width` characters, at spaces where it can. */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let rest = text;
  while (rest.length > width && width > 10) {
    let cut = rest.lastIndexOf(" ", width);
    if (cut < width / 2) cut = width;
    lines.push(rest.slice(0, cut).trimEnd());
    rest = rest.slice(cut).trimStart();
  }
  lines.push(rest);
  return lines;
}

/** One line that animates while work runs, then settles to a result line. */
export class ProgressLine {
  private timer: ReturnType<typeof setInterval> | null = null;
  private frame = 0;
  private started = 0;
  private text = "";
  constructor(private out: Writable) {}

  private get columns(): number {
    return (this.out as Writable & { columns?: number }).columns ?? 80;
  }

  private get tty(): boolean {
    return Boolean((this.out as Writable & { isTTY?: boolean }).isTTY);
  }

  start(text: string): void {
    this.stop();
    this.text = text;
    this.started = performance.now();
    this.run();
  }

  private run(): void {
    if (!this.tty) return;
    const frames = unicode() ? ["◒", "◐", "◓", "◑"] : ["-", "\\", "|", "/"];
    const draw = () => {
      const secs = ((performance.now() - this.started) / 1000).toFixed(1);
      const columns = (this.out as Writable & { columns?: number }).columns ?? 80;
      const line = `${frames[this.frame++ % frames.length]}  ${this.text} ${dim(`${secs} s`)}`;
      this.out.write(`\r\u001b[2K${line.slice(0, Math.max(20, columns - 1))}`);
    };
    draw();
    this.timer = setInterval(draw, 120);
  }

  /** Draws something (a warning, a note) above the running line, which then goes on where it was. */
  interject(draw: () => void): void {
    const running = this.timer !== null;
    if (running) {
      this.stop();
      this.out.write("\r\u001b[2K");
    }
    draw();
    if (running) this.run();
  }

  /** Changes the text of the running line (e.g. bytes done and the rate). */
  update(text: string): void {
    this.text = text;
  }

  /** Replaces the animated line with a final one. */
  done(text: string, ok = true, ms?: number): void {
    this.stop();
    const took = ms ?? performance.now() - this.started;
    const mark = ok ? green(glyph("ok")) : red(glyph("fail"));
    const body = wrap(`${redactor.scrub(text)}${ok ? ` (${formatDuration(took)})` : ""}`, this.columns - 3).join("\n   ");
    this.out.write(`${this.tty ? "\r\u001b[2K" : ""}${mark}  ${body}\n`);
  }

  /** Settles a line still running (work that was interrupted or failed) with its text and why. */
  abandon(why: string): void {
    if (this.timer) this.done(`${this.text}: ${why}`, false);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}

/**
 * Log lines and the closing line. The prompt library's fallbacks for terminals
 * without Unicode still use a few non-ASCII marks (•, —); these use plain ASCII.
 */
const fit = (io: WizardIO, message: string) => {
  const columns = (io.output as (Writable & { columns?: number }) | undefined)?.columns ?? process.stdout.columns ?? 80;
  return redactor.scrub(message).split("\n").flatMap((l) => wrap(l, columns - 4)).join("\n");
};

export const say = {
  info: (io: WizardIO, m: string) => (unicode() ? log.info(fit(io, m), io) : log.message(fit(io, m), { ...io, symbol: "*" })),
  success: (io: WizardIO, m: string) => (unicode() ? log.success(fit(io, m), io) : log.message(fit(io, m), { ...io, symbol: "+" })),
  warn: (io: WizardIO, m: string) => (unicode() ? log.warn(fit(io, m), io) : log.message(fit(io, m), { ...io, symbol: "!" })),
  error: (io: WizardIO, m: string) => (unicode() ? log.error(fit(io, m), io) : log.message(fit(io, m), { ...io, symbol: "x" })),
  // The closing lines: continuation lines are indented under the text, inside the frame.
  end: (io: WizardIO, m: string) => (unicode() ? outro(fit(io, m).replace(/\n/g, "\n   "), io) : (io.output ?? process.stdout).write(`|\n'  ${fit(io, m).replace(/\n/g, "\n   ")}\n\n`)),
  cancel: (io: WizardIO, m: string) => (unicode() ? cancel(fit(io, m).replace(/\n/g, "\n   "), io) : (io.output ?? process.stdout).write(`'  ${fit(io, m).replace(/\n/g, "\n   ")}\n\n`)),
};
