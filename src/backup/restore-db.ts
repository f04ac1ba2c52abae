// The database side of a restore: who the role is and what it may do, the
// live database's properties (to build its replacement alike), creating,
// renaming, swapping and dropping databases. SQL text comes from
// restore-plan.ts; this file runs it.

import type { ConnectionTarget } from "../core/config.ts";
import { quoteIdent } from "../core/format.ts";
import { PgshipError } from "../core/errors.ts";
import { brand } from "../brand.ts";
import { connect, safeMessage, type Db, type Sql } from "../db/connect.ts";
import { isSqlState, SQLSTATE } from "../db/sqlstate.ts";
import { createWorkDatabaseSql, grantsSql, isScratchName, isWorkDatabaseOf, keptOf, KEPT_LIKE, scratchOf, settingsSql, swapSql, type InPlaceTarget, type LiveDatabase } from "./restore-plan.ts";

export interface Role {
  name: string;
  superuser: boolean;
  createdb: boolean;
}

export async function readRole(sql: Sql): Promise<Role> {
  const [r] = await sql.unsafe<{ name: string; su: boolean; cd: boolean }[]>(
    "select current_user as name, rolsuper as su, rolcreatedb as cd from pg_roles where rolname = current_user",
  );
  return { name: r!.name, superuser: r!.su, createdb: r!.cd };
}

/** Whether the role may rename (and so swap) this database: its owner, or a superuser. */
export async function ownsDatabase(sql: Sql, name: string): Promise<boolean> {
  const [r] = await sql.unsafe<{ ok: boolean | null }[]>("select pg_has_role(current_user, datdba, 'MEMBER') as ok from pg_database where datname = $1", [name]);
  return Boolean(r?.ok);
}

export async function databaseExists(sql: Sql, name: string): Promise<boolean> {
  const rows = await sql.unsafe("select 1 from pg_database where datname = $1", [name]);
  return rows.length > 0;
}

export interface Session {
  pid: number;
  application: string;
  user: string;
}

export async function sessionsOn(sql: Sql, name: string): Promise<Session[]> {
  const rows = await sql.unsafe<{ pid: number; app: string; usr: string }[]>(
    "select pid, coalesce(application_name, '') as app, coalesce(usename, '') as usr from pg_stat_activity where datname = $1 and pid <> pg_backend_pid() order by pid",
    [name],
  );
  return rows.map((r) => ({ pid: r.pid, application: r.app, user: r.usr }));
}

/** The live database's owner, encoding, locale, tablespace, settings and grants, so its replacement matches. */
export async function readLiveDatabase(sql: Sql, name: string, serverVersionNum: number): Promise<LiveDatabase> {
  const locale =
    serverVersionNum >= 170000 ? "d.datlocprovider::text as provider, d.datlocale as locale" : serverVersionNum >= 150000 ? "d.datlocprovider::text as provider, d.daticulocale as locale" : "'c' as provider, null as locale";
  const [d] = await sql.unsafe<Record<string, unknown>[]>(
    `select pg_get_userbyid(d.datdba) as owner, pg_encoding_to_char(d.encoding) as encoding, d.datcollate as collate, d.datctype as ctype,
            ${locale}, t.spcname as tablespace, d.datacl is null as default_acl
       from pg_database d join pg_tablespace t on t.oid = d.dattablespace where d.datname = $1`,
    [name],
  );
  if (!d) throw new PgshipError("restore_failed", `database "${name}" does not exist`);
  const grants = d.default_acl
    ? null
    : await sql.unsafe<{ privilege: string; grantee: string | null }[]>(
        `select a.privilege_type as privilege, case when a.grantee = 0 then null else pg_get_userbyid(a.grantee) end as grantee
           from pg_database d, aclexplode(d.datacl) a where d.datname = $1 and a.grantee <> d.datdba order by 2 nulls first, 1`,
        [name],
      );
  // One row per entry: arrays are not parsed on pgship's connections (fetch_types is off).
  const settings = await sql.unsafe<{ entry: string }[]>(
    "select unnest(s.setconfig) as entry from pg_db_role_setting s join pg_database d on d.oid = s.setdatabase where d.datname = $1 and s.setrole = 0",
    [name],
  );
  const provider = d.provider === "i" ? "icu" : d.provider === "b" ? "builtin" : "libc";
  return {
    name,
    owner: String(d.owner),
    encoding: String(d.encoding),
    collate: String(d.collate),
    ctype: String(d.ctype),
    provider,
    locale: (d.locale as string | null) ?? null,
    tablespace: String(d.tablespace),
    settings: settings.map((r) => r.entry),
    grants: grants ? grants.map((g) => ({ privilege: g.privilege, grantee: g.grantee })) : null,
  };
}

