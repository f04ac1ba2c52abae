// The SQL and names of a restore, as pure functions: the database a restore
// builds beside the live one, the dated name the old one is kept under, the
// statements that swap them, and the preamble of an in-place restore.

import { brand } from "../brand.ts";
import { stampOf } from "./manifest.ts";

import { quoteIdent, quoteLiteral } from "../core/format.ts";

const MAX_IDENT_BYTES = 63;

/** base + suffix, with base cut (on a character boundary) so the whole fits PostgreSQL's 63-byte names. */
export function fitName(base: string, suffix: string): string {
  const enc = new TextEncoder();
  const room = MAX_IDENT_BYTES - enc.encode(suffix).length;
  let out = "";
  for (const ch of base) {
    if (enc.encode(out + ch).length > room) break;
    out += ch;
  }
  return out + suffix;
}

const nth = (n: number) => (n > 1 ? `_${n}` : "");

/** Where the restore is built before it is swapped in. */
export const workDatabaseName = (live: string, at: Date, n = 1) => fitName(live, `_restoring_${stampOf(at).toLowerCase()}${nth(n)}`);

/** Whether `name` is a database a restore of `live` builds beside it (workDatabaseName at some time). */
export function isWorkDatabaseOf(name: string, live: string): boolean {
  const m = /_restoring_\d{8}t\d{6}z(?:_\d+)?$/.exec(name);
  return m !== null && fitName(live, m[0]) === name;
}

/** Scratch databases (test restores, schema replays) are named so, and carry a comment naming the database they were made for. */
export const SCRATCH_PREFIX = "pgship_scratch_";
export const isScratchName = (name: string) => /^pgship_scratch_[0-9a-f]{12}$/.test(name);
export const scratchComment = (forDatabase: string, at: Date, madeBy?: string, pid?: number) =>
  `${brand.display}: scratch database for ${forDatabase} since ${at.toISOString()}${madeBy ? `, made by '${madeBy}' (pid ${pid})` : ""}; safe to drop when nobody is connected to it`;
/** Comments start with the brand; those written before it was used (or by the unbranded binary) with "pgship". */
export const COMMENT_MARKS = [...new Set([brand.display, "pgship"])];
const marked = (rest: string) => new RegExp(`^(?:${COMMENT_MARKS.map((m) => m.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|")}): ${rest}`);
const SCRATCH_RE = marked("scratch database for (.+) since \\d{4}-");
export function scratchOf(comment: string | null): string | null {
  const m = comment ? SCRATCH_RE.exec(comment) : null;
  return m ? m[1]! : null;
}

/** The name the replaced database is kept under: dated (and numbered within a second), so restores never collide. */
export const keptDatabaseName = (live: string, at: Date, n = 1) => fitName(live, `_before_restore_${stampOf(at).toLowerCase()}${nth(n)}`);

/** Kept databases carry this comment; `restore --drop-old` finds them by it, never by name alone. */
export const KEPT_MARK = `${brand.display}: kept by restore`;
/** LIKE patterns that find kept databases' comments, old ("pgship: ...") and branded. */
export const KEPT_LIKE = COMMENT_MARKS.map((m) => `${m.replace(/[\\%_]/g, "\\$&")}: kept by restore%`);
const KEPT_RE = marked("kept by restore of (.+) on (\\d{4}-\\S*)");
export const keptComment = (live: string, file: string, at: Date) =>
  `${KEPT_MARK} of ${live} on ${at.toISOString()} (replaced by ${file}); drop it with '${brand.binary} restore --drop-old'`;

export function keptOf(comment: string | null): string | null {
  const m = comment ? KEPT_RE.exec(comment) : null;
  return m ? m[1]! : null;
}

/** When the kept database was replaced, from its comment. */
export function keptAt(comment: string | null): string | null {
  return (comment ? KEPT_RE.exec(comment) : null)?.[2] ?? null;
}

