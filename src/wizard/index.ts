// The wizard: started when the binary runs with no arguments on a terminal.
// Connect -> detect state -> menu (recommended first) -> plan and confirm ->
// progress -> summary, until Quit. It only collects answers: every action runs
// the code of a flag command. Ctrl-C anywhere says what was (not) changed and
// exits 130; a migration in flight is rolled back by the interrupt handler.

import { join } from "node:path";
import { intro, select } from "@clack/prompts";
import { brand, createContext } from "../cli/context.ts";
import { configuredTarget, describeSource } from "../cli/target.ts";
import type { Args } from "../cli/flags.ts";
import type { ConnectionTarget } from "../core/config.ts";
import { ExitCode, isPgshipError } from "../core/errors.ts";
import type { Emit } from "../core/events.ts";
import { computeStatus } from "../core/plan.ts";
import type { Interrupt } from "../core/cancel.ts";
import { connect } from "../db/connect.ts";
import { readState } from "../db/tracking.ts";
import { cwd, env } from "../runtime.ts";
import { loadMigrationSet } from "../source.ts";
import { backupAction, countBackups, healthAction, installAction, restoreAction, updateAction, type Session } from "./actions.ts";
import { connectStep, type Found } from "./connect.ts";
import { buildMenu } from "./menu.ts";
import { provisionStep } from "./provision-db.ts";
import { answer, Cancelled, say, type WizardIO } from "./ui.ts";

function findConfigured(args: Args): Found | null {
  try {
    const target = configuredTarget(args);
    return { target, from: describeSource(target, args) };
  } catch {
    return null;
  }
}

export async function runWizard(args: Args, interrupt: Interrupt, io: WizardIO = {}): Promise<number> {
  const session: Session = { io, binary: brand.binary, changes: [], context: () => { throw new Error("not connected"); } };
  const appName = brand.binary.replace(/-db$/, "");
  try {
    intro(`${brand.display} ${brand.version}`, io);
    say.info(io, "Set up, update and back up this app's database.");
    const { target, db } = await connectStep(io, findConfigured(args), appName, {
      tryConnect: (t) => connect(t, { applicationName: `${brand.binary} wizard`, connectTimeoutSec: 5 }),
      provision: (wio, t) => provisionStep(wio, t, { connectAdmin: (a) => connect(a, { applicationName: `${brand.binary} wizard`, connectTimeoutSec: 5 }), dotenvPath: join(cwd(), ".env") }),
    });
    await db.close();
    session.context = (opts: { onResult?: (v: unknown) => void; emit?: Emit } = {}) =>
      createContext({ ...args, yes: true, quiet: true } as Args, interrupt, { target: target as ConnectionTarget, ...opts });
    const set = await loadMigrationSet({ migrationsDir: args["migrations-dir"] as string | undefined, schemaFile: args["schema-file"] as string | undefined });
    for (;;) {
      const ctx = session.context();
      const conn = await ctx.connect("wizard");
      let report;
      try {
        report = computeStatus(set, await readState(conn.sql, ctx.schema));
      } finally {
        await conn.close();
      }
      const state = !report.managed || !report.version ? (report.empty ? "empty: not installed yet" : "not managed by this app") : `at ${report.version}, ${report.counts.pending} pending`;
      say.info(io, `Database: ${state}`);
      const choice = await answer(select({ ...io, message: "What would you like to do?", options: buildMenu(report, countBackups(join(cwd(), "backups"))) }));
      if (choice === "quit") break;
      try {
        if (choice === "install") await installAction(session, report);
        else if (choice === "update") await updateAction(session, report);
        else if (choice === "backup") await backupAction(session);
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
    const interrupted = e instanceof Cancelled || (isPgshipError(e) && e.exitCode === ExitCode.interrupted);
    if (!interrupted) throw e;
    const inFlight = isPgshipError(e) ? ` ${e.message.replace(/^interrupted /, "Interrupted ")}.` : "";
    say.cancel(io, session.changes.length ? `Cancelled. Already done before: ${session.changes.join("; ")}.${inFlight}` : `Cancelled: nothing was changed.${inFlight}`);
    return ExitCode.interrupted;
  }
}
