// Wizard step 1: where the database is. Uses DATABASE_URL / .env when present
// (shown without the password), else asks; tests the connection and, when it
// fails, says why in plain words and offers retry / edit / create / quit.

import { password, select, text } from "@clack/prompts";
import { describeTarget, type ConnectionTarget } from "../core/config.ts";
import type { Db } from "../db/connect.ts";
import { answer, Cancelled, ProgressLine, say, type WizardIO } from "./ui.ts";

export interface ConnectDeps {
  tryConnect(t: ConnectionTarget): Promise<Db>;
  /** Creates the role and database with admin credentials; returns the new target, or null if abandoned. */
  provision(io: WizardIO, t: ConnectionTarget): Promise<ConnectionTarget | null>;
}

export interface Found {
  target: ConnectionTarget;
  /** "DATABASE_URL", ".env", "PG* variables" or "--database-url" */
  from: string;
}

/** Why a connection failed, for people who are not database administrators. */
export function explain(e: unknown, t: ConnectionTarget): { words: string; canCreate: boolean } {
  const err = e as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = String(err.cause?.code ?? err.code ?? "");
  const msg = String(err.cause?.message ?? err.message ?? "");
  const where = t.socketDir ? `the socket in ${t.socketDir}` : `${t.host}:${t.port}`;
  if (code === "28P01") return { words: `The password for user "${t.user}" was not accepted.`, canCreate: true };
  if (code === "3D000") return { words: `The database "${t.database}" does not exist yet.`, canCreate: true };
  if (code === "28000" && /role .* does not exist/.test(msg)) return { words: `The user "${t.user}" does not exist on this server.`, canCreate: true };
  if (code === "28000") return { words: `The server does not allow user "${t.user}" to connect from here (pg_hba.conf).`, canCreate: false };
  if (code === "ECONNREFUSED") return { words: `Nothing is listening at ${where}. Is PostgreSQL running, and on that port?`, canCreate: false };
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return { words: `The host name "${t.host}" could not be found.`, canCreate: false };
  if (code === "ENOENT") return { words: `There is no PostgreSQL socket at ${where}.`, canCreate: false };
  if (/TIMEDOUT|TIMEOUT|UNREACH/.test(code)) return { words: `The server at ${where} did not answer.`, canCreate: false };
  return { words: `Could not connect: ${msg.split("\n")[0]}`, canCreate: false };
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

export async function connectStep(io: WizardIO, found: Found | null, appName: string, deps: ConnectDeps): Promise<{ target: ConnectionTarget; db: Db }> {
  const out = io.output ?? process.stdout;
  let target: ConnectionTarget;
  if (found) {
    say.info(io, `Using ${found.from}: ${describeTarget(found.target)}`);
    target = found.target;
  } else {
    say.info(io, "No DATABASE_URL found: tell me where the database is.");
    target = await askTarget(io, {}, appName);
  }
  for (;;) {
    const line = new ProgressLine(out);
    line.start(`Connecting to ${describeTarget(target)}`);
    try {
      const db = await deps.tryConnect(target);
      line.done(`Connected to ${describeTarget(target)} (PostgreSQL ${db.serverVersion.split(" ")[0]})`);
      return { target, db };
    } catch (e) {
      const why = explain(e, target);
      line.done(why.words, false);
      const choice = await answer(
        select({
          ...io,
          message: "What now?",
          options: [
            ...(why.canCreate ? [{ value: "create", label: "Create the database and user", hint: "needs the PostgreSQL admin password" }] : []),
            { value: "retry", label: "Try again" },
            { value: "edit", label: "Change the connection settings" },
            { value: "quit", label: "Quit" },
          ],
        }),
      );
      if (choice === "quit") throw new Cancelled();
      if (choice === "edit") target = await askTarget(io, target, appName);
      if (choice === "create") target = (await deps.provision(io, target)) ?? target;
    }
  }
}
