// Replaced at build time (scripts/build.ts) by the migrations, snapshot and schema
// model the binary ships with, already parsed and validated, as one JSON string
// (cheaper to load than an object literal). In source runs it is null and files
// on disk are used.

export const embeddedJson: string | null = null;
