// Replaced at build time (scripts/build.ts) by schema.model.json: the expected
// schema at every version, as one JSON string. Kept apart from embedded.ts and
// imported only by the commands that compare schemas, so `status` never parses
// it. In source runs it is null and the file on disk is used.

export const embeddedModelsJson: string | null = null;
