import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { generateMigrations } from "../../bench/generate.ts";
import { checksumOf, concurrentIndexNames, parseMigrationFile } from "../../src/core/migration-file.ts";
import { splitStatements } from "../../src/core/sql-split.ts";
import { parseMigrationFile as v1Parse } from "./reference/migration-file.v1.ts";
import * as v1 from "./reference/sql-split.v1.ts";
import { normaliseDump, parseSnapshotHeader } from "../../src/core/snapshot.ts";


describe("splitStatements", () => {
  test("plain statements with lines", () => {
    const s = splitStatements("select 1;\n\nselect 2;\n-- trailing comment\n");
    expect(s.map((x) => [x.text, x.line])).toEqual([["select 1", 1], ["select 2", 3]]);
  });
  test("semicolons in strings, identifiers, dollar quotes and comments", () => {
    const sql = `select 'a;b', "c;d";\ncreate function f() returns int as $body$ select 1; $body$ language sql;\n/* x; */ select E'\\';';\nselect $$;$$;`;
    expect(splitStatements(sql).length).toBe(4);
  });
  test("BEGIN ATOMIC bodies stay whole", () => {
    const sql = "create function g() returns int language sql begin atomic select 1; select 2; end;\nselect 3;";
    expect(splitStatements(sql).map((s) => s.text.slice(0, 6))).toEqual(["create", "select"]);
  });
});

describe("concurrentIndexNames", () => {
  test("finds plain, IF NOT EXISTS, quoted and qualified names", () => {
    const sql = `create index concurrently a_idx on t (x);\nCREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "B_Idx" on t (y);\ncreate index concurrently app.c_idx on app.t (z);`;
    expect(concurrentIndexNames(sql)).toEqual(["a_idx", "B_Idx", "app.c_idx"]);
  });
});

describe("snapshot", () => {
  const raw = `--\n-- PostgreSQL database dump\n--\n\n\\restrict abc123\n\n-- Dumped from database version 15.18\n-- Dumped by pg_dump version 17.2\n\nSET statement_timeout = 0;\nSET transaction_timeout = 0;\nSELECT pg_catalog.set_config('search_path', '', false);\n\n--\n-- Name: t; Type: TABLE; Schema: public; Owner: -\n--\n\nCREATE TABLE public.t (\n    id integer\n);   \n\n\n\n--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict abc123\n`;
  test("normalised: header, fixed prologue, no banners or restrict lines", () => {
    const out = normaliseDump(raw, "20250101000000");
    expect(out.startsWith("-- pgship snapshot: 20250101000000\n")).toBe(true);
    expect(out).not.toMatch(/restrict|Dumped|transaction_timeout|dump complete/);
    expect(out).toContain("--\n-- Name: t; Type: TABLE; Schema: public; Owner: -\n--\n\nCREATE TABLE public.t (\n    id integer\n);\n");
    expect(out.endsWith(");\n")).toBe(true);
    expect(parseSnapshotHeader(out)).toEqual({ version: "20250101000000" });
  });
  test("the same schema from another pg_dump version gives the same bytes", () => {
    const other = raw.replace("17.2", "16.4").replace("\\restrict abc123\n", "").replace("\\unrestrict abc123\n", "").replace("SET transaction_timeout = 0;\n", "");
    expect(normaliseDump(other, "20250101000000")).toBe(normaliseDump(raw, "20250101000000"));
  });
  test("a server before 15 (public owned by the bootstrap superuser) gives the same bytes as 15+", () => {
    const publicBlock = "--\n-- Name: public; Type: SCHEMA; Schema: -; Owner: -\n--\n\n-- *not* creating schema, since initdb creates it\n\n\n";
    const from13 = raw.replace("--\n-- Name: t;", `${publicBlock}--\n-- Name: t;`);
    expect(from13).toContain("*not* creating schema");
    expect(normaliseDump(from13, "20250101000000")).toBe(normaliseDump(raw, "20250101000000"));
  });
});

