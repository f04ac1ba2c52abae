// A throwaway database on the same server, always dropped afterwards (also when
// the work fails or is interrupted).

import { randomBytes } from "node:crypto";
import { PgshipError } from "../core/errors.ts";
import type { ConnectionTarget } from "../core/config.ts";
import type { Migration } from "../core/migration-file.ts";
import { statements } from "../core/sql-split.ts";
import { connect, safeMessage, withTransaction, type Db } from "./connect.ts";
import { isSqlState, SQLSTATE } from "./sqlstate.ts";
import { quoteIdent } from "./tracking.ts";

export async function withScratchDatabase<T>(admin: Db, fn: (db: Db, target: ConnectionTarget) => Promise<T>): Promise<T> {
  const name = `pgship_scratch_${randomBytes(6).toString("hex")}`;
  try {
    await admin.sql.unsafe(`create database ${quoteIdent(name)} template template0`);
  } catch (e) {
    throw new PgshipError("scratch_failed", `cannot create a scratch database on the server: ${safeMessage(e, admin.target)}`, {
      hint: isSqlState(e, SQLSTATE.insufficientPrivilege) ? "this command needs a role with CREATEDB; point --database-url at a development server where you have it" : undefined,
      cause: e,
    });
  }
  const target = { ...admin.target, database: name };
  let db: Db | undefined;
  try {
    db = await connect(target, { applicationName: "pgship scratch" });
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
      if (m.up.options.transaction) await withTransaction(db.sql, (tx) => tx.unsafe(m.up.sql));
      else for (const st of statements(m.up.sql)) await db.sql.unsafe(st.text);
    } catch (e) {
      throw new PgshipError("replay_failed", `replaying ${m.file} failed: ${safeMessage(e, db.target)}`, { cause: e });
    }
  }
}
