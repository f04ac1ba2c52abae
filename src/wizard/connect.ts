// Wizard step 1: where the database is. Uses DATABASE_URL / .env when present
// (shown without the password, with where it came from), else asks; tests the
// connection and, when it fails, says why in plain words and offers only what
// fits: type the password again, create what is missing, set a new password
// (saying what that breaks), change the settings, quit. Typed settings that
// connect can be saved to ./.env.

import { brand } from "../brand.ts";
import { password, select, text } from "@clack/prompts";
import { describeTarget, type ConnectionTarget } from "../core/config.ts";
import type { Db } from "../db/connect.ts";
import { databaseUrl, saveDotenv } from "./provision.ts";
import { answer, ProgressLine, say, type WizardIO } from "./ui.ts";

/** What to create or change with the admin's credentials. */
export type ProvisionMode = "database" | "user" | "password";

export interface Provisioned {
  target: ConnectionTarget;
  /** What was changed on the server, in words ("created database shop"). */
  changes: string[];
  /** True when the user got a new generated password: it must be saved. */
  newPassword: boolean;
}

export interface ConnectDeps {
  tryConnect(t: ConnectionTarget): Promise<Db>;
  /** Creates what `mode` names with admin credentials; null if abandoned or nothing was done. */
  provision(io: WizardIO, t: ConnectionTarget, mode: ProvisionMode): Promise<Provisioned | null>;
  /** Absolute path of ./.env, where settings are saved. */
  dotenvPath: string;
  /** DATABASE_URL in the environment, if any: it takes precedence over ./.env. */
  envUrl?: string;
}

export interface Found {
  target: ConnectionTarget;
  /** Where it came from, in words: "from ./.env", "from the environment (DATABASE_URL)" ... */
  from: string;
  /** The file holding it (./.env or --env-file), absolute; cron can read it with --env-file. */
  file?: string;
}

export interface Connected {
  target: ConnectionTarget;
  db: Db;
  /** The file cron can read the settings from, or null (then DATABASE_URL must be set in the crontab). */
  file: string | null;
  changes: string[];
}

/** The person chose Quit: not an interruption (exit 0). */
export class Quit extends Error {
  constructor() {
    super("quit");
  }
}

/** Why a connection failed, for people who are not database administrators, and what can be created. */
export function explain(e: unknown, t: ConnectionTarget): { words: string; offer: "database" | "login" | "user" | null } {
  const err = e as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = String(err.cause?.code ?? err.code ?? "");
  const msg = String(err.cause?.message ?? err.message ?? "");
  const where = t.socketDir ? `the socket in ${t.socketDir}` : `${t.host}:${t.port}`;
  // With SCRAM (and md5) the server answers 28P01 for a missing user too: it never tells which.
  if (code === "28P01") return { words: `The password for user "${t.user}" was not accepted, or there is no user "${t.user}".`, offer: "login" };
  if (code === "3D000") return { words: `The database "${t.database}" does not exist yet (user "${t.user}" logged in).`, offer: "database" };
  if (code === "28000" && /role .* does not exist/.test(msg)) return { words: `The user "${t.user}" does not exist on this server.`, offer: "user" };
  if (code === "28000") return { words: `The server does not allow user "${t.user}" to connect from here (pg_hba.conf).`, offer: null };
  if (code === "ECONNREFUSED") return { words: `Nothing is listening at ${where}. Is PostgreSQL running, and on that port?`, offer: null };
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return { words: `The host name "${t.host}" could not be found.`, offer: null };
  if (code === "ENOENT") return { words: `There is no PostgreSQL socket at ${where}.`, offer: null };
  if (/TIMEDOUT|TIMEOUT|UNREACH/.test(code)) return { words: `The server at ${where} did not answer.`, offer: null };
  return { words: `Could not connect: ${msg.split("\n")[0]}`, offer: null };
}

export async function askTarget(io: WizardIO, base: Partial<ConnectionTarget>, appName: string): Promise<ConnectionTarget> {
  const host = await answer(text({ ...io, message: "PostgreSQL host", placeholder: "localhost", defaultValue: base.socketDir ?? base.host ?? "localhost", initialValue: base.socketDir ?? base.host }));
  const portText = await answer(
    text({ ...io, message: "Port", placeholder: "5432", defaultValue: String(base.port ?? 5432), initialValue: base.port ? String(base.port) : undefined, validate: (v) => (v && !/^\d{1,5}$/.test(v) ? "a port is a number like 5432" : undefined) }),
  );
  const database = await answer(text({ ...io, message: "Database name", placeholder: appName, defaultValue: base.database ?? appName, initialValue: base.database }));
  const user = await answer(text({ ...io, message: "User", placeholder: appName, defaultValue: base.user ?? appName, initialValue: base.user }));
  const pw = await answer(password({ ...io, message: `Password for ${user || appName} (empty for none)`, mask: "*" }));
  const h = host || "localhost";
  return {
    host: h.startsWith("/") ? "localhost" : h,
    socketDir: h.startsWith("/") ? h : undefined,
    port: Number(portText || 5432),
    database: database || appName,
    user: user || appName,
    password: pw ?? "",
    source: "flag",
    params: {},
  };
}


