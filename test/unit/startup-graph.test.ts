// The non-interactive commands start fast because nothing heavy is on their
// start-up path: from the command line's module, following only static
// imports, neither the wizard, the prompt library, the backup code nor the
// schema catalog is loaded (commands and the wizard are reached through
// import(), evaluated on demand), and --version loads nothing but itself.

import { expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

const SRC = resolve(import.meta.dir, "../../src");
const STATIC_IMPORT = /^\s*(?:import|export)\s+(?!type\b)(?:[^"'`;]*?\sfrom\s+)?["']([^"']+)["']/gm;

function staticClosure(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    for (const m of readFileSync(file, "utf8").matchAll(STATIC_IMPORT)) {
      const spec = m[1]!;
      if (spec.startsWith(".")) {
        const target = resolve(dirname(file), spec);
        if (existsSync(target)) visit(target);
      } else if (!spec.startsWith("node:")) packages.add(spec);
    }
  };
  visit(entry);
  return { files, packages };
}

test("--version needs only the entry point, the runtime seam and package.json", () => {
  const { files, packages } = staticClosure(join(SRC, "main.ts"));
  expect([...files].filter((f) => f.startsWith(SRC)).map((f) => f.slice(SRC.length + 1)).sort()).toEqual(["main.ts", "runtime.ts"]);
  expect([...packages]).toEqual([]);
});

test("the command line statically reaches no wizard, prompt, backup or catalog code", () => {
  const { files, packages } = staticClosure(join(SRC, "cli", "main.ts"));
  const relative = [...files].map((f) => f.slice(SRC.length + 1)).sort();
  // catalog/model.ts (types and a JSON reader) is the one light piece of the catalog every command needs.
  expect(relative.filter((f) => /^(wizard|backup|catalog|commands)\//.test(f) && f !== "catalog/model.ts")).toEqual([]);
  expect([...packages].filter((p) => p.startsWith("@clack") || p === "age-encryption")).toEqual([]);
  // The model of every version (verify, doctor, up's drift check) is parsed only by those commands.
  expect(relative.filter((f) => f === "embedded-models.ts" || /^ops\/(verify|check|dump|doctor)\.ts$/.test(f))).toEqual([]);
  // Sanity: the walk itself works.
  expect(relative).toContain("cli/context.ts");
  expect(packages.has("postgres")).toBe(true);
});
