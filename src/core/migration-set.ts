// A validated, ordered set of migrations plus the snapshot that goes with it.
// Pure: texts in, a MigrationSet or every problem across all files out.

import { brand } from "../brand.ts";
import { MigrationFileError, type FileProblem } from "./errors.ts";
import { parseMigrationFile, type Migration } from "./migration-file.ts";
import { parseSnapshotHeader } from "./snapshot.ts";

export interface SourceFile {
  file: string;
  text: string;
}

export interface Snapshot {
  /** Version of the newest migration the snapshot contains. */
  version: string;
  sql: string;
}

export interface MigrationSet {
  migrations: Migration[];
  snapshot: Snapshot | null;
}

/** What `status` needs of a migration: no SQL. */
export type MigrationInfo = Pick<Migration, "version" | "name" | "file" | "checksum">;

/** A MigrationSet without the SQL: cheap to load, enough for `status`. */
export interface MigrationIndex {
  migrations: MigrationInfo[];
  snapshot: { version: string } | null;
}

/** The index of a set (what the build embeds apart from the SQL). */
export const indexOf = (set: MigrationIndex): MigrationIndex => ({
  migrations: set.migrations.map(({ version, name, file, checksum }) => ({ version, name, file, checksum })),
  snapshot: set.snapshot ? { version: set.snapshot.version } : null,
});

export function parseMigrationSet(files: SourceFile[], snapshot?: SourceFile | null): MigrationSet {
  const problems: FileProblem[] = [];
  const migrations: Migration[] = [];
  for (const f of files) {
    try {
      migrations.push(parseMigrationFile(f.file, f.text));
    } catch (e) {
      if (e instanceof MigrationFileError) problems.push(...e.problems);
      else throw e;
    }
  }
  const byVersion = new Map<string, Migration>();
  for (const m of migrations) {
    const other = byVersion.get(m.version);
    if (other) problems.push({ file: m.file, line: 1, message: `duplicate version ${m.version} (also ${other.file})` });
    else byVersion.set(m.version, m);
  }
  migrations.sort((a, b) => (a.version < b.version ? -1 : a.version > b.version ? 1 : 0));

  let snap: Snapshot | null = null;
  if (snapshot) {
    const header = parseSnapshotHeader(snapshot.text);
    if ("error" in header) problems.push({ file: snapshot.file, line: 1, message: header.error });
    else if (!byVersion.has(header.version)) {
      problems.push({
        file: snapshot.file,
        line: 1,
        message: `snapshot is at version ${header.version}, which is not one of the migrations; regenerate it with '${brand.binary} dump'`,
      });
    } else snap = { version: header.version, sql: snapshot.text };
  }
  if (problems.length > 0) throw new MigrationFileError(problems);
  return { migrations, snapshot: snap };
}