export interface LiveDatabase {
  name: string;
  owner: string;
  encoding: string;
  collate: string;
  ctype: string;
  /** libc, icu or builtin (PostgreSQL 17) */
  provider: "libc" | "icu" | "builtin";
  locale: string | null;
  tablespace: string;
  /** Database-level settings: "name=value" entries of ALTER DATABASE … SET. */
  settings: string[];
  /** Explicit grants on the database; null means the default privileges. */
  grants: { privilege: string; grantee: string | null }[] | null;
}

export function createWorkDatabaseSql(work: string, live: LiveDatabase): string {
  const parts = [`create database ${quoteIdent(work)} with template template0 owner ${quoteIdent(live.owner)}`, `encoding ${quoteLiteral(live.encoding)}`];
  parts.push(`lc_collate ${quoteLiteral(live.collate)} lc_ctype ${quoteLiteral(live.ctype)}`);
  if (live.provider === "icu" && live.locale) parts.push(`locale_provider icu icu_locale ${quoteLiteral(live.locale)}`);
  if (live.provider === "builtin" && live.locale) parts.push(`locale_provider builtin builtin_locale ${quoteLiteral(live.locale)}`);
  if (live.tablespace !== "pg_default") parts.push(`tablespace ${quoteIdent(live.tablespace)}`);
  return parts.join(" ");
}

/** Settings whose values are lists of quoted items (pg_dump's variable_is_guc_list_quote). */
const LIST_SETTINGS = new Set(["local_preload_libraries", "search_path", "session_preload_libraries", "shared_preload_libraries", "temp_tablespaces", "unix_socket_directories"]);

/** Splits a stored list setting (`"$user", public`) into its items, like PostgreSQL's SplitGUCList. */
export function splitSettingList(value: string): string[] {
  const items: string[] = [];
  let i = 0;
  const skipSpace = () => {
    while (i < value.length && /\s/.test(value[i]!)) i++;
  };
  skipSpace();
  if (i >= value.length) return items;
  for (;;) {
    let item = "";
    if (value[i] === '"') {
      i++;
      while (i < value.length) {
        if (value[i] === '"' && value[i + 1] === '"') {
          item += '"';
          i += 2;
        } else if (value[i] === '"') {
          i++;
          break;
        } else item += value[i++];
      }
    } else {
      while (i < value.length && value[i] !== "," && !/\s/.test(value[i]!)) item += value[i++];
    }
    items.push(item);
    skipSpace();
    if (value[i] !== ",") return items;
    i++;
    skipSpace();
  }
}

/** ALTER DATABASE … SET for each stored "name=value" setting, quoted the way pg_dump does it. */
export function settingsSql(database: string, settings: string[]): string[] {
  return settings.map((entry) => {
    const at = entry.indexOf("=");
    const name = entry.slice(0, at);
    const value = entry.slice(at + 1);
    const rhs = LIST_SETTINGS.has(name.toLowerCase()) ? splitSettingList(value).map(quoteLiteral).join(", ") || "''" : quoteLiteral(value);
    return `alter database ${quoteIdent(database)} set ${quoteIdent(name)} to ${rhs}`;
  });
}

export function grantsSql(database: string, grants: LiveDatabase["grants"]): string[] {
  if (grants === null) return [];
  const db = quoteIdent(database);
  return [
    `revoke all on database ${db} from public`,
    ...grants.map((g) => `grant ${g.privilege.toLowerCase()} on database ${db} to ${g.grantee === null ? "public" : quoteIdent(g.grantee)}`),
  ];
}

const IS_SUPERUSER = "(select rolsuper from pg_roles where rolname = current_user)";
const MAY_SIGNAL = `${IS_SUPERUSER} or pg_has_role(usesysid, 'MEMBER') or (pg_has_role('pg_signal_backend', 'MEMBER') and not coalesce((select rolsuper from pg_roles r where r.oid = usesysid), true))`;

