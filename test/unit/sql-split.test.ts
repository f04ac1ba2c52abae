import { describe, expect, test } from "bun:test";
import { splitStatements } from "../../src/core/sql-split.ts";
import { normaliseDump, parseSnapshotHeader } from "../../src/core/snapshot.ts";
import { concurrentIndexNames } from "../../src/db/apply.ts";

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
