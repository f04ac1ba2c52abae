import { describe, expect, test } from "bun:test";
import { MigrationFileError } from "../../src/core/errors.ts";
import { parseMigrationFile, TEMPLATE_MARK } from "../../src/core/migration-file.ts";
import { parseMigrationSet } from "../../src/core/migration-set.ts";
import { splitStatements, topLevelWords } from "../../src/core/sql-split.ts";

const OK = "20250115103000_create_users.sql";

function problems(file: string, text: string): string[] {
  try {
    parseMigrationFile(file, text);
  } catch (e) {
    if (e instanceof MigrationFileError) return e.problems.map((p) => `${p.line}: ${p.message}`);
    throw e;
  }
  return [];
}

describe("parseMigrationFile: valid files", () => {
  test("up and down sections, lines and default options", () => {
    const m = parseMigrationFile(OK, "-- a comment\n-- migrate:up\ncreate table t (id int);\n\n-- migrate:down\ndrop table t;\n");
    expect(m.version).toBe("20250115103000");
    expect(m.name).toBe("create_users");
    expect(m.up.sql).toBe("create table t (id int);");
    expect(m.up.line).toBe(3);
    expect(m.up.options).toEqual({ transaction: true });
    expect(m.down!.sql).toBe("drop table t;");
    expect(m.checksum).toMatch(/^[0-9a-f]{64}$/);
  });

  test("options on the marker line", () => {
    const m = parseMigrationFile(OK, "-- migrate:up transaction:false lock_timeout:5s statement_timeout:10min\ncreate index concurrently i on t (x);\n-- migrate:down transaction:false\ndrop index concurrently i;\n");
    expect(m.up.options).toEqual({ transaction: false, lockTimeoutMs: 5000, statementTimeoutMs: 600_000 });
    expect(m.down!.options.transaction).toBe(false);
  });

  test("no down section means irreversible, not an error", () => {
    expect(parseMigrationFile(OK, "-- migrate:up\nselect 1;\n").down).toBeNull();
  });

  test("an empty down section is a no-op rollback", () => {
    expect(parseMigrationFile(OK, "-- migrate:up\nselect 1;\n-- migrate:down\n").down!.sql).toBe("");
  });

  test("checksum covers the up section only, ignoring CRLF and edits to down", () => {
    const a = parseMigrationFile(OK, "-- migrate:up\nselect 1;\n-- migrate:down\nselect 2;\n");
    const b = parseMigrationFile(OK, "-- migrate:up\r\nselect 1;\r\n-- migrate:down\r\nselect 3;\r\n");
    const c = parseMigrationFile(OK, "-- migrate:up\nselect 11;\n");
    expect(a.checksum).toBe(b.checksum);
    expect(a.checksum).not.toBe(c.checksum);
  });

  test("semicolons inside dollar quotes, strings and comments are not transaction control", () => {
    const m = parseMigrationFile(OK, "-- migrate:up\ncreate function f() returns int language plpgsql as $$ begin return 1; end; $$;\nselect 'begin;';\n/* commit; */\n");
    expect(m.up.sql).toContain("create function");
  });
});

