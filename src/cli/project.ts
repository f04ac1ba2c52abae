// Commands that work on an app's source tree (new, dump, check) take their
// defaults from the pgship.json in the working directory: the migrations
// directory, the schema file and the tracking schema. Flags still win; with
// --migrations-dir alone the schema file is the one beside that directory.

import { loadProject } from "../core/project.ts";
import { cwd } from "../runtime.ts";
import type { Args } from "./flags.ts";

export function applyProjectDefaults(args: Args): void {
  const project = loadProject(cwd());
  if (!project) return;
  // --migrations-dir alone keeps its default snapshot: schema.sql beside that directory.
  if (args["migrations-dir"] === undefined) args["schema-file"] ??= project.schemaFile;
  args["migrations-dir"] ??= project.migrationsDir;
  args["tracking-schema"] ??= project.trackingSchema;
}
