// Where the settings for the database come from on this machine: --database-url,
// --env-file, DATABASE_URL, ./.env, PG* variables. Shared by the commands and the
// wizard, which shows the source so a person knows which one won.

import { join, resolve } from "node:path";
import { parseDotenv, resolveTarget, type ConnectionTarget } from "../core/config.ts";
import { UsageError } from "../core/errors.ts";
import { readRegularFile } from "../core/files.ts";
import { redactor } from "../core/redact.ts";
import { cwd, env } from "../runtime.ts";
import type { Args } from "./flags.ts";

export function configuredTarget(args: Args): ConnectionTarget {
  const envFilePath = args["env-file"] ? resolve(cwd(), String(args["env-file"])) : null;
  let envFile = null;
  if (envFilePath) {
    const text = readRegularFile(envFilePath, "--env-file");
    if (text === null) throw new UsageError(`${envFilePath}: no such file (given with --env-file)`);
    envFile = { path: envFilePath, values: parseDotenv(text) };
  }
  const dotenvText = envFile ? null : readRegularFile(join(cwd(), ".env"), "./.env");
  const dotenv = dotenvText === null ? null : parseDotenv(dotenvText);
  const e = env();
  // Before parsing: a URL that fails to parse must not leak through the error.
  redactor.addUrl(args["database-url"] as string | undefined).addUrl(envFile?.values.DATABASE_URL).addUrl(e.DATABASE_URL).addUrl(dotenv?.DATABASE_URL).add(e.PGPASSWORD);
  const target = resolveTarget({ flagUrl: args["database-url"] as string | undefined, env: e, dotenv, envFile });
  redactor.add(target.password);
  return target;
}

/** Where a target's settings came from, in words. */
export function describeSource(t: ConnectionTarget, args: Args): string {
  switch (t.source) {
    case "flag":
      return "--database-url";
    case "env-file":
      return `DATABASE_URL in ${resolve(cwd(), String(args["env-file"]))}`;
    case "env":
      return "DATABASE_URL in the environment";
    case "dotenv":
      return `DATABASE_URL in ${join(cwd(), ".env")}`;
    case "pg-env":
      return "the PG* variables";
  }
}


