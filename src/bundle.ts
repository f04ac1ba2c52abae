// The migrations a binary carries, checked once for every way of making one:
// the build (scripts/build.ts) embeds what prepareBundle returns, `pack`
// attaches it to a released binary. A set that builds also packs, and the
// other way round.

import { relative } from "node:path";
import { parseAdoptSection, unknownMapTargets, type AlembicMap } from "./core/adopt-map.ts";
import { MigrationFileError, PgshipError, type ErrorCode } from "./core/errors.ts";
import { readExistingFile } from "./core/files.ts";
import { indexOf, parseMigrationSet, type MigrationSet, type SourceFile } from "./core/migration-set.ts";
import { cwd } from "./runtime.ts";
import { modelPathFor, readModelFile, readSnapshotFile, readSourceFiles, type Bundle } from "./source.ts";

export interface BundleInput {
  /** Absolute paths. */
  migrationsDir: string;
  schemaFile: string;
  /** The raw `adopt` section (package.json's pgship.adopt, or pgship.json's), checked here. */
  adopt?: unknown;
  /** Where `adopt` came from, named in its problems ("package.json"). */
  adoptSource: string;
  /** The tool named in hints ("run '<binary> dump'"). */
  tool: string;
}

/** The three JSON documents a binary carries, and what people are told about them. */
export interface PreparedBundle {
  set: MigrationSet;
  /** What src/embedded-index.ts holds: no SQL. */
  indexJson: string;
  /** What src/embedded.ts holds: every migration and the snapshot, SQL included. */
  bundleJson: string;
  /** What src/embedded-models.ts holds (compact), or null without a model file. */
  modelsJson: string | null;
  alembic: AlembicMap;
  /** Ignored files and stale snapshot/model notes: printed, never fatal. */
  warnings: string[];
  /** "8 migrations (head V, snapshot V)". */
  summary: string;
}

/** The set cannot be carried: each line names a file (file:line where there is one). */
export class BundleError extends PgshipError {
  constructor(
    code: ErrorCode,
    readonly lines: string[],
    readonly summary: string,
    from?: PgshipError,
  ) {
    super(code, lines.length ? `${summary}:\n  ${lines.join("\n  ")}` : summary, { exitCode: from?.exitCode, hint: from?.hint });
  }
}

const shown = (path: string) => relative(cwd(), path) || ".";

export async function prepareBundle(input: BundleInput): Promise<PreparedBundle> {
  const warnings: string[] = [];
  const dir = shown(input.migrationsDir);
  let set: MigrationSet;
  let snapshot: SourceFile | null = null;
  try {
    const { files, ignored } = readSourceFiles(input.migrationsDir, dir);
    for (const f of ignored) warnings.push(`ignored: ${dir}/${f.file} (${f.reason})`);
    snapshot = readSnapshotFile(input.schemaFile, shown(input.schemaFile));
    set = parseMigrationSet(files, snapshot);
  } catch (e) {
    if (e instanceof MigrationFileError) {
      const lines = e.problems.map((p) => `${p.file === snapshot?.file ? shown(p.file) : `${dir}/${p.file}`}:${p.line}: ${p.message}`);
      throw new BundleError("migration_file", lines, `${lines.length} problem(s) in the migrations`);
    }
    // A file that is not a regular, readable file: `file: what is wrong`.
    if (e instanceof PgshipError) throw new BundleError(e.code, e.message.split("\n"), e.code === "usage" ? "no migrations to read" : "unreadable migration files", e);
    throw e;
  }
  const schemaShown = shown(input.schemaFile);
  const head = set.migrations.at(-1)?.version;
  if (!snapshot) warnings.push(`no ${schemaShown}: fresh installs will replay every migration`);
  else if (set.snapshot && set.snapshot.version !== head) {
    warnings.push(`${schemaShown} is at ${set.snapshot.version} but the newest migration is ${head}: run '${input.tool} dump'`);
  }

  const modelPath = modelPathFor(input.schemaFile);
  const modelShown = shown(modelPath);
  let models;
  try {
    models = await readModelFile(modelPath);
  } catch (e) {
    if (e instanceof PgshipError) throw new BundleError(e.code, [], e.message, e);
    throw e;
  }
  if (!models) warnings.push(`no ${modelShown}: 'verify' will need CREATEDB to build its expected schema; run '${input.tool} dump'`);
  else {
    if (models.head !== set.snapshot?.version) warnings.push(`${modelShown} is for ${models.head}, the snapshot for ${set.snapshot?.version}: run '${input.tool} dump'`);
    const missing = set.migrations.filter((m) => !models.has(m.version));
    if (missing.length) warnings.push(`${modelShown} has no model for ${missing.length} version(s) (${missing[0]!.version}…): 'verify' there needs CREATEDB; run '${input.tool} dump'`);
  }

  const adopt = parseAdoptSection(input.adopt);
  const mapProblems = [...adopt.problems, ...unknownMapTargets(adopt.alembic, set.migrations.map((m) => m.version))];
  if (mapProblems.length) {
    throw new BundleError("adopt_map_invalid", mapProblems.map((p) => `${input.adoptSource}: ${p}`), `${mapProblems.length} problem(s) in ${input.adoptSource}'s pgship.adopt`);
  }

  const bundle: Bundle = { ...set, builtAt: new Date().toISOString() };
  return {
    set,
    indexJson: JSON.stringify(indexOf(set)),
    bundleJson: JSON.stringify(bundle),
    // Compact: only the commands that compare schemas parse it.
    modelsJson: models ? JSON.stringify(JSON.parse(readExistingFile(modelPath))) : null,
    alembic: adopt.alembic,
    warnings,
    summary: `${set.migrations.length} migrations (head ${head ?? "none"}, snapshot ${set.snapshot?.version ?? "none"})`,
  };
}