/**
 * The swap, run in one transaction from a maintenance connection: end the
 * live database's sessions, rename it to the kept name, rename the restored
 * one into its place. ALTER DATABASE … RENAME takes an exclusive lock on the
 * database (new sessions wait) and waits up to 5 s for ended sessions to go;
 * if anything fails the transaction rolls back and both databases keep their
 * names.
 */
export function swapSql(live: string, work: string, kept: string, comment: string): string[] {
  return [
    // Only sessions this role may end (pg_terminate_backend raises an error for the others); the
    // rename then waits for the rest and fails if they stay, with a hint about permissions.
    `select pg_terminate_backend(pid) from pg_stat_activity where datname = ${quoteLiteral(live)} and pid <> pg_backend_pid() and (${MAY_SIGNAL})`,
    `alter database ${quoteIdent(live)} rename to ${quoteIdent(kept)}`,
    `alter database ${quoteIdent(work)} rename to ${quoteIdent(live)}`,
    `comment on database ${quoteIdent(kept)} is ${quoteLiteral(comment)}`,
  ];
}

export interface InPlaceTarget {
  /** Every schema outside pg_* and information_schema. */
  schemas: string[];
  /**
   * public's owner and grants, to recreate it as it was (pg_dump never creates public).
   * droppable: false when the role may not drop it (before PostgreSQL 15 it belongs to the
   * bootstrap superuser): then only the role's own objects in it are dropped.
   */
  publicSchema: { owner: string; grants: { privilege: string; grantee: string | null }[]; droppable?: boolean } | null;
  currentUser: string;
  largeObjects: boolean;
}

/**
 * Drops what the role owns in public (relations, composite types, routines, enums, domains,
 * ranges; not extensions' members), for when public itself may not be dropped. The statements
 * are listed before any runs, each IF EXISTS: an earlier CASCADE may have dropped an object.
 */
const DROP_OWN_IN_PUBLIC = `do $pgship$
declare stmt text; stmts text[];
begin
  select coalesce(array_agg(x.s order by x.o), '{}') into stmts from (
    select 1 as o, format('drop %s if exists %s cascade', case c.relkind when 'v' then 'view' when 'm' then 'materialized view' when 'S' then 'sequence'
             when 'f' then 'foreign table' when 'c' then 'type' else 'table' end, c.oid::regclass) as s
      from pg_class c where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f', 'c') and pg_has_role(c.relowner, 'MEMBER')
       and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')
       -- serial and identity sequences go with their table
       and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.refclassid = 'pg_class'::regclass and d.deptype in ('a', 'i') and c.relkind = 'S')
    union all
    select 2, format('drop routine if exists %s cascade', p.oid::regprocedure)
      from pg_proc p where p.pronamespace = 'public'::regnamespace and pg_has_role(p.proowner, 'MEMBER')
       and not exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
    union all
    select 3, format('drop %s if exists %s cascade', case t.typtype when 'd' then 'domain' else 'type' end, t.oid::regtype)
      from pg_type t where t.typnamespace = 'public'::regnamespace and t.typtype in ('e', 'd', 'r') and pg_has_role(t.typowner, 'MEMBER')
       and not exists (select 1 from pg_depend d where d.classid = 'pg_type'::regclass and d.objid = t.oid and d.deptype = 'e')
  ) x;
  foreach stmt in array stmts loop execute stmt; end loop;
end $pgship$;`;

/**
 * What an in-place restore runs first, opening the transaction the restore
 * script then runs in: empty the database, so the result equals the backup (objects the
 * backup does not have, such as tables of later migrations, do not survive).
 * If any of it fails (objects owned by another role, a lock not granted in
 * time) the whole transaction rolls back and nothing changed.
 */
