// Reading files a person pointed us at: only regular files are read (a FIFO
// would block forever), and every problem is one `file: what is wrong` message.

import { readFileSync, statSync } from "node:fs";
import { PgshipError } from "./errors.ts";

/** The file's text, or null when it does not exist. Anything else that is wrong is an error naming the file. */
export function readRegularFile(path: string, what: string): string | null {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return null;
    throw new PgshipError("file", `${path}: ${code === "ELOOP" ? "symbolic link loop" : code === "EACCES" ? "permission denied" : (e as Error).message} (${what})`);
  }
  if (!st.isFile()) throw new PgshipError("file", `${path}: not a regular file (${what})`);
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new PgshipError("file", `${path}: ${(e as NodeJS.ErrnoException).code === "EACCES" ? "permission denied" : (e as Error).message} (${what})`);
  }
}
