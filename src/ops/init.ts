// init: write what makes an app's repository ship its database: a first
// migration (unless it has migrations), pgship.json, the GitHub workflow and the
// branded install.sh. Refuses when any of them exists, unless `force`.

import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { migrationTemplate, utcVersion } from "../commands/new.ts";
import { PgshipError } from "../core/errors.ts";
import { PROJECT_FILE } from "../core/project.ts";
import { brandInstallScript } from "../init/install-script.ts";
import { workflowYaml, type WorkflowInput } from "../init/workflow.ts";
import { modelPathFor } from "../source.ts";

export interface InitOptions {
  /** The repository's root: every path below is absolute, or relative to it. */
  root: string;
  name: string;
  displayName: string;
  trackingSchema: string;
  releaseRepository: string;
  migrationsDir: string;
  schemaFile: string;
  /** Overwrite the files that exist (existing migrations are kept either way). */
  force: boolean;
  /** The pgship release the workflow downloads. */
  tool: WorkflowInput["tool"];
}

export interface InitOutcome {
  ok: true;
  /** What pgship.json holds (paths relative to the root). */
  project: { name: string; displayName: string; trackingSchema: string; releaseRepository: string; migrationsDir: string; schemaFile: string };
  /** The files written, relative to the root. */
  files: string[];
  /** The first migration, when one was written. */
  firstMigration: string | null;
  /** What to commit once the snapshot is dumped (paths relative to the root). */
  commit: string[];
}

export function initProject(o: InitOptions): InitOutcome {
  const rel = (p: string) => relative(o.root, p) || ".";
  const projectFile = join(o.root, PROJECT_FILE);
  const workflowFile = join(o.root, ".github", "workflows", "db.yml");
  const installFile = join(dirname(o.migrationsDir), "install.sh");
  const hasMigrations = existsSync(o.migrationsDir) && readdirSync(o.migrationsDir).some((f) => f.endsWith(".sql"));

  const taken = [projectFile, workflowFile, installFile].filter((f) => existsSync(f)).map(rel);
  if (hasMigrations) taken.push(`${rel(o.migrationsDir)}/ (holds migrations)`);
  if (taken.length && !o.force) {
    throw new PgshipError("project_exists", `already there: ${taken.join(", ")}; nothing was written`, { hint: "pass --force to overwrite them (existing migrations are kept)" });
  }

  const project = { name: o.name, displayName: o.displayName, trackingSchema: o.trackingSchema, releaseRepository: o.releaseRepository, migrationsDir: rel(o.migrationsDir), schemaFile: rel(o.schemaFile) };
  const files: string[] = [];
  const write = (path: string, text: string, mode?: number) => {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text, mode === undefined ? undefined : { mode });
    files.push(rel(path));
  };
  let first: string | null = null;
  mkdirSync(o.migrationsDir, { recursive: true });
  if (!hasMigrations) {
    first = join(o.migrationsDir, `${utcVersion(new Date())}_initial_schema.sql`);
    write(first, migrationTemplate(true));
  }
  write(projectFile, `${JSON.stringify(project, null, 2)}\n`);
  write(workflowFile, workflowYaml({ tool: o.tool, projectFile: PROJECT_FILE, installScript: rel(installFile) }));
  write(installFile, brandInstallScript(o), 0o755);

  // The directory holding the migrations (db/) when everything is in it, else each path.
  const home = rel(dirname(o.migrationsDir));
  const under = (p: string) => (home !== "." && rel(p).startsWith(`${home}/`) ? home : rel(p));
  const commit = [...new Set([PROJECT_FILE, ...[o.migrationsDir, installFile, o.schemaFile, modelPathFor(o.schemaFile)].map(under), rel(workflowFile)])];
  return { ok: true, project, files, firstMigration: first && rel(first), commit };
}
