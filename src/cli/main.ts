// The command line: parse it, run one command (or the wizard), map the outcome
// to an exit code. Loaded by src/main.ts for everything but --version.

import type { ArgsDef } from "citty";
import { commands } from "./commands.ts";
import { brand, createContext, type Context } from "./context.ts";
import { envName } from "../brand.ts";
import type { AlertTargets } from "./alerts.ts";
import { alertArgs } from "./alert-args.ts";
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
  if (mod.project) (await import("./project.ts")).applyProjectDefaults(args);
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
  // Before the context: it records the command line, which may hold a --ping token.
  const alerts = (mod.args as ArgsDef).ping === alertArgs.ping ? await import("./alerts.ts") : null;
  const targets = alerts ? alerts.alertTargets(args, env(), redactor) : null;
  const ctx = createContext(args, interrupt);
  if (alerts && targets) return runWithAlerts(alerts, ctx, name, targets, () => mod.run(ctx, args));
  try {
    // The outcome decides: work that committed before the signal landed reports what it did.
    return (await mod.run(ctx, args)) ?? ExitCode.ok;
  } catch (e) {
    return report(e, Boolean(args.json), Boolean(args.verbose), ctx.secrets);
  }
}

/**
 * A run with --ping / --notify: the start report, the command, then its
 * success or failure report and the outcome POSTed, before the outcome is
 * printed (so --json carries what went wrong with the reports).
 */
async function runWithAlerts(
  lib: typeof import("./alerts.ts"),
  ctx: Context,
  command: string,
  targets: AlertTargets,
  run: () => Promise<number | void>,
): Promise<number> {
  const { summaryLine } = lib;
  const alerts = new lib.Alerts(targets, ctx.emit, ctx.interrupt, ctx.secrets);
  const print = ctx.result;
  let held: { value: unknown; text: () => string } | null = null;
  ctx.result = (value, text) => void (held = { value, text });
  await alerts.ping("start", `${brand.binary} ${command}: started`);
  let code: number;
  try {
    code = (await run()) ?? ExitCode.ok;
  } catch (e) {
    const f = failure(e, ctx.secrets);
    await alerts.ping("fail", summaryLine(command, `error: ${f.doc.error.message}`, f.exitCode));
    await alerts.notify({ ...f.doc, alerts: alerts.json });
    return report(e, ctx.json, Boolean(ctx.args.verbose), ctx.secrets, { alerts: alerts.json });
  }
  const out = held as { value: unknown; text: () => string } | null;
  const value = out ? ctx.secrets.scrubValue(out.value) : { ok: code === ExitCode.ok };
  await alerts.ping(code === ExitCode.ok ? "success" : "fail", summaryLine(command, out ? ctx.secrets.scrub(out.text()) : "done", code));
  await alerts.notify({ ...(value as object), alerts: alerts.json });
  if (out) print({ ...(value as object), alerts: alerts.json }, out.text);
  return code;
}

interface Failure {
  doc: { ok: false; error: { code: ErrorCode; message: string; hint: string | null; exitCode: number } };
  exitCode: number;
  /** Not a PgshipError: a bug, reported as such. */
  unexpected: boolean;
  /** The stack, for --verbose. */
  detail: string | null;
}

/** An error as the --json document reports it, every string scrubbed. */
function failure(e: unknown, secrets: Redactor): Failure {
  // A permission error the up-front checks did not foresee is still the user's to fix, not a bug.
  if (isInsufficientPrivilege(e)) e = fromServerPermissionError(e);
  const scrub = (t: string) => secrets.scrub(t);
  if (isPgshipError(e)) {
    const detail = e.cause instanceof Error ? scrub(e.cause.stack ?? String(e.cause)) : null;
    return { doc: { ok: false, error: { code: e.code, message: scrub(e.message), hint: e.hint === undefined ? null : scrub(e.hint), exitCode: e.exitCode } }, exitCode: e.exitCode, unexpected: false, detail };
  }
  const message = e instanceof Error ? e.message : String(e);
  const detail = e instanceof Error ? scrub(e.stack ?? "") : null;
  return { doc: { ok: false, error: { code: "unexpected", message: scrub(message), hint: null, exitCode: ExitCode.error } }, exitCode: ExitCode.error, unexpected: true, detail };
}

/** Prints an error (text on stderr, and the JSON document on --json), every string scrubbed. */
function report(e: unknown, json: boolean, verbose: boolean, secrets: Redactor, extra: Record<string, unknown> = {}): number {
  const f = failure(e, secrets);
  const { message, hint } = f.doc.error;
  if (json) printJson({ ...f.doc, ...extra });
  if (f.unexpected) {
    writeStderr(`error: unexpected failure: ${message}\n`);
    if (verbose && f.detail !== null) writeStderr(`${f.detail}\n`);
    else writeStderr("  run again with --verbose for details, and report it if it persists\n");
    return f.exitCode;
  }
  writeStderr(`error: ${message}\n`);
  if (hint) writeStderr(`  ${hint}\n`);
  if (verbose && f.detail !== null) writeStderr(`${f.detail}\n`);
  return f.exitCode;
}

/** Runs the command line and exits with its code: the only place that exits the process. */
export async function runCli(): Promise<never> {
  const code = await main().catch((e) => report(e, argv().includes("--json"), argv().includes("--verbose") || Boolean(env()[envName("DEBUG")]), seedRedactor(redactor, argv(), env())));
  return exit(code);
}
