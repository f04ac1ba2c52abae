// The pure part of the privilege checks: which GRANT is named for what is missing.

import { describe, expect, test } from "bun:test";
import { describeLacks, lacking, sqlName, type TrackingPrivileges } from "../../src/db/privileges.ts";

const all = { kind: "table" as const, select: true, insert: true, update: true, delete: true, usage: false };
function privs(over: Partial<TrackingPrivileges> = {}): TrackingPrivileges {
  return {
    role: "app",
    database: "db",
    owner: "postgres",
    createOnDatabase: false,
    currentSchema: "public",
    createOnCurrentSchema: false,
    createOnPublic: false,
    schema: "pgship",
    schemaExists: true,
    schemaUsage: true,
    schemaCreate: false,
    rels: { migrations: { ...all }, history: { ...all }, history_id_seq: { kind: "sequence", select: true, insert: false, update: true, delete: false, usage: true } },
    ...over,
  };
}
const message = (p: TrackingPrivileges, needs: Parameters<typeof lacking>[1]) => describeLacks(p, lacking(p, needs));

describe("lacking", () => {
  test("full DML on the tracking tables: reading, recording and applying need nothing more (no CREATE anywhere)", () => {
    expect(lacking(privs(), ["read", "record", "apply", "rollback"])).toEqual([]);
  });

  test("no USAGE on the schema: both GRANTs, in one sentence", () => {
    const p = privs({ schemaUsage: false });
    expect(message(p, ["read"])).toBe("role \"app\" cannot read pgship.migrations: GRANT USAGE ON SCHEMA pgship TO app; GRANT SELECT ON pgship.migrations, pgship.history TO app;");
  });

  test("SELECT on migrations only: history is named", () => {
    const p = privs({ rels: { migrations: { ...all }, history: { ...all, select: false } } });
    expect(message(p, ["read"])).toBe('role "app" cannot read pgship.history: GRANT SELECT ON pgship.history TO app;');
  });

  test("read-only role: recording needs INSERT, UPDATE and the sequence", () => {
    const ro = { ...all, insert: false, update: false, delete: false };
    const p = privs({ rels: { migrations: { ...ro }, history: { ...ro }, history_id_seq: { kind: "sequence", select: true, insert: false, update: false, delete: false, usage: false } } });
    expect(lacking(p, ["read"])).toEqual([]);
    expect(message(p, ["record"])).toBe(
      'role "app" cannot write pgship.history: GRANT INSERT, UPDATE ON pgship.history TO app; GRANT USAGE ON SEQUENCE pgship.history_id_seq TO app;',
    );
    expect(message(p, ["record", "apply", "rollback"])).toContain("GRANT INSERT, UPDATE, DELETE ON pgship.migrations TO app;");
  });

  test("an empty database owned by another role: CREATE on the database and on public, or the owner change", () => {
    const p = privs({ schemaExists: false, schemaUsage: false, rels: {} });
    expect(lacking(p, ["read"])).toEqual([]);
    expect(message(p, ["read", "record", "apply", "create", "create-public"])).toBe(
      'role "app" cannot create objects in database "db": GRANT CREATE ON DATABASE db TO app; GRANT CREATE ON SCHEMA public TO app (or make app the owner: ALTER DATABASE db OWNER TO app)',
    );
    expect(lacking({ ...p, createOnDatabase: true, createOnCurrentSchema: true, createOnPublic: true }, ["record", "apply", "create", "create-public"])).toEqual([]);
  });

  test("names that need quoting are quoted in the GRANT", () => {
    expect(sqlName("app")).toBe("app");
    expect(sqlName("App-User")).toBe('"App-User"');
    expect(sqlName('we"ird')).toBe('"we""ird"');
    const p = privs({ role: "App-User", schemaUsage: false });
    expect(message(p, ["read"])).toContain('GRANT USAGE ON SCHEMA pgship TO "App-User";');
  });
});
