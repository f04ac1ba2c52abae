// Pure builders of a backup and a restore: compression, pg tool arguments
// (docker exec included), database names, the swap and in-place SQL.

import { describe, expect, test } from "bun:test";
import { compressionArgs, compressionCandidates, parseCompression } from "../../src/backup/compression.ts";
import {
  createWorkDatabaseSql,
  fitName,
  grantsSql,
  inPlacePreamble,
  keptComment,
  keptDatabaseName,
  keptOf,
  settingsSql,
  splitSettingList,
  swapSql,
  workDatabaseName,
  type LiveDatabase,
} from "../../src/backup/restore-plan.ts";
import { conninfoDbname, pgDumpArgs, pgRestoreArgs, pgRestoreScriptArgs, psqlScriptArgs, toolEnv } from "../../src/backup/tool-args.ts";
import { toolSpec } from "../../src/tools/pg-tools.ts";
import type { ConnectionTarget } from "../../src/core/config.ts";

describe("--compress", () => {
  const ok: [string | undefined, unknown][] = [
    [undefined, { method: "auto" }],
    ["auto", { method: "auto" }],
    ["0", { method: "none" }],
    ["6", { method: "gzip", level: 6 }],
    ["zstd", { method: "zstd" }],
    ["ZSTD:19", { method: "zstd", level: 19 }],
    ["lz4:1", { method: "lz4", level: 1 }],
    ["none", { method: "none" }],
  ];
  for (const [text, want] of ok) test(`parses ${text}`, () => expect(parseCompression(text)).toEqual(want as never));
  for (const text of ["10", "brotli", "zstd:0", "zstd:23", "gzip:10", "none:1", "gzip:"]) {
    test(`refuses ${text}`, () => expect(() => parseCompression(text)).toThrow(/--compress/));
  }
  test("candidates follow what pg_dump can do", () => {
    expect(compressionCandidates({ method: "auto" }, 15)).toEqual([{ method: "gzip" }]);
    expect(compressionCandidates({ method: "auto" }, 17).map((c) => c.method)).toEqual(["zstd", "lz4", "gzip"]);
    expect(compressionCandidates({ method: "zstd" }, 15)).toEqual([]);
    expect(compressionCandidates({ method: "gzip", level: 9 }, 15)).toEqual([{ method: "gzip", level: 9 }]);
  });
  test("arguments", () => {
    expect(compressionArgs({ method: "gzip" }, 15)).toEqual([]);
    expect(compressionArgs({ method: "gzip", level: 9 }, 15)).toEqual(["--compress=9"]);
    expect(compressionArgs({ method: "none" }, 15)).toEqual(["--compress=0"]);
    expect(compressionArgs({ method: "zstd" }, 16)).toEqual(["--compress=zstd"]);
    expect(compressionArgs({ method: "zstd", level: 3 }, 17)).toEqual(["--compress=zstd:3"]);
  });
});

const target: ConnectionTarget = { host: "db.internal", port: 5433, database: "app", user: "app", password: "s3cret!pw", source: "env", params: {} };

