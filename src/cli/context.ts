// What a command gets: parsed global flags, logging, the database target, the
// migration set, and resource helpers that own connections and the lock.

import type { ConsolaInstance } from "consola/core";
import { brand } from "../brand.ts";
import { describeTarget, type ConnectionTarget } from "../core/config.ts";
import { formatDuration } from "../core/duration.ts";
import { formatBytes } from "../core/format.ts";
import type { Emit, RunEvent, StepLabel } from "../core/events.ts";
import { PgshipError, UsageError } from "../core/errors.ts";
import { redactor } from "../core/redact.ts";
import { connect } from "../db/connect.ts";
import type { Interrupt } from "../core/cancel.ts";
import { describeHolder } from "../db/lock.ts";
import type { OpContext } from "../ops/context.ts";
import { argv, ask, mark, stderrIsTTY, stdinIsTTY, writeStderr } from "../runtime.ts";
import { loadMigrationIndex, loadMigrationSet, type LoadedIndex, type LoadedSet } from "../source.ts";
import { durationFlag, type Args } from "./flags.ts";
import { configuredTarget } from "./target.ts";
import { createLogger, printJson, printText } from "./output.ts";

export { brand };
export { withRun, type RunSession } from "../ops/run.ts";

/** An operation's context plus what only the command line has: flags, logger, result printing. */
export interface Context extends OpContext {
  args: Args;
  json: boolean;
  yes: boolean;
  log: ConsolaInstance;
  /** Prints a command's result: JSON on --json, else text. */
  result(json: unknown, text: () => string): void;
}

export interface ContextOverrides {
  /** A target chosen interactively instead of flags / environment. */
  target?: ConnectionTarget;
  /** Where core events go instead of log lines (the wizard draws them). */
  emit?: Emit;
  /** Receives a command's result instead of printing it (the wizard summarises it). */
  onResult?: (value: unknown) => void;
  /** Answers confirmations (the wizard asks on its own screen). */
  confirm?: (question: string) => Promise<boolean>;
}

export function createContext(args: Args, interrupt: Interrupt, overrides: ContextOverrides = {}): Context {
  const json = Boolean(args.json);
  const secrets = redactor;
  const log = createLogger({ json, quiet: Boolean(args.quiet), verbose: Boolean(args.verbose), scrub: (t) => secrets.scrub(t) });
  const schema = String(args["tracking-schema"] ?? brand.trackingSchema);
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new UsageError(`--tracking-schema "${schema}" must be a lower-case identifier (letters, digits, _)`);
  }
  let target: ConnectionTarget | undefined = overrides.target;
  secrets.add(target?.password);
  let set: LoadedSet | undefined;
  let index: LoadedIndex | undefined;
  const emit: Emit = overrides.emit ?? (args["json-events"] ? (e) => writeStderr(`${secrets.scrub(JSON.stringify(e))}\n`) : lineRenderer(log, () => stderrIsTTY() && !json && !args.quiet));
  const ctx: Context = {
    args,
    json,
    yes: Boolean(args.yes),
    log,
    emit,
    interrupt,
    schema,
    lockTimeoutMs: durationFlag(args["lock-timeout"], "lock-timeout") ?? 60_000,
    waitMs: durationFlag(args.wait, "wait") ?? 0,
    secrets,
    binary: brand.binary,
    invocation: redactedArgs(),
    async confirm(question, what) {
      if (overrides.confirm) return overrides.confirm(question);
      if (ctx.yes) return true;
      if (!stdinIsTTY()) {
        if (what) throw new UsageError(`${what}: confirmation needed, and there is no terminal to ask on`, "pass --yes to confirm (see --dry-run for the plan)");
        throw new UsageError(`${question.replace(/\?$/, "")}: pass --yes to confirm without a terminal`);
      }
      const answer = (await interrupt.race(ask(`${question} [y/N] `, interrupt.signal), "at the confirmation prompt: nothing was changed")).trim().toLowerCase();
      return answer === "y" || answer === "yes";
    },
    target() {
      if (!target) {
        // Before parsing: a URL that fails to parse must not leak through the error.
        target = configuredTarget(args);
        secrets.add(target.password);
      }
      return target;
    },
    async migrations(opts) {
      set ??= await loadMigrationSet({
        migrationsDir: args["migrations-dir"] as string | undefined,
        schemaFile: args["schema-file"] as string | undefined,
        preferDisk: opts?.preferDisk,
        withoutSnapshot: opts?.withoutSnapshot,
      });
      return set;
    },
    async migrationIndex(opts) {
      index ??= set ?? (await loadMigrationIndex({
        migrationsDir: args["migrations-dir"] as string | undefined,
        schemaFile: args["schema-file"] as string | undefined,
        withoutSnapshot: opts?.withoutSnapshot,
      }));
      mark("index");
      return index;
    },
    async connect(command) {
      const t = ctx.target();
      const db = await connect(t, {
        applicationName: `${brand.binary} ${command}`,
        waitMs: ctx.waitMs,
        interrupt,
        onRetry: (reason, delayMs) => emit({ type: "connect-retry", reason, delayMs }),
        onNotice: (message) => emit({ type: "notice", message }),
      });
      mark("connected");
      log.debug(`connected to ${describeTarget(t)} (PostgreSQL ${db.serverVersion})`);
      return db;
    },
    result(value, text) {
      if (overrides.onResult) overrides.onResult(value);
      else if (json) printJson(secrets.scrubValue(value));
      else printText(secrets.scrub(text()));
      mark("output");
    },
  };
  return ctx;
}

