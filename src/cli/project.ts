// Commands that work on an app's source tree (new, dump, check) take their
// defaults from the pgship.json in the working directory: the migrations
// directory, the schema file and the tracking schema. Flags still win.

import { loadProject } from "../core/project.ts";
import { cwd } from "../runtime.ts";
import type { Args } from "./flags.ts";

export function applyProjectDefaults(args: Args): void {
  const project = loadProject(cwd());
  if (!project) return;
  args["migrations-dir"] ??= project.migrationsDir;
  args["schema-file"] ??= project.schemaFile;
  args["tracking-schema"] ??= project.trackingSchema;
}