// The streaming splitter and the line scanner against the implementations they
// replaced (test/unit/reference/): the same statements, lines, offsets and
// errors, and the same parsed migrations, on the repository's migrations, the
// benchmark's 500 generated ones, hand-written edge cases and random texts.
describe("streaming splitter and parser match the list-building originals", () => {
  type Outcome = { ok: unknown } | { error: string; line?: number };
  const run = (f: () => unknown): Outcome => {
    try {
      return { ok: f() };
    } catch (e) {
      return { error: (e as Error).message, line: (e as { line?: number }).line };
    }
  };
  const problemsOf = (f: () => unknown): Outcome => {
    try {
      return { ok: f() };
    } catch (e) {
      return { error: (e as Error).message, line: 0, ...(e as { problems?: unknown }).problems ? { problems: (e as { problems: unknown }).problems } : {} } as Outcome;
    }
  };
  const same = (sql: string) => {
    const now = run(() => splitStatements(sql));
    expect(now).toEqual(run(() => v1.splitStatements(sql)));
  };
  const sameFile = (file: string, text: string) => {
    expect(problemsOf(() => parseMigrationFile(file, text))).toEqual(problemsOf(() => v1Parse(file, text)));
  };

  const fixture = join(import.meta.dir, "../fixtures/app/migrations");
  const repoFiles = readdirSync(fixture).filter((f) => f.endsWith(".sql"));
  const generated = generateMigrations(500).migrations;

  test("the test app's migrations", () => {
    expect(repoFiles.length).toBeGreaterThan(0);
    for (const f of repoFiles) {
      const text = readFileSync(join(fixture, f), "utf8");
      same(text);
      sameFile(f, text);
    }
  });

  test("the benchmark's 500 generated migrations", () => {
    for (const m of generated) {
      same(m.text);
      sameFile(m.file, m.text);
    }
  });

  const EDGE = [
    "",
    ";;;",
    "-- only a comment",
    "/* only */ -- comments\n",
    "select 1",
    "select 1;\r\nselect 2;\r\n",
    "select 'a;b', \"c;d\"; select E'\\';'; select e'x\\\\'; select ne'it''s';",
    "create function f() returns int as $body$ select 1; $body$ language sql; select $$;$$; select $1;",
    "select a$b$c; select $x$ ; $x$;",
    "create function g() returns int language sql begin atomic select case when true then 1 else 2 end; select 2; end; select 3;",
    "create procedure p() begin atomic; end; select 4",
    "/* a /* nested; */ still; */ select 5; /* x */",
    "select 'unterminated",
    "select \"unterminated",
    "select $q$ unterminated",
    "/* unterminated",
    "select 1; -- trailing ; in comment\nselect 2 /* ; */;",
    "  \n\n  select\n  1  ;\n\n\tselect 2\n",
    "SELECT Ünïcødé_ident; select '日本語;'; select 1;",
    "begin; commit; START TRANSACTION; vacuum; create index concurrently i on t(x);",
    "create/**/index--c\nconcurrently x on t(y);",
    "\uFEFFselect 1;\u00A0select 2;",
  ];

  test("hand-written edge cases", () => {
    for (const sql of EDGE) same(sql);
  });

  const FILES: [string, string][] = [
    ["20250101000000_a.sql", "-- migrate:up\nselect 1;\n-- migrate:down\nselect 2;\n"],
    ["20250101000000_a.sql", "-- migrate:up\r\nselect 1;\r\n-- migrate:down\r\n"],
    ["20250101000000_a.sql", "select 0;\n-- migrate:up\nselect 1;"],
    ["20250101000000_a.sql", "-- header\n\n  -- migrate:up   transaction:false lock_timeout:5s\n  create index concurrently i on t (x);\n   -- migrate:down\n"],
    ["20250101000000_a.sql", "-- migrate:down\nselect 1;\n-- migrate:up\nselect 2;\n"],
    ["20250101000000_a.sql", "-- migrate:up\n-- migrate:up\n-- migrate:down\n-- migrate:down\n-- migrate:sideways"],
    ["20250101000000_a.sql", "-- migrate:up\n"],
    ["20250101000000_a.sql", "-- migrate:up"],
    ["20250101000000_a.sql", "-- migrate:up\nbegin; select 1; commit;\n-- migrate:down\nvacuum;"],
    ["20250101000000_a.sql", "-- migrate:up\nselect 'unterminated;\n-- migrate:down\n"],
    ["20250101000000_a.sql", "-- migrate:up transaction:maybe bogus\nselect 1;"],
    ["20251399000000_bad.sql", "-- migrate:up\nselect 1;"],
    ["not-a-migration.sql", "\u00A0\n-- migrate:up\nselect 1;\n\u2028\n-- migrate:down\n\n"],
    ["20250101000000_a.sql", "\n\n\n-- migrate:up\n\n\nselect 1;\n\n\n-- migrate:down\n\n\n"],
  ];

  test("hand-written migration files", () => {
    for (const [file, text] of FILES) sameFile(file, text);
  });

  test("random texts from SQL fragments (seeded)", () => {
    const PIECES = [
      "select", " ", "\n", "\r\n", ";", "'", "''", "\"", "$$", "$t$", "$1", "--", "/*", "*/", "E'", "\\", "begin", "atomic",
      "case", "end", "x", "1", "(", ")", ",", "concurrently", "create index", "-- migrate:up\n", "-- migrate:down\n", "\t", "é", "日",
    ];
    let seed = 20250101;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    for (let k = 0; k < 3000; k++) {
      let sql = "";
      const len = rand(40);
      for (let j = 0; j < len; j++) sql += PIECES[rand(PIECES.length)];
      same(sql);
      sameFile("20250101000000_r.sql", sql);
      sameFile("20250101000000_r.sql", `-- migrate:up\n${sql}`);
    }
  });

  test("checksums of big texts are hashed in slices to the same digest", () => {
    // Around the slice size, with a surrogate pair across a slice boundary.
    for (const text of ["a".repeat(300_000), `${"b".repeat((1 << 18) - 1)}😀${"c".repeat(1000)}`, `${"é".repeat(1 << 19)}`]) {
      expect(checksumOf(text)).toBe(createHash("sha256").update(text).digest("hex"));
    }
  });
});
