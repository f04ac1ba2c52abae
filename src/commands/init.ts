// init: make an app's repository (of any language) ship its database: a first
// migration, pgship.json, a GitHub workflow that checks pull requests and
// releases the app's own branded binary on tags, and that binary's install.sh.

import { spawnSync } from "node:child_process";
import { basename, dirname, join, resolve } from "node:path";
import type { ArgsDef } from "citty";
import { brand } from "../brand.ts";
import type { Context } from "../cli/context.ts";
import type { Args } from "../cli/flags.ts";
import { ExitCode, UsageError } from "../core/errors.ts";
import { binaryNameProblem, defaultTrackingSchema, displayNameProblem, PROJECT_FILE, releaseRepositoryProblem, trackingSchemaProblem } from "../core/project.ts";
import { initProject } from "../ops/init.ts";
import { ask, cwd, stdinIsTTY } from "../runtime.ts";

export const args = {
  name: { type: "string", description: "The binary's name (default: <directory>-db)", valueHint: "name" },
  "display-name": { type: "string", description: "The name people read (default: the binary's name)", valueHint: "text" },
  "release-repository": { type: "string", description: "GitHub owner/repo whose releases install.sh downloads (default: the origin remote)", valueHint: "repo" },
  force: { type: "boolean", description: "Overwrite files init writes that already exist" },
} as const satisfies ArgsDef;

export const usage = `Run at the root of the app's repository. Writes db/migrations/ (with a first
migration), ${PROJECT_FILE}, .github/workflows/db.yml and db/install.sh; refuses to overwrite any
of them (exit 1, listing them) unless --force. --tracking-schema, --migrations-dir and
--schema-file set those of the project (defaults: <name>_db, db/migrations, db/schema.sql).
Examples:
  ${brand.binary} init
  ${brand.binary} init --name myapp-db --release-repository acme/myapp`;

/** The GitHub owner/repo of the origin remote, if it is on GitHub. */
function originRepository(dir: string): string | null {
  const r = spawnSync("git", ["config", "--get", "remote.origin.url"], { cwd: dir, encoding: "utf8" });
  if (r.status !== 0) return null;
  const m = /github\.com[:/]+([^/\s]+\/[^/\s]+?)(?:\.git)?\/?$/.exec(r.stdout.trim());
  return m && !releaseRepositoryProblem(m[1]!) ? m[1]! : null;
}

/** A flag's value, else (on a terminal) the answer to a question, else the default. */
async function value(ctx: Context, flag: unknown, question: string, fallback: string | null): Promise<string | null> {
  if (typeof flag === "string") return flag.trim();
  if (!stdinIsTTY() || ctx.json || ctx.yes) return fallback;
  const answer = (await ctx.interrupt.race(ask(`${question}${fallback ? ` [${fallback}]` : ""}: `, ctx.interrupt.signal), "at the prompt: nothing was written")).trim();
  return answer || fallback;
}

function check(problem: string | null, flag: string): void {
  if (problem) throw new UsageError(`--${flag}: ${problem}`);
}

export async function run(ctx: Context, a: Args): Promise<number> {
  const root = cwd();
  const fallbackName = `${basename(root).toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^[^a-z0-9]+/, "").slice(0, 60)}-db`;
  const name = (await value(ctx, a.name, "Name of the app's database binary", binaryNameProblem(fallbackName) ? null : fallbackName))!;
  if (!name) throw new UsageError(`cannot make a binary name from the directory name "${basename(root)}"`, "pass --name, e.g. --name myapp-db");
  check(binaryNameProblem(name), "name");
  const displayName = (await value(ctx, a["display-name"], "Display name", name))!;
  check(displayNameProblem(displayName), "display-name");
  const trackingSchema = typeof a["tracking-schema"] === "string" ? a["tracking-schema"] : defaultTrackingSchema(name);
  check(trackingSchemaProblem(trackingSchema), "tracking-schema");
  const releaseRepository = await value(ctx, a["release-repository"], "GitHub repository the releases are published in (owner/repo)", originRepository(root));
  if (!releaseRepository) {
    throw new UsageError("cannot tell which GitHub repository publishes the releases (no GitHub origin remote)", "pass --release-repository OWNER/REPO, e.g. --release-repository acme/myapp");
  }
  check(releaseRepositoryProblem(releaseRepository), "release-repository");

  const migrationsDir = resolve(root, typeof a["migrations-dir"] === "string" ? a["migrations-dir"] : "db/migrations");
  const schemaFile = resolve(root, typeof a["schema-file"] === "string" ? a["schema-file"] : join(dirname(migrationsDir), "schema.sql"));
  const tool = { binary: brand.binary, version: brand.version, releaseRepository: brand.releaseRepository };
  const { project, files: written, firstMigration, commit } = initProject({ root, name, displayName, trackingSchema, releaseRepository, migrationsDir, schemaFile, force: Boolean(a.force), tool });

  const edit = firstMigration ?? project.migrationsDir;
  const next = [`${ctx.binary} dump --database-url postgres://localhost/dev`, `${ctx.binary} check --database-url postgres://localhost/dev`, `git add ${commit.join(" ")} && git commit -m "Ship the database with ${name}"`];
  ctx.result({ ok: true, project, files: written, next }, () =>
    [
      `Wrote ${written.join(", ")}.`,
      "",
      `Write the first migration's SQL in ${edit}, then:`,
      `  1. ${next[0]}   # writes ${project.schemaFile} (any server where you may create databases)`,
      `  2. ${next[1]}  # what CI runs on every pull request`,
      `  3. ${next[2]}`,
      "",
      `Pushing a tag (git tag v0.1.0 && git push --tags) releases ${name}; people install it with`,
      `  curl -fsSL https://github.com/${releaseRepository}/releases/latest/download/install.sh | sh`,
    ].join("\n"),
  );
  return ExitCode.ok;
}
