// Creating what is missing with the admin's credentials, and nothing more:
// - "database": the user logs in, its database is missing: create it, owned by
//   the user; no password changes.
// - "user": create the user (with a generated password) and its database if
//   missing; a user that exists is left alone (its password was just wrong).
// - "password": set a new generated password (the person chose this knowing
//   what else breaks); create the user or database if missing.
// The caller saves a new password to ./.env.

import { password, text } from "@clack/prompts";
import type { ConnectionTarget } from "../core/config.ts";
import type { Db } from "../db/connect.ts";
import type { Provisioned, ProvisionMode } from "./connect.ts";
import { generatePassword, scramVerifier } from "./provision.ts";
import { answer, ProgressLine, say, type WizardIO } from "./ui.ts";

export interface ProvisionDeps {
  connectAdmin(t: ConnectionTarget): Promise<Db>;
}

export async function provisionStep(io: WizardIO, t: ConnectionTarget, mode: ProvisionMode, deps: ProvisionDeps): Promise<Provisioned | null> {
  const out = io.output ?? process.stdout;
  const adminUser = await answer(text({ ...io, message: "PostgreSQL admin user", placeholder: "postgres", defaultValue: "postgres" }));
  const adminPassword = await answer(password({ ...io, message: `Password for ${adminUser || "postgres"}`, mask: "*" }));
  const admin: ConnectionTarget = { ...t, user: adminUser || "postgres", password: adminPassword ?? "", database: "postgres" };
  const line = new ProgressLine(out);
  line.start(`Connecting as ${admin.user}`);
  let db: Db;
  try {
    db = await deps.connectAdmin(admin);
    line.done(`Connected as ${admin.user}`);
  } catch (e) {
    line.done(`Could not connect as ${admin.user}: ${(e as Error).message.split("\n")[0]}`, false);
    return null;
  }
  try {
    const format = async (template: string, ...args: string[]) => (await db.sql.unsafe<{ q: string }[]>(`select format('${template}', ${args.map((_, i) => `$${i + 1}::text`).join(", ")}) as q`, args))[0]!.q;
    const roleExists = (await db.sql.unsafe(`select 1 from pg_roles where rolname = $1`, [t.user])).length > 0;
    const dbExists = (await db.sql.unsafe(`select 1 from pg_database where datname = $1`, [t.database])).length > 0;
    if (mode === "user" && roleExists) {
      say.warn(io, `User "${t.user}" exists: it was its password that was not accepted. Nothing was changed; type the password again, or set a new one.`);
      return null;
    }
    const changes: string[] = [];
    let next = t;
    try {
      if (mode !== "database" || !roleExists) {
        const pw = generatePassword();
        // The server gets a SCRAM verifier, never the password: statement logs stay clean.
        await db.sql.unsafe(await format(`${roleExists ? "alter" : "create"} role %I with login password %L`, t.user, scramVerifier(pw)));
        changes.push(roleExists ? `set a new password for ${t.user}` : `created user ${t.user}`);
        next = { ...t, password: pw, source: "dotenv" };
      }
      if (!dbExists) {
        await db.sql.unsafe(await format("create database %I owner %I", t.database, t.user));
        changes.push(`created database ${t.database}`);
      }
    } catch (e) {
      // E.g. an admin without CREATEROLE or CREATEDB: say so; what was done is still reported (and a new password saved).
      say.error(io, `As ${admin.user}: ${(e as Error).message.split("\n")[0]}${changes.length ? ` (done before that: ${changes.join("; ")})` : ""}`);
      return changes.length ? { target: next, changes, newPassword: next !== t } : null;
    }
    if (changes.length === 0) say.info(io, `User "${t.user}" and database "${t.database}" both exist: nothing to create.`);
    else say.success(io, `${changes.map((c) => c[0]!.toUpperCase() + c.slice(1)).join("; ")}.`);
    return { target: next, changes, newPassword: next !== t };
  } finally {
    await db.close();
  }
}
