// Durations as people write them on the command line and in migration options:
// "500ms", "5s", "10min", "2m", "1h", "1h30m", "2d". A bare number means seconds.

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  sec: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/**
 * The longest duration a flag accepts: 24 days. Timers (setTimeout) and
 * PostgreSQL's lock_timeout hold at most 2^31-1 ms (24.8 days); one limit for
 * --wait, --lock-timeout and wait --timeout, stated in their error message.
 */
export const MAX_DURATION_MS = 24 * 86_400_000;

/** Milliseconds, or null when `text` is not a duration. */
export function parseDuration(text: string): number | null {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Math.round(Number(t) * 1000);
  const part = /(\d+(?:\.\d+)?)(ms|sec|min|s|m|h|d)/y;
  let total = 0;
  let pos = 0;
  while (pos < t.length) {
    part.lastIndex = pos;
    const m = part.exec(t);
    if (!m) return null;
    total += Number(m[1]) * UNITS[m[2]!]!;
    pos = part.lastIndex;
  }
  return pos === 0 ? null : Math.round(total);
}

/** "1.2 s", "340 ms", "2 min 5 s" */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 3_600_000) return `${Math.floor(ms / 3_600_000)} h ${Math.round((ms % 3_600_000) / 60_000)} min`;
  const min = Math.floor(ms / 60_000);
  return `${min} min ${Math.round((ms % 60_000) / 1000)} s`;
}
