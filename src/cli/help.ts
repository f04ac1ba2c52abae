// Help text: the top-level command list, grouped, and each command's flags, its
// global flags under their own heading, all wrapped to the terminal (80 columns
// when stdout is not one), never inside a word.

import type { ArgsDef } from "citty";
import { brand } from "../brand.ts";
import { commands } from "./commands.ts";
import { globalArgs } from "./flags.ts";
import { stdoutColumns } from "../runtime.ts";

const GROUPS: [string, string[]][] = [
  ["For servers", ["up", "install", "update", "down", "status", "verify", "doctor", "wait", "baseline"]],
  ["Backups", ["backup", "backups", "restore", "schedule"]],
  ["For developers", ["new", "dump", "check", "init", "pack"]],
];

const DB = ["database-url", "env-file", "wait", "tracking-schema"];
const OUT = ["json", "json-events", "quiet", "verbose"];
const MIGRATIONS = ["migrations-dir", "schema-file"];
/** The global flags each command reads (all of them are accepted everywhere; help lists these). */
const GLOBALS: Record<string, string[]> = {
  up: [...DB, ...OUT, ...MIGRATIONS, "lock-timeout"],
  install: [...DB, ...OUT, ...MIGRATIONS, "lock-timeout"],
  update: [...DB, ...OUT, ...MIGRATIONS, "lock-timeout"],
  down: [...DB, ...OUT, ...MIGRATIONS, "lock-timeout"],
  status: [...DB, ...OUT, ...MIGRATIONS],
  verify: [...DB, ...OUT, ...MIGRATIONS, "lock-timeout", "yes"],
  doctor: [...DB, ...OUT, ...MIGRATIONS],
  wait: ["database-url", "env-file", ...OUT],
  baseline: [...DB, ...OUT, ...MIGRATIONS, "lock-timeout"],
  backup: [...DB, ...OUT],
  backups: [...DB, ...OUT],
  restore: [...DB, ...OUT, ...MIGRATIONS, "lock-timeout", "yes"],
  schedule: ["env-file", ...OUT],
  new: ["json", "quiet", "verbose", "migrations-dir"],
  dump: [...DB, ...OUT, ...MIGRATIONS],
  check: [...DB, ...OUT, ...MIGRATIONS],
  init: ["json", "quiet", "verbose", "yes", "tracking-schema", ...MIGRATIONS],
  pack: ["json", "json-events", "quiet", "verbose", ...MIGRATIONS, "tracking-schema"],
};

export const globalsFor = (command: string): string[] => Object.keys(globalArgs).filter((n) => n === "help" || (GLOBALS[command]?.includes(n) ?? true));

/** Words of `text` in lines of at most `width` columns: the first after `first`, the rest after `rest`. A word longer than a line stands alone. */
export function wrap(text: string, width: number, first = "", rest = first): string[] {
  const lines: string[] = [];
  let line = first;
  let empty = true;
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (!empty && line.length + 1 + word.length > width) {
      lines.push(line);
      line = rest + word;
    } else {
      line += (empty ? "" : " ") + word;
    }
    empty = false;
  }
  lines.push(line);
  return lines.map((l) => l.trimEnd());
}

interface FlagDef {
  type?: string;
  description?: string;
  negativeDescription?: string;
  alias?: string | string[];
  valueHint?: string;
  default?: unknown;
  required?: boolean;
}

/** One row per flag: its spelling and what it does. A boolean that is on by default is shown as --no-NAME. */
function flagRow(name: string, d: FlagDef): [string, string] {
  const aliases = (Array.isArray(d.alias) ? d.alias : d.alias ? [d.alias] : []).map((a) => `-${a}, `).join("");
  if (d.type === "boolean" && d.default === true) return [`--no-${name}`, d.negativeDescription ?? `Turn off: ${d.description ?? ""}`];
  if (d.type === "boolean") return [`${aliases}--${name}`, d.description ?? ""];
  const shown = d.default !== undefined && d.default !== "" ? ` (default: ${String(d.default)})` : "";
  return [`${aliases}--${name}${d.valueHint ? ` <${d.valueHint}>` : " <value>"}`, `${d.description ?? ""}${shown}`];
}

