// Replaced at build time (scripts/build.ts) by the migrations and the snapshot
// the binary ships with, SQL included, already parsed and validated, as one JSON
// string (cheaper to load than an object literal). Only the commands that run or
// compare SQL load it; `status` reads embedded-index.ts. In source runs it is
// null and files on disk are used.

export const embeddedJson: string | null = null;
