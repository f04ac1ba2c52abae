// Which schema a live database should have: exactly the schema of ITS version,
// never another one. First the model for that version shipped with the binary
// (schema.model.json records the model at every migration), else one built by
// replaying the migrations up to that version in a scratch database (needs
// CREATEDB). When neither is possible there is no comparison: a model of
// another version would report that version's changes as drift, and repairing
// against it would apply them (then the pending migrations fail forever).

import { brand } from "../brand.ts";
import type { Emit } from "../core/events.ts";
import { PgshipError } from "../core/errors.ts";
import type { Db } from "../db/connect.ts";
import { replayMigrations, withScratchDatabase } from "../db/scratch.ts";
import type { LoadedSet } from "../source.ts";
import { introspect } from "./introspect.ts";
import type { ModelHistory } from "./model-history.ts";
import type { Model } from "./model.ts";

export interface Expected {
  /** Always the database's own version. */
  version: string;
  model: Model;
  source: "model file" | "scratch replay";
  note: string;
}

export interface ExpectedOptions {
  /** Build the model in a scratch database when the model file lacks it (default true). */
  replay?: boolean;
}

/**
 * Why the shipped models do not describe `version`, or null when they do. The
 * migrations up to `version` must also be the ones the model file was written
 * from: a migration added later with an older version would make it wrong.
 */
export function missingModelReason(set: LoadedSet, models: ModelHistory | null, version: string): string | null {
  if (!models) return "this binary ships no schema model";
  if (!models.has(version)) {
    return models.perVersion
      ? `the schema model shipped with this binary has no entry for ${version}`
      : `the schema model shipped with this binary describes only ${models.head} (it was written before models were recorded for every version)`;
  }
  if (models.perVersion) {
    const recorded = models.versions.filter((v) => v <= version).join(",");
    const known = set.migrations.filter((m) => m.version <= version).map((m) => m.version).join(",");
    if (recorded !== known) return `the schema model shipped with this binary was written for a different list of migrations up to ${version}`;
  }
  return null;
}

export async function expectedModel(set: LoadedSet, db: Db, schema: string, version: string, emit: Emit, opts: ExpectedOptions = {}): Promise<Expected> {
  const models = await set.models();
  const missing = missingModelReason(set, models, version);
  if (!missing) {
    return { version, model: models!.modelAt(version)!, source: "model file", note: `compared with the schema model for ${version} shipped with this binary` };
  }
  const head = set.migrations.at(-1)?.version;
  const unavailable = (why: string) =>
    new PgshipError("model_unavailable", `cannot compare: there is no exact model of the schema at ${version} (${why}); ${brand.display} never compares with, or repairs against, the schema of another version`, {
      hint: head && version < head
        ? `run '${brand.binary} up' to bring the database to ${head} (pending migrations first, then verify), or run verify as a role that may create databases: it then builds the model for ${version} in a scratch database`
        : `regenerate schema.model.json with '${brand.binary} dump' and rebuild, or run verify as a role that may create databases: it then builds the model in a scratch database`,
    });
  if (opts.replay === false) throw unavailable(missing);
  const upTo = set.migrations.filter((m) => m.version <= version);
  try {
    emit({ type: "info", message: `${missing}: building the model for ${version} by replaying ${upTo.length} migrations in a scratch database` });
    const model = await withScratchDatabase(db, "verify", async (scratch) => {
      await replayMigrations(scratch, upTo);
      return introspect(scratch.sql, schema);
    });
    return { version, model, source: "scratch replay", note: `compared with the schema built by replaying the migrations up to ${version} in a scratch database` };
  } catch (e) {
    if (!(e instanceof PgshipError) || e.code !== "scratch_failed") throw e;
    throw unavailable(`${missing}, and this role cannot create a scratch database to build it`);
  }
}
