// The restore decisions as pure functions: which mode and which way back
// (planRestore), the names of a restore's work databases (leftovers), and the
// way back as recorded in the history row (read again by --undo).

import { describe, expect, test } from "bun:test";
import { historyArgs, isScratchName, isWorkDatabaseOf, planRestore, scratchComment, scratchOf, wayBackOf, workDatabaseName, type PlanFacts } from "../../src/backup/restore-plan.ts";

const facts = (over: Partial<PlanFacts> = {}): PlanFacts => ({
  live: "app",
  into: null,
  liveExists: true,
  inPlace: false,
  role: { name: "app", canCreate: true, mayRename: true },
  maintenanceError: null,
  keeps: "app_before_restore_20260101t000000z",
  safetyDir: "/backups",
  ...over,
});

describe("planRestore", () => {
  test("swap keeps the current database under the name given; --drop-old keeps none", () => {
    expect(planRestore(facts())).toEqual({ plan: { mode: "swap", keeps: "app_before_restore_20260101t000000z" }, why: null });
    expect(planRestore(facts({ keeps: null })).plan).toEqual({ mode: "swap", keeps: null });
  });
  test("in place takes a safety backup (or none with --no-safety-backup), and says why it is in place", () => {
    expect(planRestore(facts({ inPlace: true }))).toEqual({ plan: { mode: "in-place", safetyBackup: "/backups" }, why: null });
    expect(planRestore(facts({ role: { name: "app", canCreate: false, mayRename: true }, safetyDir: null }))).toEqual({
      plan: { mode: "in-place", safetyBackup: null },
      why: 'role "app" cannot create databases',
    });
    expect(planRestore(facts({ role: { name: "x", canCreate: true, mayRename: false } })).why).toBe('role "x" does not own database "app", so it cannot rename it');
    expect(planRestore(facts({ maintenanceError: "refused" })).why).toBe("cannot connect to a maintenance database (refused)");
  });
  test("create and into replace nothing", () => {
    expect(planRestore(facts({ liveExists: false })).plan).toEqual({ mode: "create" });
    expect(planRestore(facts({ into: "copy" })).plan).toEqual({ mode: "into", database: "copy" });
  });
});

describe("leftover names", () => {
  test("a work database is recognised for its own database only, also when the name was shortened", () => {
    const at = new Date("2026-01-02T03:04:05Z");
    expect(isWorkDatabaseOf(workDatabaseName("app", at), "app")).toBe(true);
    expect(isWorkDatabaseOf(workDatabaseName("app", at, 2), "app")).toBe(true);
    expect(isWorkDatabaseOf(workDatabaseName("app", at), "ap")).toBe(false);
    expect(isWorkDatabaseOf(workDatabaseName("appx", at), "app")).toBe(false);
    expect(isWorkDatabaseOf("app_restoring_later", "app")).toBe(false);
    const long = "a".repeat(60);
    expect(workDatabaseName(long, at).length).toBe(63);
    expect(isWorkDatabaseOf(workDatabaseName(long, at), long)).toBe(true);
  });
  test("scratch databases: the name and the comment naming the database they were made for", () => {
    expect(isScratchName("pgship_scratch_0123456789ab")).toBe(true);
    expect(isScratchName("pgship_scratch_x")).toBe(false);
    expect(scratchOf(scratchComment("my db", new Date()))).toBe("my db");
    expect(scratchOf("something else")).toBeNull();
  });
});

describe("the way back in the history row", () => {
  test("written and read back", () => {
    expect(wayBackOf(historyArgs("restore a.dump", { kind: "kept-database", database: 'odd "name"' }, true))).toEqual({ kind: "kept-database", database: 'odd "name"' });
    expect(wayBackOf(historyArgs("restore a.dump", { kind: "safety-backup", file: "/b/app (1).dump" }, true))).toEqual({ kind: "safety-backup", file: "/b/app (1).dump" });
    expect(historyArgs("restore a.dump", null, true)).toBe("restore a.dump (no way back kept)");
    expect(wayBackOf(historyArgs("restore a.dump", null, true))).toBeNull();
    expect(wayBackOf(historyArgs("restore a.dump", null, false))).toBeNull();
  });
});
