// Small text helpers shared by the command line and the wizard.

/** 1536 -> "1.50 KiB"; under 1 KiB the exact count of bytes. */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

/** plural(1, "session") -> "1 session"; plural(2, "session") -> "2 sessions". */
export const plural = (n: number, word: string, many = `${word}s`): string => `${n} ${n === 1 ? word : many}`;

/** A name quoted as an SQL identifier. */
export const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** A string quoted as an SQL literal. */
export const quoteLiteral = (s: string): string => `'${s.replace(/'/g, "''")}'`;