describe("pg tool arguments", () => {
  test("no password on any command line", () => {
    const env = toolEnv(target, "app", "pgship backup");
    expect(env).toMatchObject({ PGHOST: "db.internal", PGPORT: "5433", PGUSER: "app", PGDATABASE: "app", PGPASSWORD: "s3cret!pw", PGAPPNAME: "pgship backup" });
    for (const args of [pgDumpArgs({ method: "gzip" }, 15), pgRestoreArgs("app", { keepOwner: false, keepAcl: false }), psqlScriptArgs("app")]) {
      expect(args.join(" ")).not.toContain("s3cret");
      expect(args).toContain("--no-password");
    }
  });
  test("pg_dump writes a custom archive to stdout", () => {
    expect(pgDumpArgs({ method: "zstd" }, 17)).toEqual(["--format=custom", "--no-password", "--compress=zstd"]);
  });
  test("ownership flags", () => {
    expect(pgRestoreArgs("app", { keepOwner: false, keepAcl: false })).toEqual(["--dbname=dbname='app'", "--exit-on-error", "--no-password", "--no-owner", "--no-acl"]);
    expect(pgRestoreArgs("app", { keepOwner: true, keepAcl: true })).toEqual(["--dbname=dbname='app'", "--exit-on-error", "--no-password"]);
    expect(pgRestoreScriptArgs({ keepOwner: true, keepAcl: false })).toEqual(["--file=-", "--single-transaction", "--no-acl"]);
  });
  test("database names are passed as conninfo, so = and quotes are safe", () => {
    expect(conninfoDbname("a=b")).toBe("dbname='a=b'");
    expect(conninfoDbname("it's")).toBe("dbname='it\\'s'");
    expect(conninfoDbname("back\\slash")).toBe("dbname='back\\\\slash'");
  });
  test("psql stops at the first error and does not own the transaction (pgship's preamble opens it)", () => {
    expect(psqlScriptArgs("app")).toEqual(["--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=1", "--no-password", "--dbname=dbname='app'", "--file=-"]);
    expect(psqlScriptArgs("app")).not.toContain("--single-transaction");
  });
});

describe("toolSpec", () => {
  const env = toolEnv(target, "app", "pgship backup");
  test("a local tool runs directly with the libpq environment", () => {
    expect(toolSpec({ path: "/usr/lib/postgresql/15/bin/pg_dump", version: "15.8", major: 15 }, ["--format=custom"], env)).toEqual({
      command: "/usr/lib/postgresql/15/bin/pg_dump",
      args: ["--format=custom"],
      env,
    });
  });
  test("in a container: docker exec -e NAME (values stay in the environment), not where the server is", () => {
    const spec = toolSpec({ path: "pg_restore", version: "17.2", major: 17, container: "db" }, ["--list"], env, { stdin: true });
    expect(spec.command).toBe("docker");
    expect(spec.args).toEqual(["exec", "-i", "-e", "PGAPPNAME", "-e", "PGCONNECT_TIMEOUT", "-e", "PGDATABASE", "-e", "PGPASSWORD", "-e", "PGUSER", "db", "pg_restore", "--list"]);
    expect(spec.args.join(" ")).not.toContain("s3cret");
    expect(spec.env).toEqual({ PGUSER: "app", PGPASSWORD: "s3cret!pw", PGDATABASE: "app", PGAPPNAME: "pgship backup", PGCONNECT_TIMEOUT: "10" });
  });
  test("no -i without stdin", () => {
    expect(toolSpec({ path: "pg_dump", version: "17.2", major: 17, container: "db" }, ["--version"], {}).args).toEqual(["exec", "db", "pg_dump", "--version"]);
  });
});