/**
 * Events as log lines; byte progress as one line redrawn in place on a terminal
 * (`enabled`), cleared before any other line and when it is done; nothing
 * otherwise (cron mail stays clean).
 */
function lineRenderer(log: ConsolaInstance, enabled: () => boolean): Emit {
  let shown = false;
  let progress: boolean | undefined;
  const clear = () => {
    if (shown) writeStderr("\r\u001b[K");
    shown = false;
  };
  return (e) => {
    // Asked on the first progress event: looking at stderr costs a command that reports none.
    if (e.type === "bytes" && (progress ??= enabled())) {
      writeStderr(`\r\u001b[K${e.label}: ${formatBytes(e.bytes)}, ${formatBytes(e.bytesPerSecond)}/s`);
      shown = true;
      return;
    }
    clear();
    renderEvent(log, e);
  };
}

/** A step as a log line: "applied 20250101000000_create_users (12 ms)". */
function describeStep(label: StepLabel, durationMs?: number): string {
  const verb = label.kind === "snapshot" ? "loaded snapshot" : label.kind === "down" ? "rolled back" : label.resume ? "resumed" : "applied";
  const name = label.kind === "snapshot" ? `at ${label.version}` : `${label.version}_${label.name}`;
  return `${verb} ${name}${durationMs !== undefined ? ` (${formatDuration(durationMs)})` : ""}`;
}

function renderEvent(log: ConsolaInstance, e: RunEvent): void {
  switch (e.type) {
    case "connected":
      return log.debug(`connected to ${e.target} (PostgreSQL ${e.serverVersion})`);
    case "connect-retry":
      return log.info(`${e.reason}; retrying in ${formatDuration(e.delayMs)}`);
    case "lock-wait":
      return log.info(`waiting for the migration lock${e.holder ? ` held by ${describeHolder(e.holder)}` : ""}`);
    case "plan":
      return;
    case "step-start":
      return log.debug(`${e.step.kind === "down" ? "rolling back" : "applying"} ${e.step.version}_${e.step.name}`);
    case "step-done":
      return log.info(describeStep(e.step, e.durationMs));
    case "step-retry":
      return log.warn(`${e.step.version}_${e.step.name} hit its lock timeout (attempt ${e.attempt}); retrying in ${formatDuration(e.delayMs)}`);
    case "invalid-index-dropped":
      return log.warn(`dropped INVALID index ${e.index} left by an interrupted concurrent build; rebuilding it`);
    case "notice":
      return log.debug(`server: ${e.message}`);
    case "bytes":
      return log.debug(`${e.label}: ${e.bytes} bytes`);
    case "bytes-done":
      return;
    case "debug":
      return log.debug(e.message);
    case "info":
      return log.info(e.message);
    case "warn":
      return log.warn(e.message);
  }
}

function redactedArgs(): string {
  const args = argv().map((a) => (/^postgres(ql)?:\/\//i.test(a) || a.startsWith("--database-url=") ? "<database-url>" : a));
  return redactor.scrub(args.join(" "));
}

export function assertNever(x: never): never {
  throw new PgshipError("bug", `unexpected value ${String(x)}`);
}
