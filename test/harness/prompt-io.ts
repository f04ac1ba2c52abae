// Drives clack prompts without a terminal: an input stream the test types into
// and an output stream it reads, with a script of "when the screen shows X,
// type Y" so each answer goes to the prompt it is meant for.

import { PassThrough, Writable } from "node:stream";
import { stripVTControlCharacters } from "node:util";

export const KEY = { enter: "\r", down: "\u001b[B", up: "\u001b[A", ctrlC: "\u0003", escape: "\u001b" } as const;

export interface ScriptedIO {
  input: PassThrough & { isTTY: boolean; setRawMode(mode: boolean): void };
  output: Writable & { columns: number; isTTY: boolean };
  /** Everything written so far, ANSI codes removed. */
  screen(): string;
  /** Steps not reached yet (a test fails if any remain). */
  pending(): string[];
}

export function scriptedIO(steps: [waitFor: string, keys: string][]): ScriptedIO {
  const input = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => undefined });
  let text = "";
  let seen = 0;
  const queue = [...steps];
  const pump = () => {
    const next = queue[0];
    if (!next) return;
    const at = text.indexOf(next[0], seen);
    if (at < 0) return;
    seen = at + next[0].length;
    queue.shift();
    // Let the prompt finish drawing and start listening before typing.
    setTimeout(() => {
      for (const ch of splitKeys(next[1])) input.write(ch);
      pump();
    }, 15);
  };
  const output = Object.assign(
    new Writable({
      write(chunk, _enc, done) {
        text += stripVTControlCharacters(String(chunk));
        pump();
        done();
      },
    }),
    { columns: 100, isTTY: false },
  );
  return { input, output, screen: () => text, pending: () => queue.map((q) => q[0]) };
}

/** Typed text goes character by character; escape sequences stay whole. */
function splitKeys(keys: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < keys.length; i++) {
    if (keys[i] === "\u001b" && keys[i + 1] === "[") {
      out.push(keys.slice(i, i + 3));
      i += 2;
    } else out.push(keys[i]!);
  }
  return out;
}