describe("restore names and SQL", () => {
  const at = new Date("2025-06-01T02:03:04Z");
  test("work and kept names are dated and fit in 63 bytes", () => {
    expect(workDatabaseName("app", at)).toBe("app_restoring_20250601t020304z");
    expect(keptDatabaseName("app", at)).toBe("app_before_restore_20250601t020304z");
    const long = "x".repeat(60);
    expect(Buffer.byteLength(keptDatabaseName(long, at))).toBeLessThanOrEqual(63);
    expect(keptDatabaseName(long, at).endsWith("_before_restore_20250601t020304z")).toBe(true);
    // Never cuts a multi-byte character in half.
    expect(fitName("é".repeat(40), "_x")).toBe(`${"é".repeat(30)}_x`);
  });
  test("kept databases are recognised by their comment", () => {
    const c = keptComment("app", "app-20250601T020000Z.dump", at);
    expect(keptOf(c)).toBe("app");
    expect(keptOf("something else")).toBeNull();
    expect(keptOf(null)).toBeNull();
  });
  test("the swap", () => {
    expect(swapSql("app", "app_w", "app_k", "note's")).toEqual([
      "select pg_terminate_backend(pid) from pg_stat_activity where datname = 'app' and pid <> pg_backend_pid() and ((select rolsuper from pg_roles where rolname = current_user) or pg_has_role(usesysid, 'MEMBER') or (pg_has_role('pg_signal_backend', 'MEMBER') and not coalesce((select rolsuper from pg_roles r where r.oid = usesysid), true)))",
      'alter database "app" rename to "app_k"',
      'alter database "app_w" rename to "app"',
      `comment on database "app_k" is 'note''s'`,
    ]);
  });
  const live: LiveDatabase = {
    name: "app",
    owner: "app",
    encoding: "UTF8",
    collate: "C",
    ctype: "C",
    provider: "icu",
    locale: "und",
    tablespace: "pg_default",
    settings: ['search_path="$user", public, "odd ""name"""', "statement_timeout=5min", "DateStyle=ISO, MDY"],
    grants: [
      { privilege: "CONNECT", grantee: null },
      { privilege: "TEMPORARY", grantee: "reader" },
    ],
  };
  test("the new database is made like the live one", () => {
    expect(createWorkDatabaseSql("w", live)).toBe(`create database "w" with template template0 owner "app" encoding 'UTF8' lc_collate 'C' lc_ctype 'C' locale_provider icu icu_locale 'und'`);
    expect(createWorkDatabaseSql("w", { ...live, provider: "libc", locale: null, tablespace: "fast" })).toBe(
      `create database "w" with template template0 owner "app" encoding 'UTF8' lc_collate 'C' lc_ctype 'C' tablespace "fast"`,
    );
    expect(settingsSql("w", live.settings)).toEqual([
      `alter database "w" set "search_path" to '$user', 'public', 'odd "name"'`,
      `alter database "w" set "statement_timeout" to '5min'`,
      `alter database "w" set "DateStyle" to 'ISO, MDY'`,
    ]);
    expect(grantsSql("w", live.grants)).toEqual([`revoke all on database "w" from public`, `grant connect on database "w" to public`, `grant temporary on database "w" to "reader"`]);
    expect(grantsSql("w", null)).toEqual([]);
  });
  test("list settings split like PostgreSQL's SplitGUCList", () => {
    expect(splitSettingList('"$user", public')).toEqual(["$user", "public"]);
    expect(splitSettingList("")).toEqual([]);
    expect(splitSettingList('a,"b, c" , d')).toEqual(["a", "b, c", "d"]);
  });
  test("the in-place preamble empties the database and recreates public as it was", () => {
    const sql = inPlacePreamble(
      { schemas: ["pgship", "public", "Odd"], publicSchema: { owner: "pg_database_owner", grants: [{ privilege: "USAGE", grantee: null }] }, currentUser: "app", largeObjects: true },
      30_000,
    );
    expect(sql).toBe(
      [
        "begin;",
        "set lock_timeout = '30000ms';",
        'drop schema if exists "pgship" cascade;',
        'drop schema if exists "public" cascade;',
        'drop schema if exists "Odd" cascade;',
        "select pg_catalog.lo_unlink(oid) from pg_catalog.pg_largeobject_metadata;",
        "create schema public;",
        'alter schema public owner to "pg_database_owner";',
        "grant usage on schema public to public;",
        "reset lock_timeout;",
        "",
      ].join("\n"),
    );
  });
  test("where the role may not drop public (13 and 14: the bootstrap superuser owns it), only its objects in public go", () => {
    const sql = inPlacePreamble({ schemas: ["pgship", "public"], publicSchema: { owner: "postgres", grants: [], droppable: false }, currentUser: "app", largeObjects: false }, 1000);
    expect(sql).toContain('drop schema if exists "pgship" cascade;');
    expect(sql).not.toContain('drop schema if exists "public"');
    expect(sql).not.toContain("create schema public");
    expect(sql).toContain("do $pgship$");
    expect(sql).toContain("pg_has_role(c.relowner, 'MEMBER')");
  });
});