// Each row: a description, a file name, its text, and a fragment the problem must contain (with its line).
const MALFORMED: [string, string, string, string][] = [
  ["name without version", "create_users.sql", "-- migrate:up\nselect 1;\n", "1: file name must be"],
  ["short version", "2025011510300_create_users.sql", "-- migrate:up\nselect 1;\n", "1: file name must be"],
  ["not .sql", "20250115103000_create_users.txt", "-- migrate:up\nselect 1;\n", "1: file name must be"],
  ["name with spaces", "20250115103000_create users.sql", "-- migrate:up\nselect 1;\n", "1: file name must be"],
  ["impossible date", "20251345103000_x.sql", "-- migrate:up\nselect 1;\n", "1: version 20251345103000 is not a valid UTC timestamp"],
  ["missing up section", OK, "create table t (id int);\n", "1: missing '-- migrate:up' section"],
  ["empty up section", OK, "-- migrate:up\n\n-- only a comment\n-- migrate:down\nselect 1;\n", "1: empty up section"],
  ["up section still new's template", OK, `-- migrate:up\n${TEMPLATE_MARK}\n--   alter table t add column c int;\n-- migrate:down\n`, "1: not written yet"],
  ["two up markers", OK, "-- migrate:up\nselect 1;\n-- migrate:up\nselect 2;\n", "3: second '-- migrate:up' marker"],
  ["two down markers", OK, "-- migrate:up\nselect 1;\n-- migrate:down\nselect 1;\n-- migrate:down\nselect 2;\n", "5: second '-- migrate:down' marker"],
  ["down before up", OK, "-- migrate:down\nselect 1;\n-- migrate:up\nselect 2;\n", "1: '-- migrate:down' must come after"],
  ["SQL before the up marker", OK, "select 0;\n-- migrate:up\nselect 1;\n", "1: SQL before the '-- migrate:up' marker"],
  ["unknown option", OK, "-- migrate:up transactions:false\nselect 1;\n", '1: unknown option "transactions"'],
  ["bad transaction value", OK, "-- migrate:up transaction:no\nselect 1;\n", "1: transaction must be true or false"],
  ["bad duration", OK, "-- migrate:up lock_timeout:soon\nselect 1;\n", "1: lock_timeout must be a positive duration"],
  ["duration over 24 days", OK, "-- migrate:up lock_timeout:25d\nselect 1;\n", "1: lock_timeout must be a positive duration like 5s or 10min (at most 24d)"],
  ["option given twice", OK, "-- migrate:up lock_timeout:1s lock_timeout:2s\nselect 1;\n", '1: option "lock_timeout" given twice'],
  ["option without value syntax", OK, "-- migrate:up notxn\nselect 1;\n", '1: cannot read option "notxn"'],
  ["unknown section marker", OK, "-- migrate:up\nselect 1;\n-- migrate:sideways\nselect 2;\n", '3: unknown section marker "migrate:sideways"'],
  ["unterminated dollar quote", OK, "-- migrate:up\nselect 1;\ndo $$ begin\n perform 1;\n", "3: unterminated dollar-quoted string $$"],
  ["unterminated string", OK, "-- migrate:up\nselect 'oops;\n", "2: unterminated string literal"],
  ["unterminated block comment", OK, "-- migrate:up\nselect 1; /* never closed\n", "2: unterminated /* comment"],
  ["CONCURRENTLY inside a transaction", OK, "-- migrate:up\nselect 1;\ncreate index concurrently i on t (x);\n", "3: CREATE INDEX CONCURRENTLY cannot run inside a transaction"],
  ["BEGIN in a transactional migration", OK, "-- migrate:up\nbegin;\ncreate table t (id int);\ncommit;\n", '2: "BEGIN" in a migration that already runs in a transaction'],
  ["VACUUM in a transaction", OK, "-- migrate:up\nvacuum t;\n", "2: VACUUM cannot run inside a transaction"],
  ["DROP INDEX CONCURRENTLY after a comment", OK, "-- migrate:up\n/* tidy */ drop index concurrently i;\n", "2: DROP INDEX CONCURRENTLY cannot run inside a transaction"],
  ["REINDEX ... CONCURRENTLY", OK, "-- migrate:up\nreindex (verbose) table concurrently t;\n", "2: REINDEX ... CONCURRENTLY cannot run inside a transaction"],
  ["CREATE DATABASE", OK, "-- migrate:up\ncreate database other;\n", "2: CREATE DATABASE cannot run inside a transaction"],
  ["ALTER SYSTEM", OK, "-- migrate:up\nalter system set work_mem = '8MB';\n", "2: ALTER SYSTEM cannot run inside a transaction"],
  ["psql \\i", OK, "-- migrate:up\nselect 1;\n\\i other.sql\n", '3: psql meta-command "\\i" is not SQL'],
  ["psql \\set", OK, "-- migrate:up\n\\set ON_ERROR_STOP on\nselect 1;\n", '2: psql meta-command "\\set" is not SQL'],
  ["COPY data without its end", OK, "-- migrate:up\ncopy t (x) from stdin;\n1\n2\n", '2: COPY ... FROM stdin without its data ending in a line "\\."'],
  ["NUL byte", OK, "-- migrate:up\nselect 1;\0\n", "1: file contains a NUL byte"],
  ["empty file", OK, "", "1: missing '-- migrate:up' section"],
];

describe("parseMigrationFile: malformed files are rejected with file:line", () => {
  for (const [what, file, text, expected] of MALFORMED) {
    test(what, () => {
      const found = problems(file, text);
      expect(found.join("\n")).toContain(expected);
    });
  }

  test("the error message names the file and line", () => {
    try {
      parseMigrationFile(OK, "-- migrate:up\nselect 'oops;\n");
      throw new Error("expected a failure");
    } catch (e) {
      expect((e as Error).message).toContain(`${OK}:2: unterminated string literal`);
    }
  });
});

