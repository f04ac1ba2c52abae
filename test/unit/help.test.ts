// Help layout: wrapped to the width it is given, never inside a word.

import { describe, expect, test } from "bun:test";
import { commands } from "../../src/cli/commands.ts";
import { commandUsage, mainUsage, reflow, wrap } from "../../src/cli/help.ts";

const words = (t: string) => t.split(/\s+/).filter(Boolean);

describe("wrap", () => {
  test("breaks between words only, a word longer than the line stands alone", () => {
    const text = "one two three four five six seven eight nine ten";
    const lines = wrap(text, 14, "  ", "    ");
    expect(lines.every((l) => l.length <= 14)).toBe(true);
    expect(words(lines.join(" "))).toEqual(words(text));
    expect(wrap("a averyveryverylongword b", 8)).toEqual(["a", "averyveryverylongword", "b"]);
  });

  test("examples keep their spacing when they fit; a comment that does not fit goes under its command", () => {
    expect(reflow("Examples:\n  app up            # comment", 80)).toEqual(["Examples:", "  app up            # comment"]);
    expect(reflow("  app restore some-long-file-name.dump --into copy   # beside the live database", 50)).toEqual([
      "  app restore some-long-file-name.dump --into copy",
      "      # beside the live database",
    ]);
  });
});

describe("help at any width", () => {
  for (const width of [60, 80, 120]) {
    test(`every command's help and the command list fit ${width} columns and keep every word`, async () => {
      const texts = [mainUsage(width)];
      for (const [name, entry] of Object.entries(commands)) {
        const mod = await entry.load();
        const text = commandUsage(name, entry.description, mod.args, mod.usage, width);
        texts.push(text);
        // Nothing lost or split: every word of the command's own text is in the help, whole.
        const out = new Set(words(text));
        for (const w of words(`${entry.description} ${mod.usage ?? ""}`)) expect({ name, w, found: out.has(w) }).toEqual({ name, w, found: true });
      }
      // Only a single word longer than a line (an age recipient at 60 columns) may stick out.
      for (const t of texts) for (const line of t.split("\n")) expect({ line, over: line.length > width && /\s/.test(line.trim()) }).toEqual({ line, over: false });
    });
  }
});
