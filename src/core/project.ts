// pgship.json: an app's database project, at the root of the app's repository.
//
//   { "name": "myapp-db", "displayName": "MyApp database", "trackingSchema": "myapp_db",
//     "releaseRepository": "acme/myapp", "migrationsDir": "db/migrations", "schemaFile": "db/schema.sql" }
//
// `new`, `dump` and `check` take their default migrations directory and schema file
// from it, `pack` its branding, and scripts/build.ts all of it (it wins over
// package.json's `pgship` section). Any problem is one message naming the file (exit 2).

import { join, resolve } from "node:path";
import { ExitCode, PgshipError } from "./errors.ts";
import { readRegularFile, shownPath } from "./files.ts";

export const PROJECT_FILE = "pgship.json";

export interface Project {
  /** The binary's name (and its release assets'), e.g. myapp-db. */
  name: string;
  displayName: string;
  trackingSchema: string;
  /** owner/repo on GitHub whose releases install.sh downloads; null when not set. */
  releaseRepository: string | null;
  /** Absolute paths, resolved against the project directory. */
  migrationsDir: string;
  schemaFile: string;
  /** The project directory (where pgship.json is) and the file itself. */
  dir: string;
  file: string;
}

const KEYS = ["name", "displayName", "trackingSchema", "releaseRepository", "migrationsDir", "schemaFile"] as const;

/** A name that is safe as a file name, a release asset's prefix and a shell word. */
export const BINARY_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
/** A PostgreSQL identifier that needs no quoting (what --tracking-schema accepts). */
export const TRACKING_SCHEMA = /^[a-z_][a-z0-9_]{0,62}$/;
export const RELEASE_REPOSITORY = /^[A-Za-z0-9][A-Za-z0-9-]{0,38}\/[A-Za-z0-9._-]{1,100}$/;

export function binaryNameProblem(name: string): string | null {
  if (!BINARY_NAME.test(name)) return `"${name}" is not a safe binary name: use lower-case letters, digits, '.', '_' and '-' (at most 63, starting with a letter or digit), e.g. myapp-db`;
  return null;
}

export function trackingSchemaProblem(schema: string): string | null {
  if (!TRACKING_SCHEMA.test(schema)) return `"${schema}" is not a safe schema name: use lower-case letters, digits and _ (at most 63, not starting with a digit), e.g. myapp_db`;
  return null;
}

export function releaseRepositoryProblem(repo: string): string | null {
  if (!RELEASE_REPOSITORY.test(repo) || repo.split("/")[1]!.startsWith(".")) return `"${repo}" is not a GitHub repository: use owner/name, e.g. acme/myapp`;
  return null;
}

export function displayNameProblem(name: string): string | null {
  if (!name.trim() || /[\u0000-\u001f"$`\\]/.test(name)) return `"${name}" may not be empty or hold control characters, quotes, $, \` or \\`;
  return null;
}

/** The tracking schema that goes with a binary name: myapp-db -> myapp_db. */
export function defaultTrackingSchema(name: string): string {
  const s = name.replace(/[^a-z0-9_]/g, "_").slice(0, 63);
  return /^[a-z_]/.test(s) ? s : `_${s}`.slice(0, 63);
}

function invalid(file: string, problem: string): PgshipError {
  return new PgshipError("project_invalid", `${file}: ${problem}`, { exitCode: ExitCode.usage, hint: "fix the file (see the README's 'Ship it with your app')" });
}

/**
 * The project in `dir` (its pgship.json), or null when there is none. A file that
 * is not valid JSON, has an unknown key, or a bad value is a `project_invalid` error.
 */
export function loadProject(dir: string): Project | null {
  const path = resolve(dir, PROJECT_FILE);
  const shown = shownPath(path);
  const text = readRegularFile(path, "project file", shown);
  if (text === null) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw invalid(shown, `not valid JSON (${(e as Error).message})`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw invalid(shown, "must hold one JSON object");
  const o = raw as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !(KEYS as readonly string[]).includes(k));
  if (unknown.length) throw invalid(shown, `unknown key${unknown.length > 1 ? "s" : ""} ${unknown.map((k) => `"${k}"`).join(", ")} (known: ${KEYS.join(", ")})`);
  const str = (key: (typeof KEYS)[number]): string | undefined => {
    const v = o[key];
    if (v === undefined) return undefined;
    if (typeof v !== "string" || v.trim() === "") throw invalid(shown, `"${key}" must be a non-empty string`);
    return v;
  };
  const name = str("name");
  if (name === undefined) throw invalid(shown, `"name" is missing: the binary's name, e.g. "myapp-db"`);
  const problem = binaryNameProblem(name);
  if (problem) throw invalid(shown, `"name": ${problem}`);
  const trackingSchema = str("trackingSchema") ?? defaultTrackingSchema(name);
  const schemaProblem = trackingSchemaProblem(trackingSchema);
  if (schemaProblem) throw invalid(shown, `"trackingSchema": ${schemaProblem}`);
  const releaseRepository = str("releaseRepository") ?? null;
  const repoProblem = releaseRepository === null ? null : releaseRepositoryProblem(releaseRepository);
  if (repoProblem) throw invalid(shown, `"releaseRepository": ${repoProblem}`);
  const displayName = str("displayName") ?? name;
  const displayProblem = displayNameProblem(displayName);
  if (displayProblem) throw invalid(shown, `"displayName": ${displayProblem}`);
  const migrationsDir = resolve(dir, str("migrationsDir") ?? "migrations");
  const schemaFile = str("schemaFile") === undefined ? join(resolve(migrationsDir, ".."), "schema.sql") : resolve(dir, o.schemaFile as string);
  return { name, displayName, trackingSchema, releaseRepository, migrationsDir, schemaFile, dir: resolve(dir), file: path };
}