type Choice = "retype" | "create-database" | "create-user" | "reset" | "retry" | "edit" | "quit";

/** The menu after a failed connection: what fits the failure, the safe choice first. */
export function failureOptions(offer: "database" | "login" | "user" | null, t: ConnectionTarget): { value: Choice; label: string; hint?: string }[] {
  const admin = "needs the PostgreSQL admin password";
  const head: { value: Choice; label: string; hint?: string }[] =
    offer === "database"
      ? [{ value: "create-database", label: `Create the database "${t.database}"`, hint: `${admin}; owner "${t.user}", no password is changed` }, { value: "retry", label: "Try again" }]
      : offer === "login"
        ? [
            { value: "retype", label: "Type the password again" },
            { value: "create-user", label: `Create user "${t.user}"`, hint: `if there is none; ${admin}` },
            { value: "reset", label: `Set a new password for user "${t.user}" (anything else using the old one stops working)`, hint: admin },
          ]
        : offer === "user"
          ? [{ value: "create-user", label: `Create user "${t.user}"`, hint: admin }, { value: "retry", label: "Try again" }]
          : [{ value: "retry", label: "Try again" }];
  return [...head, { value: "edit", label: "Change the connection settings" }, { value: "quit", label: "Quit" }];
}

/** Writes DATABASE_URL to ./.env (atomically, 0600) and says when the environment still overrides it. */
export function saveTarget(io: WizardIO, t: ConnectionTarget, deps: Pick<ConnectDeps, "dotenvPath" | "envUrl">): string {
  saveDotenv(deps.dotenvPath, "DATABASE_URL", databaseUrl(t));
  say.success(io, `Saved DATABASE_URL in ./.env (mode 0600, other lines kept).`);
  if (deps.envUrl && deps.envUrl !== databaseUrl(t)) {
    say.warn(io, `DATABASE_URL is also set in the environment, to something else: ${brand.display} commands run from this shell use the environment's, not ./.env. Unset it (unset DATABASE_URL) to use ./.env.`);
  }
  return "wrote DATABASE_URL to ./.env";
}

/** `changes` receives what is changed as it happens, so an interruption later still reports it. */
export async function connectStep(io: WizardIO, found: Found | null, appName: string, deps: ConnectDeps, changes: string[] = []): Promise<Connected> {
  const out = io.output ?? process.stdout;
  let target: ConnectionTarget;
  let from: string;
  let file: string | null = found?.file ?? null;
  const save = (t: ConnectionTarget): boolean => {
    try {
      changes.push(saveTarget(io, t, deps));
      file = deps.dotenvPath;
      return true;
    } catch (e) {
      say.error(io, `Could not write ./.env: ${(e as Error).message.split("\n")[0]}`);
      return false;
    }
  };
  if (found) {
    target = found.target;
    from = found.from;
  } else {
    say.info(io, "No DATABASE_URL found: tell me where the database is.");
    target = await askTarget(io, {}, appName);
    from = "typed";
  }
  for (;;) {
    const line = new ProgressLine(out);
    const where = `${describeTarget(target)}, ${from}`;
    line.start(`Connecting to ${where}`);
    let db: Db;
    try {
      db = await deps.tryConnect(target);
    } catch (e) {
      const why = explain(e, target);
      line.done(`${why.words} (${where})`, false);
      const choice = await answer(select({ ...io, message: "What now?", options: failureOptions(why.offer, target) }));
      if (choice === "quit") throw new Quit();
      if (choice === "edit") {
        target = await askTarget(io, target, appName);
        from = "typed";
      } else if (choice === "retype") {
        const pw = await answer(password({ ...io, message: `Password for ${target.user}`, mask: "*" }));
        target = { ...target, password: pw ?? "" };
        from = "typed";
      } else if (choice !== "retry") {
        const mode: ProvisionMode = choice === "create-database" ? "database" : choice === "create-user" ? "user" : "password";
        const done = await deps.provision(io, target, mode);
        if (done) {
          changes.push(...done.changes);
          target = done.target;
          if (done.newPassword && save(target)) from = "from ./.env";
        }
      }
      continue;
    }
    line.done(`Connected to ${where} (PostgreSQL ${db.serverVersion.split(" ")[0]})`);
    if (from === "typed") {
      const choice = await answer(
        select({
          ...io,
          message: "Save these settings for next time?",
          options: [
            { value: "save", label: "Save to ./.env", hint: "DATABASE_URL, with the password; mode 0600, other lines kept" },
            { value: "no", label: "Don't save" },
          ],
        }),
      ).catch(async (e) => {
        await db.close();
        throw e;
      });
      if (choice === "save") save(target);
    }
    return { target, db, file, changes };
  }
}
