// A throwaway database on the same server, always dropped afterwards (also when
// the work fails or is interrupted).

import { runSection } from "./run-sql.ts";
import { quoteIdent, quoteLiteral } from "../core/format.ts";
import { randomBytes } from "node:crypto";
import { brand } from "../brand.ts";
import { PgshipError } from "../core/errors.ts";
import { pid } from "../runtime.ts";
import type { ConnectionTarget } from "../core/config.ts";
import type { Migration } from "../core/migration-file.ts";
import { connect, safeMessage, type Db } from "./connect.ts";
import { isSqlState, SQLSTATE } from "./sqlstate.ts";
import { SCRATCH_PREFIX, scratchComment } from "../backup/restore-plan.ts";

/**
 * `purpose` (the command) goes into the database's COMMENT with the database it
 * serves, the time and the pid, so one left behind by a killed run is recognised
 * (restore --drop-old, doctor) and dropped.
 */
export async function withScratchDatabase<T>(admin: Db, purpose: string, fn: (db: Db, target: ConnectionTarget) => Promise<T>): Promise<T> {
  const name = `${SCRATCH_PREFIX}${randomBytes(6).toString("hex")}`;
  try {
    await admin.sql.unsafe(`create database ${quoteIdent(name)} template template0`);
    await admin.sql.unsafe(`comment on database ${quoteIdent(name)} is ${quoteLiteral(scratchComment(admin.target.database, new Date(), `${brand.binary} ${purpose}`, pid()))}`).catch(async (e: unknown) => {
      await admin.sql.unsafe(`drop database if exists ${quoteIdent(name)}`).catch(() => undefined);
      throw e;
    });
  } catch (e) {
    throw new PgshipError("scratch_failed", `cannot create a scratch database on the server: ${safeMessage(e, admin.target)}`, {
      hint: isSqlState(e, SQLSTATE.insufficientPrivilege) ? "this command needs a role with CREATEDB; point --database-url at a development server where you have it" : undefined,
      cause: e,
    });
  }
  const target = { ...admin.target, database: name };
  let db: Db | undefined;
  try {
    db = await connect(target, { applicationName: `${brand.binary} scratch` });
    return await fn(db, target);
  } finally {
    await db?.close().catch(() => undefined);
    const force = admin.serverVersionNum >= 130000 ? " with (force)" : "";
    await admin.sql.unsafe(`drop database if exists ${quoteIdent(name)}${force}`).catch(() => undefined);
  }
}

/** Runs every migration's up section as written, without tracking: the reference replay. */
export async function replayMigrations(db: Db, migrations: Migration[]): Promise<void> {
  for (const m of migrations) {
    try {
      await runSection(db.sql, m.up);
    } catch (e) {
      throw new PgshipError("replay_failed", `replaying ${m.file} failed: ${safeMessage(e, db.target)}`, { cause: e });
    }
  }
}
