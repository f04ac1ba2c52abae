// pg_dump's --compress, chosen by what the pg_dump at hand supports. Pure:
// parsing the flag, the order to try methods in, and the arguments.
//
// pg_dump 15 and older compress custom archives with gzip only (-Z 0-9).
// pg_dump 16+ takes METHOD[:LEVEL] and, depending on how it was built, lz4 and
// zstd; zstd is both faster and smaller than gzip, so `auto` prefers it and
// the caller probes which ones this build has.

import { UsageError } from "../core/errors.ts";

export type Method = "none" | "gzip" | "lz4" | "zstd";
export interface Compression {
  method: Method;
  level?: number;
}
export type CompressionChoice = { method: "auto" } | Compression;

const LEVELS: Record<Method, [number, number]> = { none: [0, 0], gzip: [1, 9], lz4: [1, 12], zstd: [1, 22] };

export function parseCompression(text: string | undefined): CompressionChoice {
  const s = (text ?? "auto").trim().toLowerCase();
  if (s === "" || s === "auto") return { method: "auto" };
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n > 9) throw new UsageError(`--compress ${s}: a bare number is a gzip level, 0-9`);
    return n === 0 ? { method: "none" } : { method: "gzip", level: n };
  }
  const m = /^(none|gzip|lz4|zstd)(?::(\d+))?$/.exec(s);
  if (!m) throw new UsageError(`--compress "${text}" is not a compression`, "use auto, none, gzip, lz4 or zstd, optionally with a level (zstd:3, gzip:9), or a gzip level 0-9");
  const method = m[1] as Method;
  if (m[2] === undefined) return { method };
  const level = Number(m[2]);
  const [lo, hi] = LEVELS[method];
  if (method === "none" || level < lo || level > hi) throw new UsageError(`--compress ${s}: ${method} levels are ${method === "none" ? "not allowed" : `${lo}-${hi}`}`);
  return { method, level };
}

/** Methods to try, best first. Empty when the pg_dump cannot do what was asked. */
export function compressionCandidates(choice: CompressionChoice, pgDumpMajor: number): Compression[] {
  if (choice.method === "auto") return pgDumpMajor >= 16 ? [{ method: "zstd" }, { method: "lz4" }, { method: "gzip" }] : [{ method: "gzip" }];
  if (pgDumpMajor < 16 && (choice.method === "lz4" || choice.method === "zstd")) return [];
  return [choice];
}

export function compressionArgs(c: Compression, pgDumpMajor: number): string[] {
  if (c.method === "none") return ["--compress=0"];
  if (pgDumpMajor < 16) return c.level === undefined ? [] : [`--compress=${c.level}`];
  return [`--compress=${c.method}${c.level === undefined ? "" : `:${c.level}`}`];
}

export const describeCompression = (c: Compression) => (c.level === undefined ? c.method : `${c.method}:${c.level}`);
