import { describe, expect, test } from "bun:test";
import { PgshipError } from "../../src/core/errors.ts";
import { parseMigrationSet, type MigrationSet } from "../../src/core/migration-set.ts";
import { computeStatus, planDown, planUp, type AppliedRow, type DatabaseState } from "../../src/core/plan.ts";

const file = (v: string, name: string, opts = "", down = true) => ({
  file: `${v}_${name}.sql`,
  text: `-- migrate:up ${opts}\n${opts.includes("transaction:false") ? `create index concurrently if not exists ${name}_idx on t (x);` : `create table ${name} (id int);`}\n${down ? `-- migrate:down\ndrop table ${name};\n` : ""}`,
});

const V = ["20250101000000", "20250201000000", "20250301000000", "20250401000000"] as const;
function set(snapshotAt?: string, extra: ReturnType<typeof file>[] = []): MigrationSet {
  const files = [file(V[0]!, "a"), file(V[1]!, "b"), file(V[2]!, "c"), file(V[3]!, "d"), ...extra];
  return parseMigrationSet(files, snapshotAt ? { file: "schema.sql", text: `-- pgship snapshot: ${snapshotAt}\ncreate table a (id int);\n` } : null);
}
const row = (s: MigrationSet, v: string, patch: Partial<AppliedRow> = {}): AppliedRow => {
  const m = s.migrations.find((x) => x.version === v)!;
  return { version: v, name: m.name, checksum: m.checksum, state: "applied", via: "migration", startedAt: null, appliedAt: "2025-01-01T00:00:00Z", durationMs: 1, ...patch };
};
const db = (applied: AppliedRow[], patch: Partial<DatabaseState> = {}): DatabaseState => ({ managed: true, applied, empty: false, foreign: null, ...patch });
const EMPTY: DatabaseState = { managed: false, applied: [], empty: true, foreign: null };

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof PgshipError) return `${e.code}/${e.exitCode}`;
    throw e;
  }
  return "no error";
}

describe("planUp", () => {
  test("empty database with a current snapshot: one snapshot step stamping everything", () => {
    const s = set(V[3]);
    const p = planUp(s, EMPTY, { mode: "up" });
    expect(p.action).toBe("install");
    expect(p.steps.map((x) => x.kind)).toEqual(["snapshot"]);
    expect(p.steps[0]!.kind === "snapshot" && p.steps[0]!.stamps.length).toBe(4);
    expect(p.atomicPrefix).toBe(1);
  });

  test("stale snapshot: snapshot plus the newer migrations, all in one transaction", () => {
    const p = planUp(set(V[1]), EMPTY, { mode: "install" });
    expect(p.steps.map((x) => (x.kind === "snapshot" ? "snap" : x.migration.version))).toEqual(["snap", V[2], V[3]]);
    expect(p.atomicPrefix).toBe(3);
  });

  test("no snapshot: replays every migration in one transaction", () => {
    const p = planUp(set(), EMPTY, { mode: "up" });
    expect(p.steps.length).toBe(4);
    expect(p.atomicPrefix).toBe(4);
  });

  test("a transaction:false migration ends the atomic prefix of an install", () => {
    const s = set(V[1], [file("20250501000000", "e", "transaction:false")]);
    const p = planUp(s, EMPTY, { mode: "up" });
    expect(p.steps.length).toBe(4);
    expect(p.atomicPrefix).toBe(3);
  });

  test("--to stops early, and chooses replay when the snapshot is past the target", () => {
    const s = set(V[3]);
    const p = planUp(s, EMPTY, { mode: "up", to: V[1] });
    expect(p.steps.map((x) => x.kind === "up" && x.migration.version)).toEqual([V[0], V[1]]);
  });

  test("update applies only pending migrations, in order, including out-of-order ones", () => {
    const s = set();
    const p = planUp(s, db([row(s, V[0]!), row(s, V[2]!)]), { mode: "update" });
    expect(p.steps.map((x) => x.kind === "up" && x.migration.version)).toEqual([V[1], V[3]]);
    expect(p.from).toBe(V[2]);
  });

  test("up to date: nothing to do", () => {
    const s = set();
    expect(planUp(s, db(V.map((v) => row(s, v))), { mode: "up" }).action).toBe("none");
  });

  test("a running row is resumed", () => {
    const s = set();
    const p = planUp(s, db([row(s, V[0]!), row(s, V[1]!, { state: "running" })]), { mode: "up" });
    expect(p.steps.map((x) => x.kind === "up" && x.resume)).toEqual([true, false, false]);
  });

  test("refusals carry the right exit codes", () => {
    const s = set();
    expect(code(() => planUp(s, db([row(s, V[0]!, { checksum: "x" })]), { mode: "up" }))).toBe("checksum_changed/4");
    expect(code(() => planUp(s, db([row(s, V[0]!), { ...row(s, V[0]!), version: "20990101000000", name: "future" }]), { mode: "up" }))).toBe("database_newer/6");
    expect(code(() => planUp(s, { ...EMPTY, empty: false }, { mode: "up" }))).toBe("not_empty/1");
    expect(code(() => planUp(s, { ...EMPTY, empty: false }, { mode: "update" }))).toBe("not_empty/1");
    expect(code(() => planUp(s, EMPTY, { mode: "update" }))).toBe("not_installed/1");
    expect(code(() => planUp(s, db([row(s, V[0]!)]), { mode: "install" }))).toBe("already_installed/1");
    expect(code(() => planUp(s, EMPTY, { mode: "up", to: "20000101000000" }))).toBe("unknown_version/2");
  });

  test("an unmanaged database with another tool's history is named in the refusal, with the commands that adopt it", () => {
    let err: PgshipError | undefined;
    try {
      planUp(set(), { ...EMPTY, empty: false, foreign: { tool: "dbmate", version: V[1]! } }, { mode: "up" });
    } catch (e) {
      err = e as PgshipError;
    }
    expect(err?.message).toContain(`migrated by dbmate, which recorded version ${V[1]}`);
    expect(err?.hint).toContain("'pgship up --adopt'");
    expect(err?.hint).toContain("'pgship baseline --from dbmate'");
  });
});

