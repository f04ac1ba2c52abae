// The command line: parse it, run one command (or the wizard), map the outcome
// to an exit code. Loaded by src/main.ts for everything but --version.

import type { ArgsDef } from "citty";
import { commands } from "./commands.ts";
import { brand, createContext } from "./context.ts";
import { globalArgs, parseStrict } from "./flags.ts";
import { commandUsage, mainUsage } from "./help.ts";
import { printJson } from "./output.ts";
import { ExitCode, isPgshipError, UsageError, type ErrorCode } from "../core/errors.ts";
import { redactor, seedRedactor, type Redactor } from "../core/redact.ts";
import { Interrupt } from "../core/cancel.ts";
import { fromServerPermissionError, isInsufficientPrivilege } from "../db/privileges.ts";
import { argv, env, exit, mark, onSignal, usingStreams, stdinIsTTY, stdoutIsTTY, writeStderr, writeStdout } from "../runtime.ts";

const VALUE_FLAGS = new Set(Object.entries(globalArgs).filter(([, d]) => d.type === "string").map(([n]) => `--${n}`));

function findCommand(raw: string[]): number {
  for (let i = 0; i < raw.length; i++) {
    const a = raw[i]!;
    if (a === "--") return -1;
    if (a.startsWith("-")) {
      if (VALUE_FLAGS.has(a)) i++;
      continue;
    }
    return i;
  }
  return -1;
}

async function main(): Promise<number> {
  const raw = argv();
  seedRedactor(redactor, raw, env());
  const at = findCommand(raw);
  if (at < 0 && stdinIsTTY() && stdoutIsTTY() && !raw.some((a) => a === "--help" || a === "-h")) {
    // No command on a terminal: the wizard (loaded only here, so commands start fast).
    const args = parseStrict(raw, globalArgs as never);
    const interrupt = new Interrupt();
    onSignal("SIGINT", () => interrupt.fire());
    onSignal("SIGTERM", () => interrupt.fire());
    // Without a UTF-8 locale the prompts draw with ASCII (the prompt library reads TERM).
    const e = env();
    if (!/utf-?8/i.test(e.LC_ALL || e.LC_CTYPE || e.LANG || "")) e.TERM = "linux";
    usingStreams(); // the prompts draw through process.stdout / process.stderr
    const { runWizard } = await import("../wizard/index.ts");
    return runWizard(args, interrupt);
  }
  if (at < 0) {
    if (raw.includes("--help") || raw.includes("-h")) {
      writeStdout(mainUsage());
      return ExitCode.ok;
    }
    writeStderr(mainUsage());
    return ExitCode.usage;
  }
  const name = raw[at]!;
  const entry = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!entry) throw new UsageError(`unknown command "${name}"`, `run '${brand.binary} --help' to list the commands`);
  const mod = await entry.load();
  mark("modules");
  const rest = [...raw.slice(0, at), ...raw.slice(at + 1)];
  const defs = { ...mod.args, ...globalArgs } as ArgsDef;
  if (rest.includes("--help") || rest.includes("-h")) {
    writeStdout(commandUsage(name, entry.description, mod.args, mod.usage));
    return ExitCode.ok;
  }
  const args = parseStrict(rest, defs);
  const interrupt = new Interrupt();
  let signals = 0;
  const onInterrupt = () => {
    signals++;
    if (signals > 1) {
      writeStderr("\ninterrupted again: exiting now\n");
      void exit(ExitCode.interrupted);
    }
    interrupt.fire();
  };
  onSignal("SIGINT", onInterrupt);
  onSignal("SIGTERM", onInterrupt);
  const ctx = createContext(args, interrupt);
  try {
    // The outcome decides: work that committed before the signal landed reports what it did.
    return (await mod.run(ctx, args)) ?? ExitCode.ok;
  } catch (e) {
    return report(e, Boolean(args.json), Boolean(args.verbose), ctx.secrets);
  }
}

/** Prints an error (text on stderr, and the JSON document on --json), every string scrubbed. */
function report(e: unknown, json: boolean, verbose: boolean, secrets: Redactor): number {
  // A permission error the up-front checks did not foresee is still the user's to fix, not a bug.
  if (isInsufficientPrivilege(e)) e = fromServerPermissionError(e);
  const scrub = (t: string) => secrets.scrub(t);
  if (isPgshipError(e)) {
    if (json) printJson({ ok: false, error: { code: e.code, message: scrub(e.message), hint: e.hint === undefined ? null : scrub(e.hint), exitCode: e.exitCode } });
    writeStderr(`error: ${scrub(e.message)}\n`);
    if (e.hint) writeStderr(`  ${scrub(e.hint)}\n`);
    if (verbose && e.cause instanceof Error) writeStderr(`${scrub(e.cause.stack ?? String(e.cause))}\n`);
    return e.exitCode;
  }
  const message = e instanceof Error ? e.message : String(e);
  const code: ErrorCode = "unexpected";
  if (json) printJson({ ok: false, error: { code, message: scrub(message), hint: null, exitCode: 1 } });
  writeStderr(`error: unexpected failure: ${scrub(message)}\n`);
  if (verbose && e instanceof Error) writeStderr(`${scrub(e.stack ?? "")}\n`);
  else writeStderr("  run again with --verbose for details, and report it if it persists\n");
  return ExitCode.error;
}

/** Runs the command line and exits with its code: the only place that exits the process. */
export async function runCli(): Promise<never> {
  const code = await main().catch((e) => report(e, argv().includes("--json"), argv().includes("--verbose") || Boolean(env().PGSHIP_DEBUG), seedRedactor(redactor, argv(), env())));
  return exit(code);
}
