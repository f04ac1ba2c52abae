// Where migrations come from: the bundle compiled into the binary, or files on
// disk (--migrations-dir / --schema-file, and always in source runs).

import { brand } from "./brand.ts";
import { existsSync, readdirSync } from "node:fs";
import { fileError, readRegularFile, shownPath } from "./core/files.ts";
import { dirname, join, resolve } from "node:path";
import { MigrationFileError, PgshipError, UsageError } from "./core/errors.ts";
import type { ModelHistory } from "./catalog/model-history.ts";
import { parseMigrationSet, type MigrationIndex, type MigrationSet, type SourceFile } from "./core/migration-set.ts";
import { cwd } from "./runtime.ts";
import { ownPayload } from "./payload.ts";

/** What the build embeds: migrations parsed and validated at build time. */
export interface Bundle extends MigrationSet {
  builtAt: string;
}

/** Where a set (or its index) came from, and what goes with it besides the SQL. */
export interface LoadedIndex extends MigrationIndex {
  /** "embedded" or the directory the files were read from. */
  origin: string;
  /** Path or name shown to people for a migration file. */
  pathOf(file: string): string;
  /** schema.sql on disk (whether it exists or not); null for the set embedded in the binary. */
  schemaPath: string | null;
  /** Files in the migrations directory that were not read (not .sql, hidden); none for the embedded set. */
  ignored: IgnoredFile[];
  /**
   * The expected schema at each version (schema.model.json), read on first use:
   * only the commands that compare schemas pay for it. Null when there is none.
   */
  models(): Promise<ModelHistory | null>;
}

/** The whole set: the index plus every migration's SQL and the snapshot's. */
export interface LoadedSet extends Omit<LoadedIndex, keyof MigrationIndex>, MigrationSet {}

/** A file in the migrations directory that is not read, and why. */
export interface IgnoredFile {
  file: string;
  reason: string;
}

/**
 * The `.sql` files of a migrations directory, sorted by name. Other names (editor
 * backups, READMEs) and hidden files are ignored and listed; a `.sql` name that is
 * not a readable regular file is an error naming every such file.
 */
export function readSourceFiles(dir: string, shownDir = dir): { files: SourceFile[]; ignored: IgnoredFile[] } {
  if (!existsSync(dir)) {
    throw new UsageError(`migrations directory ${dir} does not exist`, `pass --migrations-dir DIR, or run '${brand.binary} new NAME' to create the first migration`);
  }
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw fileError(shownDir, code === "ENOTDIR" ? "is not a directory" : code === "EACCES" ? "permission denied" : (e as Error).message, "migrations directory");
  }
  const files: SourceFile[] = [];
  const ignored: IgnoredFile[] = [];
  const problems: string[] = [];
  for (const file of names) {
    if (file.startsWith(".")) ignored.push({ file, reason: "hidden file" });
    else if (!file.endsWith(".sql")) ignored.push({ file, reason: "not a .sql file" });
    else {
      try {
        const text = readRegularFile(join(dir, file), undefined, join(shownDir, file));
        if (text === null) throw fileError(join(shownDir, file), "disappeared while reading the directory");
        files.push({ file, text });
      } catch (e) {
        if (!(e instanceof PgshipError)) throw e;
        problems.push(e.message);
      }
    }
  }
  if (problems.length) throw new PgshipError("file", problems.join("\n"), { hint: "migrations must be regular, readable .sql files" });
  return { files, ignored };
}

export function readSnapshotFile(path: string, shown = path): SourceFile | null {
  const text = readRegularFile(path, "schema snapshot", shown);
  return text === null ? null : { file: path, text };
}

/** schema.sql -> schema.model.json: the expected schema model lives beside the snapshot. */
export const modelPathFor = (schemaPath: string) => schemaPath.replace(/(\.sql)?$/, ".model.json");