export function inPlacePreamble(t: InPlaceTarget, lockTimeoutMs: number): string {
  // The script's own BEGIN then only warns ("already in progress"); its final COMMIT ends this transaction.
  const out = ["begin;", `set lock_timeout = '${Math.max(1, Math.round(lockTimeoutMs))}ms';`];
  const keepPublic = t.publicSchema?.droppable === false;
  for (const s of t.schemas) out.push(s === "public" && keepPublic ? DROP_OWN_IN_PUBLIC : `drop schema if exists ${quoteIdent(s)} cascade;`);
  if (t.largeObjects) out.push("select pg_catalog.lo_unlink(oid) from pg_catalog.pg_largeobject_metadata;");
  if (t.publicSchema && !keepPublic) {
    out.push("create schema public;");
    if (t.publicSchema.owner !== t.currentUser) out.push(`alter schema public owner to ${quoteIdent(t.publicSchema.owner)};`);
    for (const g of t.publicSchema.grants) out.push(`grant ${g.privilege.toLowerCase()} on schema public to ${g.grantee === null ? "public" : quoteIdent(g.grantee)};`);
  }
  out.push("reset lock_timeout;");
  return `${out.join("\n")}\n`;
}

/**
 * How a restore goes, and its way back, decided before anything is touched
 * (so a confirmation screen can say the truth):
 *   swap      the current database is kept as `keeps` (null with --drop-old: no way back)
 *   in-place  a safety backup of the current database is written into `safetyBackup` first (null: none)
 *   create    the database did not exist; into: a new database beside the live one (nothing replaced)
 */
export type RestorePlan =
  | { mode: "swap"; keeps: string | null }
  | { mode: "in-place"; safetyBackup: string | null }
  | { mode: "create" }
  | { mode: "into"; database: string };

export interface PlanFacts {
  live: string;
  /** --into NAME */
  into: string | null;
  liveExists: boolean;
  /** --in-place */
  inPlace: boolean;
  role: { name: string; canCreate: boolean; mayRename: boolean };
  /** Why no maintenance connection could be made (null: it was made, or not needed). */
  maintenanceError: string | null;
  /** The free name the current database would be kept under (computed once a swap is possible); null with --drop-old. */
  keeps: string | null;
  /** The directory for an in-place restore's safety backup; null with --no-safety-backup. */
  safetyDir: string | null;
}

/** The plan, and why a swap was not possible when the plan is in place without --in-place. */
export function planRestore(f: PlanFacts): { plan: RestorePlan; why: string | null } {
  if (f.into !== null) return { plan: { mode: "into", database: f.into }, why: null };
  if (!f.liveExists) return { plan: { mode: "create" }, why: null };
  const inPlace = (why: string | null) => ({ plan: { mode: "in-place" as const, safetyBackup: f.safetyDir }, why });
  if (f.inPlace) return inPlace(null);
  if (!f.role.canCreate) return inPlace(`role "${f.role.name}" cannot create databases`);
  if (!f.role.mayRename) return inPlace(`role "${f.role.name}" does not own database "${f.live}", so it cannot rename it`);
  if (f.maintenanceError !== null) return inPlace(`cannot connect to a maintenance database (${f.maintenanceError})`);
  return { plan: { mode: "swap", keeps: f.keeps }, why: null };
}

/** What a finished restore leaves to go back with (`restore --undo`). */
export type WayBack = { kind: "kept-database"; database: string } | { kind: "safety-backup"; file: string };

/** The history row's args of a restore: what was restored and its way back, which `restore --undo` reads. */
export function historyArgs(what: string, back: WayBack | null, replaced: boolean): string {
  if (back?.kind === "kept-database") return `${what} (kept as "${back.database}")`;
  if (back?.kind === "safety-backup") return `${what} (safety backup ${back.file})`;
  return replaced ? `${what} (no way back kept)` : what;
}

export function wayBackOf(args: string): WayBack | null {
  const kept = / \(kept as "(.+)"\)$/.exec(args);
  if (kept) return { kind: "kept-database", database: kept[1]! };
  const safety = / \(safety backup (.+)\)$/.exec(args);
  if (safety) return { kind: "safety-backup", file: safety[1]! };
  return null;
}
