// Which schema a live database should have: the model embedded for the
// snapshot/head version when the database is there, else one built by replaying
// the migrations up to its version in a scratch database, else (no CREATEDB) the
// newest model, said plainly.

import type { Emit } from "../core/events.ts";
import { PgshipError } from "../core/errors.ts";
import type { MigrationSet } from "../core/migration-set.ts";
import type { Db } from "../db/connect.ts";
import { replayMigrations, withScratchDatabase } from "../db/scratch.ts";
import { introspect } from "./introspect.ts";
import type { Model } from "./model.ts";

export interface Expected {
  version: string;
  model: Model;
  source: "model file" | "scratch replay" | "newer model";
  note: string;
}

export async function expectedModel(set: MigrationSet, db: Db, schema: string, version: string, emit: Emit): Promise<Expected> {
  if (set.model && set.model.version === version) {
    return { version, model: set.model.model, source: "model file", note: `compared with the schema model for ${version} shipped with this binary` };
  }
  const upTo = set.migrations.filter((m) => m.version <= version);
  try {
    emit({ type: "info", message: `no shipped model for ${version}: building one by replaying ${upTo.length} migrations in a scratch database` });
    const model = await withScratchDatabase(db, async (scratch) => {
      await replayMigrations(scratch, upTo);
      return introspect(scratch.sql, schema);
    });
    return { version, model, source: "scratch replay", note: `compared with the schema built by replaying the migrations up to ${version} in a scratch database` };
  } catch (e) {
    if (!(e instanceof PgshipError) || e.code !== "scratch_failed" || !set.model) throw e;
    emit({ type: "warn", message: `cannot build the model for ${version} (no CREATEDB); comparing with the model for ${set.model.version}: objects from the migrations after ${version} will show as missing` });
    return {
      version: set.model.version,
      model: set.model.model,
      source: "newer model",
      note: `the database is at ${version} but only the model for ${set.model.version} is available (the role cannot create a scratch database); run 'pgship up' first for an exact comparison`,
    };
  }
}
