// Flags every command accepts, and a strict parser on top of citty's: an unknown
// or misspelled flag is a usage error (exit 2), not silently ignored.

import { brand } from "../brand.ts";
import { parseArgs, type ArgsDef } from "citty";
import { MAX_DURATION_MS, parseDuration } from "../core/duration.ts";
import { UsageError } from "../core/errors.ts";

export const globalArgs = {
  "database-url": { type: "string", description: "PostgreSQL URL (else DATABASE_URL, ./.env, PG* variables)", valueHint: "url" },
  "env-file": { type: "string", description: "Read DATABASE_URL from this env file (beats DATABASE_URL and ./.env; for cron)", valueHint: "file" },
  json: { type: "boolean", description: "Print one JSON document on stdout" },
  "json-events": { type: "boolean", description: "Write progress and warnings as JSON lines (NDJSON) on stderr" },
  yes: { type: "boolean", alias: "y", description: "Answer yes to confirmations" },
  quiet: { type: "boolean", alias: "q", description: "Only print warnings and errors" },
  verbose: { type: "boolean", description: "More detail, including stack traces of unexpected errors" },
  wait: { type: "string", description: "Keep retrying the connection for this long (e.g. 30s)", valueHint: "duration" },
  "lock-timeout": { type: "string", description: "How long to wait for another run's lock", default: "60s", valueHint: "duration" },
  "migrations-dir": { type: "string", description: "Read migrations from this directory instead of the embedded ones", valueHint: "dir" },
  "schema-file": { type: "string", description: "Read the snapshot from this file instead of the embedded one", valueHint: "file" },
  "tracking-schema": { type: "string", description: `Schema that holds ${brand.display}'s tracking tables`, valueHint: "name" },
  help: { type: "boolean", alias: "h", description: "Show help" },
} as const satisfies ArgsDef;

export type Args = Record<string, string | boolean | string[] | undefined> & { _: string[] };

const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

export function parseStrict(raw: string[], defs: ArgsDef): Args {
  const known = new Set<string>();
  for (const [name, def] of Object.entries(defs)) {
    if (def.type === "positional") continue;
    known.add(name);
    const aliases = (def as { alias?: string | string[] }).alias;
    for (const a of Array.isArray(aliases) ? aliases : aliases ? [aliases] : []) known.add(a);
  }
  const positionalCount = Object.values(defs).filter((d) => d.type === "positional").length;
  for (let i = 0; i < raw.length; i++) {
    const a = raw[i]!;
    if (a === "--") break;
    if (!a.startsWith("-") || a === "-") continue;
    const name = a.replace(/^--?(no-)?/, "").split("=")[0]!;
    if (!known.has(name) && !known.has(kebab(name))) {
      throw new UsageError(`unknown flag ${a.split("=")[0]}`, "run with --help to list the flags");
    }
    const def = (defs as Record<string, { type?: string }>)[name];
    if (def && (def.type === "string" || def.type === "enum") && !a.includes("=")) {
      const next = raw[i + 1];
      if (next === undefined || (next.startsWith("--") && next.length > 2)) throw new UsageError(`flag ${a} needs a value`);
      i++;
    }
  }
  let args: Args;
  try {
    args = parseArgs(raw, defs) as unknown as Args;
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/\u001b\[\d+m/g, ""));
  }
  if (args._.length > positionalCount) {
    throw new UsageError(`unexpected argument "${args._[positionalCount]}"`, "run with --help to see how this command is used");
  }
  return args;
}

export function durationFlag(value: unknown, flag: string): number | undefined {
  if (value === undefined || value === "") return undefined;
  const ms = parseDuration(String(value));
  if (ms === null) throw new UsageError(`--${flag} "${value}" is not a duration`, "use a number with a unit, e.g. 500ms, 30s, 5min, 1h, 2d");
  if (ms > MAX_DURATION_MS) throw new UsageError(`--${flag} "${value}" is longer than the maximum of 24 days (24d)`);
  return ms;
}

export function intFlag(value: unknown, flag: string, min = 0): number | undefined {
  if (value === undefined || value === "") return undefined;
  const s = String(value);
  if (!/^\d+$/.test(s) || Number(s) < min) throw new UsageError(`--${flag} "${s}" must be a whole number${min ? ` of at least ${min}` : ""}`);
  return Number(s);
}
