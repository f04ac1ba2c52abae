// A real terminal for end-to-end wizard tests: tmux runs the compiled binary in
// a pane on its own server socket; the test types (send-keys) and reads the
// screen (capture-pane) like a person would. A small shell prints the binary's
// exit status (tmux 3.3 loses it for some processes); it ignores SIGINT itself
// so Ctrl-C ends only the binary, which installs its own handler.

import { afterAll, afterEach } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export class Terminal {
  private readonly socket = `pgship-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  private readonly conf: string;
  private readonly name = "wizard";

  constructor(argv: string[], opts: { cwd: string; env: Record<string, string>; width?: number; height?: number }) {
    this.conf = join(mkdtempSync(join(tmpdir(), "pgship-tmux-")), "tmux.conf");
    writeFileSync(this.conf, "set -g remain-on-exit on\nset -g history-limit 5000\n");
    const env = Object.entries(opts.env).flatMap(([k, v]) => ["-e", `${k}=${v}`]);
    const wrapper = ["sh", "-c", 'trap "" INT; "$@"; echo "EXIT=$?"', "sh", ...argv];
    this.tmux("new-session", "-d", "-s", this.name, "-x", String(opts.width ?? 110), "-y", String(opts.height ?? 45), "-c", opts.cwd, ...env, ...wrapper);
  }

  private tmux(...args: string[]): string {
    const r = spawnSync("tmux", ["-L", this.socket, "-f", this.conf, ...args], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`tmux ${args[0]} failed: ${r.stderr}`);
    return r.stdout;
  }

  /** The whole scrollback and screen as text. */
  screen(): string {
    return this.tmux("capture-pane", "-p", "-J", "-S", "-5000", "-t", this.name);
  }

  /** Raw screen with escape codes, to check colours are off. */
  screenWithEscapes(): string {
    return this.tmux("capture-pane", "-p", "-e", "-S", "-5000", "-t", this.name);
  }

  private readonly seen = new Map<string, number>();

  /**
   * Waits for one more occurrence of `text` than the previous wait for the same
   * text saw (prompts redraw, so positions on the screen are not stable).
   */
  async waitFor(text: string, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const want = (this.seen.get(text) ?? 0) + 1;
    for (;;) {
      const s = this.screen();
      const count = s.split(text).length - 1;
      if (count >= want) {
        this.seen.set(text, count);
        // Let the prompt that drew it start listening before the test types.
        await new Promise((r) => setTimeout(r, 150));
        return;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for "${text}"; screen:\n${s}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Keys by tmux name: Enter, Down, Up, Right, Escape, C-c. */
  send(...keys: string[]): void {
    this.tmux("send-keys", "-t", this.name, ...keys);
  }

  /** Literal text. */
  type(text: string): void {
    this.tmux("send-keys", "-t", this.name, "-l", text);
  }

  /** The pid of the pane's shell (the binary is its child). */
  shellPid(): number {
    return Number(this.tmux("display-message", "-p", "-t", this.name, "#{pane_pid}").trim());
  }

  /** The binary's exit status once it has exited. */
  async exitCode(timeoutMs = 20_000): Promise<number> {
    await this.waitFor("EXIT=", timeoutMs);
    return Number(/EXIT=(\d+)/.exec(this.screen())![1]);
  }

  /**
   * Lines printed outside the wizard's frame: every line the wizard draws starts
   * with a frame glyph (bar, step, log or progress mark), is blank, or continues
   * a wrapped line (indented). A raw log line ("warning: ...", "error: ...") or a
   * stack trace does not.
   */
  strays(): string[] {
    return this.screen()
      .split("\n")
      .filter((l) => l.trim() !== "" && !/^(EXIT=\d+|Pane is dead .*)$/.test(l) && !/^ {2,}(?!at )\S/.test(l))
      .filter((l) => !/^([│┌└◇◆●▲■✔✖◒◐◓◑|'o*+!x\-\\/]( |$)|[├+][─-])/.test(l));
  }

  close(): void {
    spawnSync("tmux", ["-L", this.socket, "kill-server"]);
  }
}

/**
 * The terminals and test databases of one test file: each terminal is closed
 * after its test, each database's connections when the file is done. Call at
 * the top level of the file and push what the tests open.
 */
export function useTerminals(): { terminals: Terminal[]; dbs: { sql: { end(o?: { timeout?: number }): Promise<void> } }[] } {
  const terminals: Terminal[] = [];
  const dbs: { sql: { end(o?: { timeout?: number }): Promise<void> } }[] = [];
  afterEach(() => {
    for (const t of terminals.splice(0)) t.close();
  });
  afterAll(async () => {
    await Promise.all(dbs.map((d) => d.sql.end({ timeout: 1 })));
  });
  return { terminals, dbs };
}
