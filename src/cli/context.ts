// What a command gets: parsed global flags, logging, the database target, the
// migration set, and resource helpers that own connections and the lock.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { ConsolaInstance } from "consola/core";
import pkg from "../../package.json" with { type: "json" };
import { describeTarget, parseDotenv, resolveTarget, type ConnectionTarget } from "../core/config.ts";
import { formatDuration } from "../core/duration.ts";
import type { Emit, RunEvent } from "../core/events.ts";
import { isPgshipError, PgshipError, UsageError } from "../core/errors.ts";
import { redactor, type Redactor } from "../core/redact.ts";
import type { DatabaseState } from "../core/plan.ts";
import { connect, type Db } from "../db/connect.ts";
import { describeStep, Interrupt } from "../db/apply.ts";
import { acquireLock, describeHolder, releaseLock } from "../db/lock.ts";
import { ensureTracking, finishHistory, readState, startHistory } from "../db/tracking.ts";
import { argv, cwd, env } from "../runtime.ts";
import { loadMigrationSet, type LoadedSet } from "../source.ts";
import { durationFlag, type Args } from "./flags.ts";
import { createLogger, printJson, printText } from "./output.ts";

export const brand = {
  version: pkg.version,
  binary: pkg.pgship.binaryName,
  display: pkg.pgship.displayName,
  trackingSchema: pkg.pgship.trackingSchema,
};

export interface Context {
  args: Args;
  json: boolean;
  yes: boolean;
  log: ConsolaInstance;
  emit: Emit;
  interrupt: Interrupt;
  schema: string;
  lockTimeoutMs: number;
  waitMs: number;
  /** The process's one redactor: register secrets with it, scrub everything printed or stored through it. */
  secrets: Redactor;
  target(): ConnectionTarget;
  migrations(opts?: { preferDisk?: boolean }): Promise<LoadedSet>;
  connect(command: string): Promise<Db>;
  /** Prints a command's result: JSON on --json, else text. */
  result(json: unknown, text: () => string): void;
  /** Set when something else draws byte progress (the wizard). */
  progress?: (label: string, bytes: number, bytesPerSecond: number) => void;
}

export interface ContextOverrides {
  /** A target chosen interactively instead of flags / environment. */
  target?: ConnectionTarget;
  /** Where core events go instead of log lines (the wizard draws them). */
  emit?: Emit;
  /** Receives a command's result instead of printing it (the wizard summarises it). */
  onResult?: (value: unknown) => void;
  /** Receives byte progress of backups and restores (the wizard draws it). */
  progress?: (label: string, bytes: number, bytesPerSecond: number) => void;
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
  const emit: Emit = overrides.emit ?? ((e) => renderEvent(log, e));
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
    progress: overrides.progress,
    target() {
      if (!target) {
        const e = env();
        const dotenvPath = join(cwd(), ".env");
        const dotenv = existsSync(dotenvPath) ? parseDotenv(readFileSync(dotenvPath, "utf8")) : null;
        // Before parsing: a URL that fails to parse must not leak through the error.
        secrets.addUrl(args["database-url"] as string | undefined).addUrl(e.DATABASE_URL).addUrl(dotenv?.DATABASE_URL).add(e.PGPASSWORD);
        target = resolveTarget({ flagUrl: args["database-url"] as string | undefined, env: e, dotenv });
        secrets.add(target.password);
      }
      return target;
    },
    async migrations(opts) {
      set ??= await loadMigrationSet({
        migrationsDir: args["migrations-dir"] as string | undefined,
        schemaFile: args["schema-file"] as string | undefined,
        preferDisk: opts?.preferDisk,
      });
      return set;
    },
    async connect(command) {
      const t = ctx.target();
      const db = await connect(t, {
        applicationName: `${brand.binary} ${command}`,
        waitMs: ctx.waitMs,
        onRetry: (reason, delayMs) => emit({ type: "connect-retry", reason, delayMs }),
        onNotice: (message) => emit({ type: "notice", message }),
      });
      log.debug(`connected to ${describeTarget(t)} (PostgreSQL ${db.serverVersion})`);
      return db;
    },
    result(value, text) {
      if (overrides.onResult) overrides.onResult(value);
      else if (json) printJson(secrets.scrubValue(value));
      else printText(secrets.scrub(text()));
    },
  };
  return ctx;
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
    case "info":
      return log.info(e.message);
    case "warn":
      return log.warn(e.message);
  }
}

export interface RunSession {
  db: Db;
  state: DatabaseState;
  set: LoadedSet;
  runId: number | null;
  /** Creates the tracking schema and starts the history row (once the plan is accepted). */
  begin(fromVersion: string | null): Promise<number>;
}

/**
 * Owns a mutating run: connect, take the lock, read the state, record the run in
 * the history (also when it fails), release and close whatever happens.
 */
export async function withRun<T>(
  ctx: Context,
  command: string,
  fn: (s: RunSession) => Promise<{ value: T; toVersion: string | null }>,
): Promise<T> {
  const set = await ctx.migrations();
  const db = await ctx.connect(command);
  let runId: number | null = null;
  try {
    await acquireLock(db.sql, ctx.schema, ctx.lockTimeoutMs, (holder) => ctx.emit({ type: "lock-wait", holder }));
    const state = await readState(db.sql, ctx.schema);
    const argsText = redactedArgs(ctx);
    const session: RunSession = {
      db,
      state,
      set,
      get runId() {
        return runId;
      },
      async begin(fromVersion) {
        if (runId !== null) return runId;
        await ensureTracking(db.sql, ctx.schema);
        runId = await startHistory(db.sql, ctx.schema, command, argsText, brand.version, fromVersion);
        return runId;
      },
    };
    try {
      const { value, toVersion } = await fn(session);
      if (runId !== null) await finishHistory(db.sql, ctx.schema, runId, "ok", null, toVersion);
      return value;
    } catch (e) {
      if (runId !== null) await recordFailure(ctx, db, runId, e);
      throw e;
    }
  } finally {
    await releaseLock(db.sql, ctx.schema).catch(() => undefined);
    await db.close().catch(() => undefined);
  }
}

/** The history row must say why a run failed, even when the failure took the connection with it. */
async function recordFailure(ctx: Context, db: Db, runId: number, e: unknown): Promise<void> {
  const message = isPgshipError(e) ? e.message : e instanceof Error ? e.message : String(e);
  const text = ctx.secrets.scrub(message);
  try {
    await finishHistory(db.sql, ctx.schema, runId, "error", text, null);
  } catch {
    let fresh: Db | undefined;
    try {
      fresh = await connect(db.target, { applicationName: `${brand.binary} history`, connectTimeoutSec: 5 });
      await finishHistory(fresh.sql, ctx.schema, runId, "error", text, null);
    } catch (again) {
      ctx.log.warn(`could not record the failure in ${ctx.schema}.history: ${(again as Error).message}`);
    } finally {
      await fresh?.close().catch(() => undefined);
    }
  }
}

function redactedArgs(ctx: Context): string {
  const args = argv().map((a) => (/^postgres(ql)?:\/\//i.test(a) || a.startsWith("--database-url=") ? "<database-url>" : a));
  return ctx.secrets.scrub(args.join(" "));
}

export function assertNever(x: never): never {
  throw new PgshipError("bug", `unexpected value ${String(x)}`);
}