/** A connection to a database other than the one being replaced: postgres, else template1. */
export async function connectMaintenance(target: ConnectionTarget, applicationName: string, avoid: string[]): Promise<Db> {
  let last: unknown;
  for (const database of ["postgres", "template1"]) {
    if (avoid.includes(database)) continue;
    try {
      return await connect({ ...target, database }, { applicationName });
    } catch (e) {
      last = e;
    }
  }
  throw new PgshipError("restore_failed", `cannot connect to the "postgres" or "template1" database on the server: ${(last as Error)?.message ?? "refused"}`, {
    hint: "a restore that swaps databases needs a second database to work from; allow the role to connect to postgres in pg_hba.conf, or restore in place with --in-place",
    cause: last,
  });
}

const describeDbError = (e: unknown, db: Db) => safeMessage(e, db.target);

/** Creates the empty database a restore is built in, alike to the live one when there is one. */
export async function createDatabase(admin: Db, name: string, like: LiveDatabase | null): Promise<void> {
  const sql = like ? createWorkDatabaseSql(name, like) : `create database ${quoteIdent(name)} with template template0`;
  try {
    await admin.sql.unsafe(sql);
  } catch (e) {
    throw new PgshipError("restore_failed", `cannot create database "${name}": ${describeDbError(e, admin)}`, { cause: e });
  }
  if (!like) return;
  try {
    for (const s of [...settingsSql(name, like.settings), ...grantsSql(name, like.grants)]) await admin.sql.unsafe(s);
  } catch (e) {
    await dropDatabase(admin, name).catch(() => undefined);
    throw new PgshipError("restore_failed", `cannot copy the settings and grants of "${like.name}" to the new database: ${describeDbError(e, admin)}`, { cause: e });
  }
}

export async function dropDatabase(admin: Db, name: string): Promise<void> {
  await admin.sql.unsafe(`drop database if exists ${quoteIdent(name)}`);
}

export async function renameDatabase(admin: Db, from: string, to: string): Promise<void> {
  await admin.sql.unsafe(`alter database ${quoteIdent(from)} rename to ${quoteIdent(to)}`);
}

/**
 * Swaps the restored database in. Sessions that reconnect between ending and
 * renaming make the rename fail ("being accessed by other users"); the whole
 * transaction then rolls back and is tried again, a few times.
 */
export async function swapDatabases(admin: Db, live: string, work: string, kept: string, comment: string, attempts = 4): Promise<{ ended: number }> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      await admin.sql.unsafe("begin");
      const statements = swapSql(live, work, kept, comment);
      const ended = await admin.sql.unsafe(statements[0]!);
      for (const s of statements.slice(1)) await admin.sql.unsafe(s);
      await admin.sql.unsafe("commit");
      return { ended: ended.length };
    } catch (e) {
      lastError = e;
      await admin.sql.unsafe("rollback").catch(() => undefined);
      if (!isSqlState(e, SQLSTATE.objectInUse)) break;
      await new Promise((r) => setTimeout(r, 250 * attempt));
    }
  }
  const busy = isSqlState(lastError, SQLSTATE.objectInUse);
  throw new PgshipError("swap_failed", `could not swap the restored database in: ${describeDbError(lastError, admin)}`, {
    hint: busy
      ? `sessions kept reconnecting to "${live}", or the role may not end them (it needs to be a superuser, the sessions' role, or a member of pg_signal_backend); stop the app and run the restore again`
      : undefined,
    cause: lastError,
  });
}

