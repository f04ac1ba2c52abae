// Where backups live: a local directory, or s3://BUCKET/PREFIX. The one place
// that reads a location string (--dir, --copy-to, a backup FILE, --backup), so
// the CLI and the wizard pass plain strings.

import { UsageError } from "../core/errors.ts";

export type Location = { kind: "local"; path: string } | { kind: "s3"; bucket: string; prefix: string; url: string };

const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;

/**
 * `s3://bucket/some/prefix` -> { bucket, prefix: "some/prefix" }; anything
 * else without a scheme is a local path. Other schemes are refused rather
 * than taken as a directory named "gs:".
 */
export function parseLocation(raw: string, what = "--dir"): Location {
  const m = SCHEME.exec(raw);
  if (!m) {
    if (/^s3:/i.test(raw)) throw new UsageError(`${what} ${raw}: an S3 location is written s3://BUCKET/PREFIX`);
    return { kind: "local", path: raw };
  }
  if (m[1]!.toLowerCase() !== "s3") throw new UsageError(`${what} ${raw}: ${m[1]}:// is not supported`, "give a local directory or s3://BUCKET/PREFIX");
  const rest = raw.slice(m[0].length);
  const slash = rest.indexOf("/");
  const bucket = slash < 0 ? rest : rest.slice(0, slash);
  const prefix = (slash < 0 ? "" : rest.slice(slash + 1)).replace(/\/+$/, "").replace(/\/{2,}/g, "/");
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw new UsageError(`${what} ${raw}: "${bucket}" is not an S3 bucket name`, "bucket names are 3-63 lower-case letters, digits, dots and hyphens: s3://BUCKET/PREFIX");
  if (prefix.split("/").some((p) => p === "." || p === "..")) throw new UsageError(`${what} ${raw}: the prefix must not hold . or .. segments`);
  return { kind: "s3", bucket, prefix, url: `s3://${bucket}${prefix ? `/${prefix}` : ""}` };
}

export const isS3 = (raw: string): boolean => /^s3:\/\//i.test(raw);

/** The key of a file in an S3 location. */
export const keyIn = (loc: { prefix: string }, name: string): string => (loc.prefix ? `${loc.prefix}/${name}` : name);

/** s3://bucket/prefix/file -> { bucket, key, dir (the location it is in), name }. */
export function parseS3File(raw: string, what = "FILE"): { bucket: string; key: string; dir: Location & { kind: "s3" }; name: string } {
  const loc = parseLocation(raw, what);
  if (loc.kind !== "s3" || !loc.prefix) throw new UsageError(`${what} ${raw}: name a file, s3://BUCKET/PREFIX/FILE`);
  const at = loc.prefix.lastIndexOf("/");
  const name = loc.prefix.slice(at + 1);
  const dirPrefix = at < 0 ? "" : loc.prefix.slice(0, at);
  return { bucket: loc.bucket, key: loc.prefix, name, dir: { kind: "s3", bucket: loc.bucket, prefix: dirPrefix, url: `s3://${loc.bucket}${dirPrefix ? `/${dirPrefix}` : ""}` } };
}
