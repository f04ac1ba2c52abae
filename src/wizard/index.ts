// The wizard: started when the binary runs with no arguments on a terminal.
// Connect -> detect state -> menu (recommended first) -> plan and confirm ->
// progress -> summary, until Quit. It only collects answers: every action runs
// the code of a flag command. Ctrl-C anywhere says what was (not) changed and
// exits 130; a migration in flight is rolled back by the interrupt handler.

import { join, resolve } from "node:path";
import { intro, select } from "@clack/prompts";
import { brand, createContext } from "../cli/context.ts";
import { configuredTarget, describeSource } from "../cli/target.ts";
import type { Args } from "../cli/flags.ts";
import { parseDotenv, type ConnectionTarget } from "../core/config.ts";
import { readRegularFile } from "../core/files.ts";
import { ExitCode, isPgshipError } from "../core/errors.ts";
import type { Emit } from "../core/events.ts";
import { computeStatus } from "../core/plan.ts";
import type { Interrupt } from "../core/cancel.ts";
import { connect } from "../db/connect.ts";
import { readState } from "../db/tracking.ts";
import { cwd, env } from "../runtime.ts";
import { loadMigrationSet } from "../source.ts";
import { adoptAction, backupAction, countBackups, healthAction, installAction, restoreAction, updateAction, type Session } from "./actions.ts";
import { connectStep, Quit, type Found } from "./connect.ts";
import { buildMenu } from "./menu.ts";
import { provisionStep } from "./provision-db.ts";
import { answer, Cancelled, say, type WizardIO } from "./ui.ts";

/** Where the settings came from, in the words the connection line uses. */
function sourceWords(t: ConnectionTarget, args: Args): { from: string; file?: string } {
  switch (t.source) {
    case "dotenv":
      return { from: "from ./.env", file: join(cwd(), ".env") };
    case "env-file": {
      const file = resolve(cwd(), String(args["env-file"]));
      return { from: `from ${file} (--env-file)`, file };
    }
    case "env":
      return { from: "from the environment (DATABASE_URL)" };
    default:
      return { from: `from ${describeSource(t, args)}` };
  }
}

function findConfigured(io: WizardIO, args: Args): Found | null {
  let target: ConnectionTarget;
  try {
    target = configuredTarget(args);
  } catch {
    return null;
  }
  if (target.source === "env") {
    let dotenvUrl: string | undefined;
    try {
      const text = readRegularFile(join(cwd(), ".env"), "./.env");
      dotenvUrl = text === null ? undefined : parseDotenv(text).DATABASE_URL;
    } catch {
      dotenvUrl = undefined;
    }
    if (dotenvUrl && dotenvUrl !== env().DATABASE_URL) {
      say.warn(io, `DATABASE_URL is set both in the environment and in ./.env, to different values. Using the environment's: it takes precedence over ./.env, as for every ${brand.display} command. To use ./.env, unset DATABASE_URL and start again.`);
    }
  }
  return { target, ...sourceWords(target, args) };
}

export async function runWizard(args: Args, interrupt: Interrupt, io: WizardIO = {}): Promise<number> {
  const session: Session = { io, binary: brand.binary, changes: [], envFile: null, context: () => { throw new Error("not connected"); } };
  const appName = brand.binary.replace(/-db$/, "");
  try {
    intro(`${brand.display} ${brand.version}`, io);
    say.info(io, "Set up, update and back up this app's database.");
    const dotenvPath = join(cwd(), ".env");
    const admin = (a: ConnectionTarget) => connect(a, { applicationName: `${brand.binary} wizard`, connectTimeoutSec: 5 });
    const { target, db, file } = await connectStep(io, findConfigured(io, args), appName, {
      tryConnect: admin,
      provision: (wio, t, mode) => provisionStep(wio, t, mode, { connectAdmin: admin }),
      dotenvPath,
      envUrl: env().DATABASE_URL,
    }, session.changes);
    session.envFile = file;
    await db.close();
    session.context = (opts: { onResult?: (v: unknown) => void; emit?: Emit } = {}) =>
      createContext({ ...args, yes: true, quiet: true }, interrupt, { target: target as ConnectionTarget, ...opts });
    const set = await loadMigrationSet({ migrationsDir: args["migrations-dir"] as string | undefined, schemaFile: args["schema-file"] as string | undefined });
    for (;;) {
      const ctx = session.context();
      const conn = await ctx.connect("wizard");
      let report, state;
      try {
        state = await readState(conn.sql, ctx.schema);
        report = computeStatus(set, state);
      } finally {
        await conn.close();
      }
      const where = !report.managed || !report.version
        ? report.empty ? "empty: not installed yet" : state.foreign ? `installed by ${state.foreign.tool} (at ${state.foreign.version}), not yet adopted` : "not managed by this app"
        : `at ${report.version}, ${report.counts.pending} pending`;
      say.info(io, `Database: ${where}`);
      const choice = await answer(select({ ...io, message: "What would you like to do?", options: buildMenu(report, countBackups(join(cwd(), "backups")), state.foreign) }));
      if (choice === "quit") break;
      try {
        if (choice === "install") await installAction(session, report);
        else if (choice === "adopt" && state.foreign) await adoptAction(session, report, state.foreign);
        else if (choice === "update") await updateAction(session, report);
        else if (choice === "backup") await backupAction(session);
        else if (choice === "schedule") await (await import("./schedule.ts")).scheduleAction(session);
        else if (choice === "restore") await restoreAction(session);
        else if (choice === "health") await healthAction(session);
      } catch (e) {
        if (e instanceof Cancelled || (isPgshipError(e) && e.exitCode === ExitCode.interrupted)) throw e;
        say.error(io, isPgshipError(e) ? `${e.message}${e.hint ? `\n${e.hint}` : ""}` : String(e));
      }
    }
    say.end(io, session.changes.length ? `Done: ${session.changes.join("; ")}.` : "Nothing was changed. Bye.");
    return ExitCode.ok;
  } catch (e) {
    if (e instanceof Quit) {
      say.end(io, session.changes.length ? `Done: ${session.changes.join("; ")}.` : "Nothing was changed. Bye.");
      return ExitCode.ok;
    }
    const interrupted = e instanceof Cancelled || (isPgshipError(e) && e.exitCode === ExitCode.interrupted);
    if (!interrupted) throw e;
    const inFlight = isPgshipError(e) ? ` ${e.message.replace(/^interrupted /, "Interrupted ")}.` : "";
    say.cancel(io, session.changes.length ? `Cancelled. Already done before: ${session.changes.join("; ")}.${inFlight}` : `Cancelled: nothing was changed.${inFlight}`);
    return ExitCode.interrupted;
  }
}