/** Parses a model file's text (either format); a broken file is one clear error. */
export async function parseModels(text: string, shown: string): Promise<ModelHistory> {
  const { parseModelHistory } = await import("./catalog/model-history.ts");
  try {
    return parseModelHistory(text, shown);
  } catch (e) {
    throw new PgshipError("model_invalid", (e as Error).message, { hint: `regenerate it with '${brand.binary} dump' (needs a server where the role may create databases)` });
  }
}

export async function readModelFile(path: string): Promise<ModelHistory | null> {
  const shown = shownPath(path);
  const text = readRegularFile(path, "schema model", shown);
  return text === null ? null : parseModels(text, shown);
}

/** Loads once, on first call. */
const once = <T>(load: () => Promise<T>): (() => Promise<T>) => {
  let p: Promise<T> | undefined;
  return () => (p ??= load());
};

/** The migrations directory, and the snapshot beside it (./schema.sql for ./migrations) unless given. */
export function diskPaths(opts: { migrationsDir?: string; schemaFile?: string }): { dir: string; schemaPath: string } {
  const dir = resolve(cwd(), opts.migrationsDir ?? "migrations");
  return { dir, schemaPath: opts.schemaFile ? resolve(cwd(), opts.schemaFile) : join(dirname(dir), "schema.sql") };
}

type LoadOptions = { migrationsDir?: string; schemaFile?: string; preferDisk?: boolean; withoutSnapshot?: boolean };

const useEmbedded = (opts: LoadOptions) => !opts.migrationsDir && !opts.schemaFile && !opts.preferDisk;

const embeddedModels = once(async () => {
  const packed = ownPayload();
  const json = packed ? packed.modelsJson() : (await import("./embedded-models.ts")).embeddedModelsJson;
  return json ? parseModels(json, "the model embedded in this binary") : null;
});

/**
 * The set without its SQL. From the binary it is a small module of its own, so
 * `status` never loads (or parses) the SQL it embeds; from disk it is the whole set.
 */
export async function loadMigrationIndex(opts: LoadOptions): Promise<LoadedIndex> {
  // A packed binary's payload replaces what the build embedded (src/payload.ts).
  const packed = ownPayload();
  const embeddedIndexJson = packed ? null : (await import("./embedded-index.ts")).embeddedIndexJson;
  if ((packed || embeddedIndexJson) && useEmbedded(opts)) {
    const index = packed ? packed.index : (JSON.parse(embeddedIndexJson!) as MigrationIndex);
    return { ...index, origin: "embedded", pathOf: (f) => f, schemaPath: null, ignored: [], models: embeddedModels };
  }
  return loadMigrationSet(opts);
}

/** withoutSnapshot: the migrations alone, schema.sql not read (dump rewrites it, so a stale one must not stop it). */
export async function loadMigrationSet(opts: LoadOptions): Promise<LoadedSet> {
  const packed = ownPayload();
  const embeddedJson = !useEmbedded(opts) ? null : packed ? packed.setJson() : (await import("./embedded.ts")).embeddedJson;
  if (embeddedJson) {
    const bundle = JSON.parse(embeddedJson) as Bundle;
    return { migrations: bundle.migrations, snapshot: bundle.snapshot, origin: "embedded", pathOf: (f) => f, schemaPath: null, ignored: [], models: embeddedModels };
  }
  const { dir, schemaPath } = diskPaths(opts);
  const shown = shownPath(dir);
  const { files, ignored } = readSourceFiles(dir, shown);
  let set: MigrationSet;
  try {
    set = parseMigrationSet(files, opts.withoutSnapshot ? null : readSnapshotFile(schemaPath, shownPath(schemaPath)));
  } catch (e) {
    // Point at files the way the user would open them.
    if (e instanceof MigrationFileError) {
      throw new MigrationFileError(e.problems.map((p) => (p.file === schemaPath ? { ...p, file: shownPath(p.file) } : { ...p, file: join(shown, p.file) })));
    }
    throw e;
  }
  return { ...set, origin: dir, pathOf: (f) => join(dir, f), schemaPath, ignored, models: once(() => readModelFile(modelPathFor(schemaPath))) };
}
