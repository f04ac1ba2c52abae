// Unpacking a backup into a private temporary directory, for what pg_restore
// cannot read from a pipe: a directory-format dump, and any archive restored
// with --jobs (pg_restore -j needs a file it can seek in or a directory).
// The directory is created 0700 and removed on every way out: when the work
// ends or fails, on an interrupt (which ends the work), and at process exit.

import { mkdtempSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { brand } from "../brand.ts";
import { PgshipError } from "../core/errors.ts";
import { writeAll } from "./pipeline.ts";
import { untar, type TarSink } from "./tar.ts";

export type ArchiveFormat = "custom" | "directory";

/** Where a custom-format archive is written when it is unpacked. */
export const UNPACKED_ARCHIVE = "archive.dump";

const live = new Set<string>();
let hooked = false;

export interface TempDir {
  path: string;
  remove(): void;
}

/** A new private directory under TMPDIR (mode 0700), removed by remove() or, at the latest, when the process exits. */
export function privateTempDir(purpose: string): TempDir {
  let path: string;
  try {
    path = mkdtempSync(join(tmpdir(), `${brand.binary}-${purpose}-`));
  } catch (e) {
    throw new PgshipError("restore_failed", `cannot create a temporary directory in ${tmpdir()}: ${(e as Error).message}`, { hint: "set TMPDIR to a writable directory with room for the backup", cause: e });
  }
  live.add(path);
  if (!hooked) {
    hooked = true;
    process.on("exit", () => {
      for (const p of live) rmSync(p, { recursive: true, force: true });
    });
  }
  return {
    path,
    remove() {
      rmSync(path, { recursive: true, force: true });
      live.delete(path);
    },
  };
}

/** A file written chunk by chunk (no buffering beyond the chunk at hand). */
export async function fileSink(path: string): Promise<TarSink> {
  const fh = await open(path, "wx", 0o600);
  return {
    write: async (chunk) => {
      let off = 0;
      while (off < chunk.length) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
    },
    close: () => fh.close(),
  };
}

/**
 * What unpacks the plain archive into `dir` (for streamArchive's sink): every
 * member of a directory-format archive, or only toc.dat (`tocOnly`, enough for
 * pg_restore --list; then reading stops unless `drain`); a custom-format
 * archive is written whole to dir/archive.dump.
 */
export function unpackInto(dir: string, format: ArchiveFormat, o: { tocOnly?: boolean; drain?: boolean } = {}): (src: AsyncIterable<Uint8Array>) => Promise<{ closedEarly: boolean }> {
  return async (src) => {
    if (format === "custom") {
      const fh = await open(join(dir, UNPACKED_ARCHIVE), "wx", 0o600);
      try {
        await writeAll(src, fh);
      } finally {
        await fh.close();
      }
      return { closedEarly: false };
    }
    const r = await untar(src, async (name) => {
      if (!o.tocOnly || name === "toc.dat") return fileSink(join(dir, name));
      return o.drain ? null : "stop";
    });
    return { closedEarly: r.stopped };
  };
}
