// Replaced at build time (scripts/build.ts) by the index of the embedded
// migrations: version, name, file and checksum of each, and the snapshot's
// version, as one JSON string. No SQL: `status` loads this, never embedded.ts,
// so its start-up does not grow with the SQL the binary ships. In source runs
// it is null and files on disk are used.

export const embeddedIndexJson: string | null = null;