describe("planDown", () => {
  const s = set();
  const all = db(V.map((v) => row(s, v)));
  test("--steps rolls back the newest first", () => {
    expect(planDown(s, all, { steps: 2 }).steps.map((x) => x.kind === "down" && x.migration.version)).toEqual([V[3], V[2]]);
  });
  test("--to keeps the target", () => {
    const p = planDown(s, all, { to: V[1] });
    expect(p.steps.map((x) => x.kind === "down" && x.migration.version)).toEqual([V[3], V[2]]);
    expect(p.to).toBe(V[1]);
  });
  test("--to 0 rolls back everything", () => {
    expect(planDown(s, all, { to: "0" }).steps.length).toBe(4);
  });
  test("a migration without down stops the whole plan before anything runs", () => {
    const s2 = set(undefined, [file("20250501000000", "e", "", false)]);
    const d = db(s2.migrations.map((m) => row(s2, m.version)));
    expect(code(() => planDown(s2, d, { steps: 1 }))).toBe("irreversible/1");
  });
});

describe("computeStatus", () => {
  test("applied, pending, changed, running and unknown", () => {
    const s = set();
    const r = computeStatus(s, db([
      row(s, V[0]!),
      row(s, V[1]!, { checksum: "deadbeef" }),
      row(s, V[2]!, { state: "running" }),
      { ...row(s, V[0]!), version: "20990101000000", name: "future" },
    ]));
    expect(r.entries.map((e) => e.status)).toEqual(["applied", "changed", "running", "pending", "unknown"]);
    expect(r.counts).toEqual({ applied: 1, pending: 1, changed: 1, running: 1, unknown: 1 });
    expect(r.version).toBe("20990101000000");
  });
});

describe("planUp: an interrupted transaction:false migration whose file changed", () => {
  const s = set(undefined, [file("20250501000000", "idx", "transaction:false")]);
  const applied = [V[0], V[1], V[2], V[3]].map((v) => row(s, v!));
  const running = (checksum: string) => db([...applied, row(s, "20250501000000", { state: "running", checksum, appliedAt: null })]);

  test("the same text resumes", () => {
    const m = s.migrations.at(-1)!;
    const p = planUp(s, running(m.checksum), { mode: "up" });
    expect(p.steps).toEqual([{ kind: "up", migration: m, resume: true }]);
  });

  test("an edited text is refused with both checksums and the accepting command (exit 4)", () => {
    const st = running("0".repeat(64));
    expect(code(() => planUp(s, st, { mode: "update" }))).toBe("changed_since_interrupted/4");
    let err: PgshipError | undefined;
    try {
      planUp(s, st, { mode: "update", acceptCommand: (v) => `app-db update --accept-changed ${v}` });
    } catch (e) {
      err = e as PgshipError;
    }
    expect(err?.message).toContain("0".repeat(64));
    expect(err?.message).toContain(s.migrations.at(-1)!.checksum);
    expect(err?.hint).toContain("app-db update --accept-changed 20250501000000");
    // Accepting another version does not accept this one.
    expect(code(() => planUp(s, st, { mode: "up", acceptChanged: [V[0]!] }))).toBe("changed_since_interrupted/4");
  });

  test("--accept-changed resumes it and carries the checksum the run started with", () => {
    const p = planUp(s, running("0".repeat(64)), { mode: "up", acceptChanged: ["20250501000000"] });
    expect(p.steps).toEqual([{ kind: "up", migration: s.migrations.at(-1)!, resume: true, acceptedChange: "0".repeat(64) }]);
    expect(code(() => planUp(s, running("0".repeat(64)), { mode: "up", acceptChanged: ["20990101000000"] }))).toBe("unknown_version/2");
  });

  test("status shows both checksums for it", () => {
    const e = computeStatus(s, running("0".repeat(64))).entries.at(-1)!;
    expect(e).toMatchObject({ status: "running", expectedChecksum: "0".repeat(64), actualChecksum: s.migrations.at(-1)!.checksum });
  });
});