/** Two columns, the second wrapped; a first column too wide for the layout puts its text on the next line. */
function columns(rows: [string, string][], width: number): string[] {
  const left = Math.min(Math.max(...rows.map(([l]) => l.length)), 28);
  const at = 2 + left + 2;
  const out: string[] = [];
  for (const [l, r] of rows) {
    if (l.length > left) {
      out.push(`  ${l}`);
      out.push(...wrap(r, width, " ".repeat(at)));
    } else out.push(...wrap(r, width, `  ${l.padEnd(left)}  `, " ".repeat(at)));
  }
  return out;
}

/** Free text: paragraphs re-flowed (a "Heading:" line starts one), indented lines (examples) wrapped each with a hanging indent. */
export function reflow(text: string, width: number): string[] {
  const out: string[] = [];
  let para: string[] = [];
  const flush = () => {
    if (para.length) out.push(...wrap(para.join(" "), width));
    para = [];
  };
  for (const line of text.split("\n")) {
    if (line.trim() === "") {
      flush();
      out.push("");
    } else if (/^\s/.test(line)) {
      flush();
      const indent = /^\s*/.exec(line)![0];
      const comment = /^(.*?)\s{2,}(# .*)$/.exec(line);
      if (line.length <= width) out.push(line.trimEnd());
      else if (comment) out.push(...wrap(comment[1]!.trim(), width, indent, `${indent}    `), ...wrap(comment[2]!, width, `${indent}    `));
      else out.push(...wrap(line.trim(), width, indent, `${indent}    `));
    } else {
      if (/^[A-Z][A-Za-z -]{0,30}:/.test(line)) {
        flush();
        if (out.length && out.at(-1) !== "") out.push("");
      }
      para.push(line.trim());
    }
  }
  flush();
  return out;
}

/** `<bin> NAME --help`. */
export function commandUsage(name: string, description: string, args: ArgsDef, extra: string | undefined, width = stdoutColumns()): string {
  const own = Object.entries(args as Record<string, FlagDef>);
  const positionals = own.filter(([, d]) => d.type === "positional");
  const flags = own.filter(([, d]) => d.type !== "positional");
  const usage = `${brand.binary} ${name}${flags.length ? " [flags]" : ""}${positionals.map(([p, d]) => (d.required === false ? ` [${p.toUpperCase()}]` : ` <${p.toUpperCase()}>`)).join("")}`;
  const globals = globalsFor(name).map((n) => [n, (globalArgs as Record<string, FlagDef>)[n]!] as const);
  const lines = [...wrap(description, width), "", ...wrap(usage, width, "Usage: ", "         ")];
  if (positionals.length) lines.push("", "Arguments:", ...columns(positionals.map(([p, d]) => [p.toUpperCase(), d.description ?? ""]), width));
  if (flags.length) lines.push("", "Flags:", ...columns(flags.map(([n, d]) => flagRow(n, d)), width));
  lines.push("", "Global flags:", ...columns(globals.map(([n, d]) => flagRow(n, d)), width));
  if (extra) lines.push("", ...reflow(extra, width));
  return `${lines.join("\n")}\n`;
}

/** `<bin> --help`: the commands by who runs them, the global flags, the exit codes. */
export function mainUsage(width = stdoutColumns()): string {
  const rows = (names: string[]) => columns(names.map((n) => [n, commands[n]!.description]), width);
  const lines = [
    ...wrap(`${brand.display} ${brand.version}: install, upgrade, check and back up this app's PostgreSQL database`, width),
    "",
    `Usage: ${brand.binary} <command> [flags]`,
    ...wrap(`Run with no command on a terminal to start the interactive wizard.`, width),
  ];
  for (const [title, names] of GROUPS) lines.push("", `${title}:`, ...rows(names));
  lines.push("", "Global flags:", ...columns(Object.entries(globalArgs as Record<string, FlagDef>).map(([n, d]) => flagRow(n, d)), width));
  lines.push(
    "",
    ...wrap(
      `Run '${brand.binary} <command> --help' for a command's flags. Exit codes: 0 ok, 1 error, 2 usage, 3 pending migrations, 4 drift or changed migration, 5 lock not acquired, 6 database newer than binary, 130 interrupted.`,
      width,
    ),
  );
  return `${lines.join("\n")}\n`;
}
