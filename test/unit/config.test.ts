import { describe, expect, test } from "bun:test";
import { parseDatabaseUrl, parseDotenv, resolveTarget } from "../../src/core/config.ts";
import { Redactor, redactUrl } from "../../src/core/redact.ts";
import { parseDuration } from "../../src/core/duration.ts";
import { UsageError } from "../../src/core/errors.ts";

describe("database URL", () => {
  test("parts, percent-decoding and defaults", () => {
    const t = parseDatabaseUrl("postgresql://app:p%40ss%3Aword@db.example:6543/my_app?sslmode=require&application_name=x", "flag");
    expect(t).toMatchObject({ host: "db.example", port: 6543, user: "app", password: "p@ss:word", database: "my_app", sslmode: "require", params: { application_name: "x" } });
  });
  test("unix socket through ?host=/dir", () => {
    expect(parseDatabaseUrl("postgres://app@/app?host=/var/run/postgresql", "env")).toMatchObject({ socketDir: "/var/run/postgresql", database: "app" });
  });
  test("a port out of range says so", () => {
    expect(() => parseDatabaseUrl("postgres://u:pw@h:99999/db", "flag")).toThrow("port 99999 is out of range (1-65535)");
  });
  test("bad URLs are usage errors that never show the password", () => {
    for (const bad of ["postgres://u:hunter2/x@h/db", "postgres://u:hunter2?x@h/db", "postgres://u:hunter2#x@h/db", "mysql://u:hunter2@h/db", "postgres://u:hunter2@h:99999/db", "postgres://u:hunter2@h/db?sslmode=maybe", "postgres://u:%ZZhunter2@h/db", "hunter2"]) {
      try {
        parseDatabaseUrl(bad, "flag");
        throw new Error(`accepted ${bad}`);
      } catch (e) {
        expect(e).toBeInstanceOf(UsageError);
        expect((e as Error).message).not.toContain("hunter2".slice(0, 7) + "@");
        expect((e as Error).message.includes("hunter2") && !bad.startsWith("hunter2")).toBe(false);
      }
    }
  });
});

describe("precedence: flag > DATABASE_URL > .env > PG*", () => {
  const env = { DATABASE_URL: "postgres://env@h/envdb", PGHOST: "pghost", PGDATABASE: "pgdb" };
  const dotenv = { DATABASE_URL: "postgres://dot@h/dotdb" };
  test("flag wins", () => expect(resolveTarget({ flagUrl: "postgres://f@h/flagdb", env, dotenv }).database).toBe("flagdb"));
  test("then the environment", () => expect(resolveTarget({ env, dotenv }).database).toBe("envdb"));
  test("then .env", () => expect(resolveTarget({ env: { PGHOST: "x" }, dotenv }).database).toBe("dotdb"));
  test("then PG* variables", () => expect(resolveTarget({ env: { PGHOST: "pghost", PGDATABASE: "pgdb", PGUSER: "u", PGPASSWORD: "s" } })).toMatchObject({ host: "pghost", database: "pgdb", user: "u", password: "s", source: "pg-env" }));
  test("nothing at all is a usage error naming the flag", () => expect(() => resolveTarget({ env: {} })).toThrow("no database given"));
});

describe("dotenv", () => {
  test("quotes, export, comments", () => {
    expect(parseDotenv(`# c\nexport A=1\nB="two words"\nC='x#y'\nD=plain # trailing\nbad line\n`)).toEqual({ A: "1", B: "two words", C: "x#y", D: "plain" });
  });
});

describe("redaction", () => {
  test("URLs and known secrets", () => {
    expect(redactUrl("postgres://u:s3cret@h/db")).toBe("postgres://u:***@h/db");
    expect(new Redactor().add("s3cret").scrub("failed for postgres://u:s3cret@h/db with s3cret")).toBe("failed for postgres://u:***@h/db with ***");
  });
  test("a URL whose password has unencoded @ : / ? # is shown without any of its userinfo", () => {
    const raw = "postgres://u:p@ss:w/o?r#d@host/db";
    expect(redactUrl(raw)).toBe("postgres://***@host/db");
    const r = new Redactor().addUrl(raw);
    expect(r.scrub(`password p@ss:w/o?r#d and p%40ss%3Aw%2Fo%3Fr%23d`)).toBe("password *** and ***");
  });
  test("short secrets are not scrubbed; word-length ones only as whole words; long ones everywhere", () => {
    const r = new Redactor().add("is").add("wrong").add("a-very-long-secret");
    expect(r.scrub("the passphrase is wrong, wrongly")).toBe("the passphrase is ***, wrongly");
    expect(r.scrub("xa-very-long-secretx")).toBe("x***x");
    // Passphrases and identities are never echoed: only long ones are scrubbed, so "wrong" stays a word.
    const files = new Redactor();
    files.push("wrong", "a long passphrase");
    expect(files.scrub("the passphrase is wrong; a long passphrase")).toBe("the passphrase is wrong; ***");
  });
  test("JSON values are scrubbed deeply", () => {
    const r = new Redactor().add("hunter22");
    expect(r.scrubValue({ a: ["x hunter22"], b: { c: "hunter22" }, n: 1 })).toEqual({ a: ["x ***"], b: { c: "***" }, n: 1 });
  });
});

describe("durations", () => {
  test.each([["500ms", 500], ["5s", 5000], ["10min", 600_000], ["2m", 120_000], ["1h30m", 5_400_000], ["2d", 172_800_000], ["3", 3000], ["soon", null], ["", null], ["5 s", null]])("%s", (text, ms) => {
    expect(parseDuration(text as string)).toBe(ms as number | null);
  });
});
