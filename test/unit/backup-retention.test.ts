// Retention: which backups each policy keeps, table-driven.

import { describe, expect, test } from "bun:test";
import { dayKey, describePolicy, monthKey, policyIsEmpty, selectRetention, weekKey, type RetentionPolicy } from "../../src/backup/retention.ts";

/** Backups named by their UTC time, e.g. "2025-06-01T02:00". */
const at = (...times: string[]) => times.map((t) => ({ id: t, createdAt: new Date(`${t}:00Z`) }));

/** A nightly backup at 02:00 for `days` days ending on `last` (newest first in the result ids). */
function nightly(last: string, days: number) {
  const end = Date.parse(`${last}T02:00:00Z`);
  return Array.from({ length: days }, (_, i) => {
    const d = new Date(end - i * 86_400_000);
    return { id: d.toISOString().slice(0, 10), createdAt: d };
  });
}

const cases: { name: string; backups: { id: string; createdAt: Date }[]; policy: RetentionPolicy; keep: string[] }[] = [
  {
    name: "no policy keeps everything",
    backups: at("2025-06-01T02:00", "2025-06-02T02:00"),
    policy: {},
    keep: ["2025-06-02T02:00", "2025-06-01T02:00"],
  },
  {
    name: "keep-last 2",
    backups: at("2025-06-01T02:00", "2025-06-02T02:00", "2025-06-03T02:00", "2025-06-04T02:00"),
    policy: { last: 2 },
    keep: ["2025-06-04T02:00", "2025-06-03T02:00"],
  },
  {
    name: "keep-last larger than the number of backups",
    backups: at("2025-06-01T02:00", "2025-06-02T02:00"),
    policy: { last: 10 },
    keep: ["2025-06-02T02:00", "2025-06-01T02:00"],
  },
  {
    name: "keep-daily keeps the newest of each day",
    backups: at("2025-06-01T02:00", "2025-06-01T14:00", "2025-06-02T02:00", "2025-06-02T14:00", "2025-06-03T02:00"),
    policy: { daily: 2 },
    keep: ["2025-06-03T02:00", "2025-06-02T14:00"],
  },
  {
    name: "keep-daily counts days that have backups, not calendar days",
    backups: at("2025-05-01T02:00", "2025-05-20T02:00", "2025-06-03T02:00"),
    policy: { daily: 2 },
    keep: ["2025-06-03T02:00", "2025-05-20T02:00"],
  },
  {
    name: "keep-weekly uses ISO weeks (Monday to Sunday)",
    // 2025-06-01 is a Sunday (week 22), 06-02 a Monday (week 23).
    backups: at("2025-05-31T02:00", "2025-06-01T02:00", "2025-06-02T02:00", "2025-06-08T02:00"),
    policy: { weekly: 2 },
    keep: ["2025-06-08T02:00", "2025-06-01T02:00"],
  },
  {
    name: "keep-monthly",
    backups: at("2025-03-15T02:00", "2025-04-01T02:00", "2025-04-30T02:00", "2025-05-10T02:00", "2025-05-31T02:00"),
    policy: { monthly: 2 },
    keep: ["2025-05-31T02:00", "2025-04-30T02:00"],
  },
  {
    name: "rules combine: a backup kept by any rule stays",
    backups: nightly("2025-06-30", 90),
    policy: { last: 2, daily: 7, weekly: 4, monthly: 3 },
    // 7 dailies (06-24..06-30); weeklies: 06-30 (a Monday, its week's only backup so far), then the
    // Sundays 06-29, 06-22, 06-15; monthlies 06-30, 05-31, 04-30.
    keep: ["2025-06-30", "2025-06-29", "2025-06-28", "2025-06-27", "2025-06-26", "2025-06-25", "2025-06-24", "2025-06-22", "2025-06-15", "2025-05-31", "2025-04-30"],
  },
  {
    name: "the newest backup is kept even when no rule would keep it",
    backups: at("2025-06-01T02:00", "2025-06-01T03:00"),
    policy: { weekly: 1 },
    keep: ["2025-06-01T03:00"],
  },
  {
    name: "UTC decides the day, whatever the time zone",
    backups: at("2025-06-01T23:30", "2025-06-02T00:30"),
    policy: { daily: 1 },
    keep: ["2025-06-02T00:30"],
  },
];

describe("selectRetention", () => {
  for (const c of cases) {
    test(c.name, () => {
      const d = selectRetention(c.backups, c.policy);
      expect(d.keep.map((k) => k.id)).toEqual(c.keep);
      const all = new Set(c.backups.map((b) => b.id));
      expect(new Set([...d.keep.map((k) => k.id), ...d.remove])).toEqual(all);
      expect(d.remove.some((r) => c.keep.includes(r))).toBe(false);
    });
  }

  test("input order does not matter", () => {
    const b = nightly("2025-06-30", 40);
    const policy = { daily: 3, weekly: 2 };
    expect(selectRetention([...b].reverse(), policy)).toEqual(selectRetention(b, policy));
  });

  test("reasons say which rule kept a backup", () => {
    const d = selectRetention(at("2025-06-01T02:00", "2025-06-02T02:00"), { last: 1, daily: 2 });
    expect(d.keep[0]).toEqual({ id: "2025-06-02T02:00", reasons: ["newest", "last 1", "daily 2025-06-02"] });
    expect(d.keep[1]).toEqual({ id: "2025-06-01T02:00", reasons: ["daily 2025-06-01"] });
  });

  test("an empty directory", () => {
    expect(selectRetention([], { last: 3 })).toEqual({ keep: [], remove: [] });
  });
});

test("bucket keys", () => {
  const d = new Date("2021-01-03T12:00:00Z"); // a Sunday in ISO week 2020-W53
  expect(dayKey(d)).toBe("2021-01-03");
  expect(weekKey(d)).toBe("2020-W53");
  expect(weekKey(new Date("2021-01-04T00:00:00Z"))).toBe("2021-W01");
  expect(weekKey(new Date("2024-12-30T00:00:00Z"))).toBe("2025-W01");
  expect(monthKey(d)).toBe("2021-01");
  expect(policyIsEmpty({})).toBe(true);
  expect(policyIsEmpty({ monthly: 1 })).toBe(false);
  expect(describePolicy({ last: 3, daily: 7 })).toBe("last 3, 7 daily");
});