/** Databases kept by earlier restores of `live`, found by their comment. */
export async function keptDatabases(admin: Db, live: string): Promise<{ name: string; comment: string }[]> {
  const rows = await admin.sql.unsafe<{ name: string; comment: string }[]>(
    `select d.datname as name, shobj_description(d.oid, 'pg_database') as comment from pg_database d
      where shobj_description(d.oid, 'pg_database') like any(array(select jsonb_array_elements_text($1::text::jsonb))) order by d.datname`,
    [JSON.stringify(KEPT_LIKE)],
  );
  return rows.filter((r) => r.name !== live && keptOf(r.comment) === live);
}

export interface Leftover {
  name: string;
  /** restoring: built by a swap restore of this database that never finished; scratch: a verify's test restore or a replay. */
  kind: "restoring" | "scratch";
  comment: string | null;
}

/**
 * Databases left by killed runs: `<live>_restoring_<time>` of this database
 * and pgship_scratch_* made for it (or saying nothing), that nobody is
 * connected to (a running restore or verify always is).
 */
export async function leftoverDatabases(sql: Sql, live: string): Promise<Leftover[]> {
  const rows = await sql.unsafe<{ name: string; comment: string | null; busy: boolean }[]>(
    `select d.datname as name, shobj_description(d.oid, 'pg_database') as comment,
            exists (select 1 from pg_stat_activity a where a.datid = d.oid) as busy
       from pg_database d where d.datname like '%\\_restoring\\_%' or d.datname like 'pgship\\_scratch\\_%' order by d.datname`,
  );
  // A restore of `live` that is running keeps a session on it (the lock holder) while it fills its work database,
  // which has no session for a moment (before pg_restore connects, after it is done): never take that one for a leftover.
  const [running] = await sql.unsafe<{ n: number }[]>(
    "select count(*)::int as n from pg_stat_activity where datname = $1 and application_name = $2 and pid <> pg_backend_pid()",
    [live, `${brand.binary} restore`],
  );
  const restoreRunning = running!.n > 0;
  const out: Leftover[] = [];
  for (const r of rows) {
    if (r.busy || r.name === live) continue;
    if (isWorkDatabaseOf(r.name, live)) {
      if (!restoreRunning) out.push({ name: r.name, kind: "restoring", comment: r.comment });
    } else if (isScratchName(r.name) && (r.comment === null || scratchOf(r.comment) === live)) out.push({ name: r.name, kind: "scratch", comment: r.comment });
  }
  return out;
}

export const describeLeftovers = (l: Leftover[]) =>
  l.map((x) => `"${x.name}" (${x.kind === "restoring" ? "an interrupted restore" : "a scratch database of an interrupted verify or check"})`).join(", ");

/** What an in-place restore must clear first: every user schema, public's owner and grants, large objects. */
export async function readInPlaceTarget(sql: Sql): Promise<InPlaceTarget> {
  const schemas = await sql.unsafe<{ name: string }[]>(
    `select nspname as name from pg_namespace where nspname !~ '^pg_' and nspname <> 'information_schema' order by nspname`,
  );
  const [pub] = await sql.unsafe<{ owner: string; droppable: boolean }[]>(
    "select pg_get_userbyid(nspowner) as owner, pg_has_role(nspowner, 'MEMBER') as droppable from pg_namespace where nspname = 'public'",
  );
  const grants = pub
    ? await sql.unsafe<{ privilege: string; grantee: string | null }[]>(
        `select a.privilege_type as privilege, case when a.grantee = 0 then null else pg_get_userbyid(a.grantee) end as grantee
           from pg_namespace n, aclexplode(n.nspacl) a where n.nspname = 'public' and a.grantee <> n.nspowner order by 2 nulls first, 1`,
      )
    : [];
  const [lo] = await sql.unsafe<{ any: boolean }[]>("select exists (select 1 from pg_largeobject_metadata) as any");
  const [me] = await sql.unsafe<{ name: string }[]>("select current_user as name");
  return {
    schemas: schemas.map((s) => s.name),
    publicSchema: pub ? { owner: pub.owner, grants: grants.map((g) => ({ privilege: g.privilege, grantee: g.grantee })), droppable: pub.droppable } : null,
    currentUser: me!.name,
    largeObjects: lo!.any,
  };
}