describe("parseMigrationSet", () => {
  const up = "-- migrate:up\nselect 1;\n";
  test("sorts by version", () => {
    const set = parseMigrationSet([
      { file: "20250202000000_b.sql", text: up },
      { file: "20250101000000_a.sql", text: up },
    ]);
    expect(set.migrations.map((m) => m.name)).toEqual(["a", "b"]);
  });

  test("duplicate versions are rejected, naming both files", () => {
    expect(() => parseMigrationSet([
      { file: "20250101000000_a.sql", text: up },
      { file: "20250101000000_b.sql", text: up },
    ])).toThrow("duplicate version 20250101000000 (also 20250101000000_a.sql)");
  });

  test("problems in several files are reported together", () => {
    try {
      parseMigrationSet([
        { file: "20250101000000_a.sql", text: "select 1;" },
        { file: "bad.sql", text: up },
      ]);
      throw new Error("expected a failure");
    } catch (e) {
      expect((e as MigrationFileError).problems.map((p) => p.file)).toEqual(["20250101000000_a.sql", "20250101000000_a.sql", "bad.sql"]);
    }
  });

  test("a snapshot must name a known migration in its header", () => {
    const files = [{ file: "20250101000000_a.sql", text: up }];
    expect(parseMigrationSet(files, { file: "schema.sql", text: "-- pgship snapshot: 20250101000000\nselect 1;\n" }).snapshot!.version).toBe("20250101000000");
    expect(() => parseMigrationSet(files, { file: "schema.sql", text: "create table x ();\n" })).toThrow("schema.sql:1: first line must be");
    expect(() => parseMigrationSet(files, { file: "schema.sql", text: "-- pgship snapshot: 20990101000000\n" })).toThrow("not one of the migrations");
  });
});

describe("valid SQL is never rejected: statement kinds come from words outside strings and bodies", () => {
  const ok = (sql: string) => parseMigrationFile(OK, `-- migrate:up\n${sql}\n`);
  test.each([
    ["a function whose body refreshes a view CONCURRENTLY", "create function f() returns void language plpgsql as $$ begin refresh materialized view concurrently mv; end $$;"],
    ["REFRESH MATERIALIZED VIEW CONCURRENTLY itself", "refresh materialized view concurrently mv;"],
    ["a tagged body mentioning CREATE INDEX CONCURRENTLY, COMMIT and VACUUM", "create function g() returns text language sql as $body$ select 'create index concurrently x; commit; vacuum' $body$;"],
    ["a comment that says CONCURRENTLY", "-- create index concurrently later\ncreate index i on t (x);"],
    ["a nested block comment", "/* outer /* inner; commit; */ still comment; vacuum */ create table t (x int);"],
    ["an E'' string with escapes and a semicolon", "insert into t values (E'it\\'s; \\\\ done');"],
    ["a DO block with BEGIN/COMMIT words in its body", "do $$ begin perform 1; exception when others then null; end $$;"],
    ["SAVEPOINT and ROLLBACK TO inside the transaction", "savepoint s; create table t2 (x int); rollback to savepoint s; release savepoint s;"],
    ["a column named concurrently", 'create index i2 on t ("concurrently");'],
    ["ALTER TYPE ... ADD VALUE (allowed in a transaction since PostgreSQL 12)", "alter type mood add value 'meh';"],
    ["a COPY ... FROM stdin data block, data with quotes and semicolons", "copy t (x, y) from stdin;\n1\tit's; \\N\n2\t$$ not a quote\n\\.\nselect 1;"],
  ])("%s", (_what, sql) => {
    expect(() => ok(sql)).not.toThrow();
  });

  test("a COPY data block is kept with its statement, and the statement after it is found", () => {
    const st = splitStatements("create table t (x int, y text);\ncopy t (x, y) from stdin;\n1\ta;b\n2\t'\n\\.\ninsert into t values (3, 'c');\n");
    expect(st.map((s) => [s.text, s.line, s.copyData])).toEqual([
      ["create table t (x int, y text)", 1, undefined],
      ["copy t (x, y) from stdin", 2, "1\ta;b\n2\t'\n"],
      ["insert into t values (3, 'c')", 6, undefined],
    ]);
  });

  test("topLevelWords skips strings, quoted names, comments and dollar bodies", () => {
    expect(topLevelWords(`create /* x */ unique index concurrently "Idx" on t using btree (E'a', $q$ commit $q$) -- vacuum`)).toEqual([
      "create", "unique", "index", "concurrently", "on", "t", "using", "btree",
    ]);
  });
});
