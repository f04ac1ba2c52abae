// Which backups a retention policy keeps. Pure: the caller passes the good
// backups (manifest and archive present and consistent) of one database,
// including the one just written and verified, and deletes what this returns.
//
// Semantics follow restic/borg "forget": --keep-last N keeps the N newest;
// --keep-daily N keeps the newest backup of each of the N most recent days that
// have one (weekly: ISO weeks, monthly: calendar months), all in UTC so the
// answer does not depend on the server's time zone. A backup is kept when any
// rule keeps it. The newest backup is always kept, whatever the policy.

export interface RetentionPolicy {
  last?: number;
  daily?: number;
  weekly?: number;
  monthly?: number;
}

export interface RetentionCandidate {
  id: string;
  createdAt: Date;
}

export interface RetentionDecision {
  keep: { id: string; reasons: string[] }[];
  remove: string[];
}

export function policyIsEmpty(p: RetentionPolicy): boolean {
  return !p.last && !p.daily && !p.weekly && !p.monthly;
}

export function describePolicy(p: RetentionPolicy): string {
  const parts: string[] = [];
  if (p.last) parts.push(`last ${p.last}`);
  if (p.daily) parts.push(`${p.daily} daily`);
  if (p.weekly) parts.push(`${p.weekly} weekly`);
  if (p.monthly) parts.push(`${p.monthly} monthly`);
  return parts.join(", ") || "keep everything";
}

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

export const dayKey = (d: Date) => `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
export const monthKey = (d: Date) => `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}`;

/** ISO 8601 week, e.g. 2025-W01 (the week with the year's first Thursday). */
export function weekKey(d: Date): string {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const weekday = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - weekday);
  const yearStart = Date.UTC(t.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((t.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${t.getUTCFullYear()}-W${pad(week)}`;
}

export function selectRetention(candidates: RetentionCandidate[], policy: RetentionPolicy): RetentionDecision {
  // Newest first; the id breaks ties so the answer never depends on input order.
  const sorted = [...candidates].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  const reasons = new Map<string, string[]>(sorted.map((c) => [c.id, []]));
  if (policyIsEmpty(policy)) {
    return { keep: sorted.map((c) => ({ id: c.id, reasons: ["no retention policy"] })), remove: [] };
  }
  if (sorted[0]) reasons.get(sorted[0].id)!.push("newest");
  sorted.slice(0, policy.last ?? 0).forEach((c, i) => reasons.get(c.id)!.push(`last ${i + 1}`));
  const buckets: [number | undefined, string, (d: Date) => string][] = [
    [policy.daily, "daily", dayKey],
    [policy.weekly, "weekly", weekKey],
    [policy.monthly, "monthly", monthKey],
  ];
  for (const [count, label, keyOf] of buckets) {
    if (!count) continue;
    let seen = 0;
    let last: string | null = null;
    for (const c of sorted) {
      if (seen >= count) break;
      const k = keyOf(c.createdAt);
      if (k === last) continue;
      last = k;
      seen++;
      reasons.get(c.id)!.push(`${label} ${k}`);
    }
  }
  const keep = sorted.filter((c) => reasons.get(c.id)!.length).map((c) => ({ id: c.id, reasons: reasons.get(c.id)! }));
  const remove = sorted.filter((c) => !reasons.get(c.id)!.length).map((c) => c.id);
  return { keep, remove };
}
