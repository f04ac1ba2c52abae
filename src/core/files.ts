// Reading files a person pointed us at: only regular files are read (a FIFO
// would block forever), and every problem is one `file: what is wrong` message
// (error code `file`, exit 1).

import { closeSync, constants, fstatSync, lstatSync, openSync, readFileSync, readlinkSync, type Stats } from "node:fs";
import { PgshipError } from "./errors.ts";

/** What kind of thing a non-regular file is, in words. */
function kindOf(st: Stats): string {
  if (st.isDirectory()) return "a directory";
  if (st.isFIFO()) return "a named pipe (FIFO)";
  if (st.isSocket()) return "a socket";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  return "not a regular file";
}

function reason(path: string, e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === "ENOENT") {
    try {
      if (lstatSync(path).isSymbolicLink()) return `dangling symbolic link (points to ${readlinkSync(path)}, which does not exist)`;
    } catch {
      // Gone in between: plain "no such file" below.
    }
    return "no such file";
  }
  if (code === "ELOOP") return "symbolic link loop";
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  if (code === "ENOTDIR") return "a part of the path is not a directory";
  if (code === "EISDIR") return "is a directory, not a regular file";
  return (e as Error).message;
}

/** `path: what is wrong (what)` as the one error pgship reports. */
export function fileError(path: string, problem: string, what?: string): PgshipError {
  return new PgshipError("file", `${path}: ${problem}${what ? ` (${what})` : ""}`);
}

/**
 * The file's text, or null when it does not exist. Anything else that is wrong
 * (a directory, FIFO, socket or device, a dangling link or link loop, no read
 * permission) is an error naming the file. The file is opened without blocking
 * and checked on the open descriptor, so a FIFO never hangs the process.
 */
export function readRegularFile(path: string, what?: string, shown = path): string | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    const problem = reason(path, e);
    if (problem === "no such file") return null;
    throw fileError(shown, problem, what);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) {
      const kind = kindOf(st);
      throw fileError(shown, kind === "not a regular file" ? kind : `is ${kind}, not a regular file`, what);
    }
    return readFileSync(fd, "utf8");
  } catch (e) {
    if (e instanceof PgshipError) throw e;
    throw fileError(shown, reason(path, e), what);
  } finally {
    closeSync(fd);
  }
}

/** Like readRegularFile, but a missing file is an error too. */
export function readExistingFile(path: string, what?: string, shown = path): string {
  const text = readRegularFile(path, what, shown);
  if (text === null) throw fileError(shown, "no such file", what);
  return text;
}
