// The four ways a checked backup goes into a server:
//   swap     build it in a new database beside the live one, then swap names;
//            the old one is kept under a dated name (or dropped with --drop-old)
//   create   the database does not exist (yet): build it and name it
//   into     a new database of the user's choosing, beside the live one
//   in-place no CREATEDB: replace the contents in one transaction
// A failure in any of them leaves the live database as it was.

import type { Emit } from "../core/events.ts";
import { brand } from "../brand.ts";
import type { Interrupt } from "../core/cancel.ts";
import { quoteIdent, quoteLiteral } from "../core/format.ts";
import { PgshipError } from "../core/errors.ts";
import type { Db } from "../db/connect.ts";
import { acquireLock, releaseLock } from "../db/lock.ts";
import type { PgTool } from "../tools/pg-tools.ts";
import { inPlacePreamble, keptComment, keptDatabaseName, workDatabaseName } from "./restore-plan.ts";
import { createDatabase, databaseExists, dropDatabase, readInPlaceTarget, readLiveDatabase, renameDatabase, swapDatabases } from "./restore-db.ts";
import { restoreInPlace, restoreInto, type RestoreInput } from "./restore-stream.ts";

export type RestoreMode = "swap" | "create" | "into" | "in-place";

export interface ModeRun {
  live: string;
  /** Connected to the live database (null when it does not exist). */
  liveDb: Db | null;
  /** Connected to another database (postgres/template1), for creating and renaming. */
  admin: Db | null;
  pgRestore: PgTool;
  psql: PgTool | null;
  input: RestoreInput;
  schema: string;
  lockTimeoutMs: number;
  /** Stops a wait for the migration lock. */
  interrupt?: Interrupt;
  /** Lock waits and warnings, on the operation's event stream. */
  emit: Emit;
  /** Called once the live database has been replaced (after this, the old connection is gone). */
  closeLive: () => Promise<void>;
}

export interface ModeResult {
  database: string;
  kept: string | null;
  dropped: boolean;
  endedSessions: number;
}

const inProgressComment = (live: string) => `${brand.display}: restore in progress into ${live} since ${new Date().toISOString()}; safe to drop when no restore is running`;

async function buildBeside(admin: Db, name: string, r: ModeRun, like: Awaited<ReturnType<typeof readLiveDatabase>> | null): Promise<void> {
  if (await databaseExists(admin.sql, name)) {
    throw new PgshipError("restore_failed", `database "${name}" already exists`, { hint: "choose another name, or drop it first" });
  }
  await createDatabase(admin, name, like);
  try {
    await admin.sql.unsafe(`comment on database ${quoteIdent(name)} is ${quoteLiteral(inProgressComment(r.live))}`);
    await restoreInto(name, r.pgRestore, r.input);
    await admin.sql.unsafe(`comment on database ${quoteIdent(name)} is null`);
  } catch (e) {
    // Whatever went wrong (including an interrupt), the half-built database goes.
    await dropDatabase(admin, name).catch((d: unknown) => r.emit({ type: "warn", message: `could not drop the half-restored database "${name}": ${(d as Error).message}; drop it by hand` }));
    throw e;
  }
}

/** The first of name(1), name(2), … that no database has. */
async function freeName(admin: Db, name: (n: number) => string): Promise<string> {
  for (let n = 1; ; n++) if (!(await databaseExists(admin.sql, name(n)))) return name(n);
}

/** `keeps`: the name planned for the replaced database (null with --drop-old: a free one is chosen). */
export async function runSwap(r: ModeRun, at: Date, dropOld: boolean, keeps: string | null = null): Promise<ModeResult> {
  const admin = r.admin!;
  const work = await freeName(admin, (n) => workDatabaseName(r.live, at, n));
  const kept = keeps !== null && !(await databaseExists(admin.sql, keeps)) ? keeps : await freeName(admin, (n) => keptDatabaseName(r.live, at, n));
  const like = await readLiveDatabase(admin.sql, r.live, admin.serverVersionNum);
  // No migration may start on the live database while its replacement is built.
  await acquireLock(r.liveDb!.sql, r.schema, r.lockTimeoutMs, (holder) => r.emit({ type: "lock-wait", holder }), r.interrupt);
  await buildBeside(admin, work, r, like);
  await releaseLock(r.liveDb!.sql, r.schema).catch(() => undefined);
  await r.closeLive();
  let ended: number;
  try {
    ({ ended } = await swapDatabases(admin, r.live, work, kept, keptComment(r.live, r.input.file, at)));
  } catch (e) {
    await dropDatabase(admin, work).catch(() => r.emit({ type: "warn", message: `the restored copy "${work}" is left on the server; drop it by hand` }));
    throw e;
  }
  let dropped = false;
  if (dropOld) {
    try {
      await dropDatabase(admin, kept);
      dropped = true;
    } catch (e) {
      r.emit({ type: "warn", message: `restored, but could not drop the old database "${kept}": ${(e as Error).message}; drop it later with '${brand.binary} restore --drop-old'` });
    }
  }
  return { database: r.live, kept: dropped ? null : kept, dropped, endedSessions: ended };
}

export async function runCreate(r: ModeRun, at: Date): Promise<ModeResult> {
  const admin = r.admin!;
  const work = await freeName(admin, (n) => workDatabaseName(r.live, at, n));
  await buildBeside(admin, work, r, null);
  try {
    await renameDatabase(admin, work, r.live);
  } catch (e) {
    await dropDatabase(admin, work).catch(() => undefined);
    throw new PgshipError("restore_failed", `restored, but could not name the database "${r.live}": ${(e as Error).message}`, { cause: e });
  }
  return { database: r.live, kept: null, dropped: false, endedSessions: 0 };
}

export async function runInto(r: ModeRun, name: string): Promise<ModeResult> {
  await buildBeside(r.admin ?? r.liveDb!, name, r, null);
  return { database: name, kept: null, dropped: false, endedSessions: 0 };
}

export async function runInPlace(r: ModeRun): Promise<ModeResult> {
  const db = r.liveDb!;
  await acquireLock(db.sql, r.schema, r.lockTimeoutMs, (holder) => r.emit({ type: "lock-wait", holder }), r.interrupt);
  try {
    const target = await readInPlaceTarget(db.sql);
    await restoreInPlace(r.live, r.pgRestore, r.psql!, inPlacePreamble(target, r.lockTimeoutMs), r.input);
  } finally {
    await releaseLock(db.sql, r.schema).catch(() => undefined);
  }
  return { database: r.live, kept: null, dropped: false, endedSessions: 0 };
}
