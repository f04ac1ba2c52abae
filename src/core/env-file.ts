// Writing an env file (.env): one KEY=value set, every other line kept, the new
// text written atomically at 0600 (it holds passwords and tokens).

import { randomBytes } from "node:crypto";
import { closeSync, fchmodSync, fchownSync, fsyncSync, openSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { readRegularFile } from "./files.ts";

/**
 * Sets KEY=value in .env text: replaces the first assignment of KEY, or appends one.
 * Values with characters sh would read differently (spaces, &, quotes, $) are
 * double-quoted, so sh (cron's `. FILE`), systemd and pgship all read the same value.
 */
export function upsertDotenv(text: string, key: string, value: string): string {
  const line = `${key}=${/^[A-Za-z0-9_@%:/.?=+-]*$/.test(value) ? value : `"${value.replace(/(["\\$`])/g, "\\$1")}"`}`;
  const lines = text === "" ? [] : text.replace(/\r\n/g, "\n").replace(/\n$/, "").split("\n");
  const at = lines.findIndex((l) => new RegExp(`^\\s*(export\\s+)?${key}\\s*=`).test(l));
  if (at >= 0) lines[at] = line;
  else lines.push(line);
  return `${lines.join("\n")}\n`;
}

/**
 * Sets KEY=value in the .env file at `path`, keeping its other lines. The new
 * text goes to a temporary file created 0600 in the same directory, then is
 * renamed over the old one: no reader ever sees a half-written file, and the
 * password is never in a file other users can read, not even briefly. The file
 * keeps its owner (root scheduling a backup must not take the app's .env from it).
 */
export function saveDotenv(path: string, key: string, value: string): void {
  const before = readRegularFile(path, basename(path)) ?? "";
  const owner = before ? ownerOf(path) : null;
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  const fd = openSync(tmp, "wx", 0o600);
  try {
    fchmodSync(fd, 0o600);
    if (owner && (owner.uid !== process.getuid?.() || owner.gid !== process.getgid?.())) fchownSync(fd, owner.uid, owner.gid);
    writeSync(fd, upsertDotenv(before, key, value));
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, path);
  } catch (e) {
    try {
      closeSync(fd);
    } catch {
      // Already closed.
    }
    rmSync(tmp, { force: true });
    throw e;
  }
}

function ownerOf(path: string): { uid: number; gid: number } | null {
  try {
    const st = statSync(path);
    return { uid: st.uid, gid: st.gid };
  } catch {
    return null;
  }
}
