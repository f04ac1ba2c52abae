// Replaced at build time (scripts/build.ts) by the migrations and snapshot the
// binary ships with. In source runs it is null and files on disk are used.
import type { Bundle } from "./source.ts";

export const embedded: Bundle | null = null;
