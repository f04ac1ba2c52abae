// "Create the database and user for me": with the admin's credentials, create
// (or re-key) the app's role with a generated password, create its database,
// and record DATABASE_URL in .env (0600, other lines kept).

import { chmodSync, writeFileSync } from "node:fs";
import { confirm, password, text } from "@clack/prompts";
import { describeTarget, type ConnectionTarget } from "../core/config.ts";
import { readRegularFile } from "../core/files.ts";
import type { Db } from "../db/connect.ts";
import { databaseUrl, generatePassword, scramVerifier, upsertDotenv } from "./provision.ts";
import { answer, ProgressLine, say, type WizardIO } from "./ui.ts";

export interface ProvisionDeps {
  connectAdmin(t: ConnectionTarget): Promise<Db>;
  dotenvPath: string;
}

export async function provisionStep(io: WizardIO, t: ConnectionTarget, deps: ProvisionDeps): Promise<ConnectionTarget | null> {
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
    const [role] = await db.sql.unsafe(`select 1 from pg_roles where rolname = $1`, [t.user]);
    if (role && !(await answer(confirm({ ...io, message: `User "${t.user}" exists. Give it a new generated password?`, initialValue: true })))) return null;
    const pw = generatePassword();
    // The server gets a SCRAM verifier, never the password: statement logs stay clean.
    const verb = role ? "alter" : "create";
    const [q] = await db.sql.unsafe<{ q: string }[]>(`select format('${verb} role %I with login password %L', $1::text, $2::text) as q`, [t.user, scramVerifier(pw)]);
    await db.sql.unsafe(q!.q);
    const [exists] = await db.sql.unsafe(`select 1 from pg_database where datname = $1`, [t.database]);
    if (!exists) {
      const [c] = await db.sql.unsafe<{ q: string }[]>(`select format('create database %I owner %I', $1::text, $2::text) as q`, [t.database, t.user]);
      await db.sql.unsafe(c!.q);
    }
    const next: ConnectionTarget = { ...t, password: pw, source: "dotenv" };
    const before = readRegularFile(deps.dotenvPath, "./.env") ?? "";
    writeFileSync(deps.dotenvPath, upsertDotenv(before, "DATABASE_URL", databaseUrl(next)), { mode: 0o600 });
    chmodSync(deps.dotenvPath, 0o600);
    say.success(io, `${role ? "New password set for" : "Created"} user "${t.user}"${exists ? "" : ` and database "${t.database}"`}; DATABASE_URL saved in ${deps.dotenvPath} (mode 0600)`);
    say.info(io, `Connecting as ${describeTarget(next)}`);
    return next;
  } finally {
    await db.close();
  }
}
