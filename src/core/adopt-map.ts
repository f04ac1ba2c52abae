// Adopting a database another migration tool made: which tools, and the map from
// Alembic revision ids to this app's versions (package.json `pgship.adopt.alembic`,
// embedded at build time). Pure: parsing and checking only.

export const ADOPT_TOOLS = ["dbmate", "golang-migrate", "prisma", "alembic"] as const;
export type AdoptTool = (typeof ADOPT_TOOLS)[number];

export const isAdoptTool = (s: string): s is AdoptTool => (ADOPT_TOOLS as readonly string[]).includes(s);

/** Alembic revision id → the 14-digit version whose schema it matches. */
export type AlembicMap = Record<string, string>;

/**
 * The `adopt` part of package.json's `pgship` section, checked: `{ "alembic": { "<revision>": "<version>" } }`.
 * Returns the problems instead of throwing, so the build can list them all.
 */
export function parseAdoptSection(raw: unknown): { alembic: AlembicMap; problems: string[] } {
  const problems: string[] = [];
  const alembic: AlembicMap = {};
  if (raw === undefined || raw === null) return { alembic, problems };
  if (typeof raw !== "object" || Array.isArray(raw)) return { alembic, problems: ["pgship.adopt must be an object"] };
  for (const [key, value] of Object.entries(raw)) {
    if (key !== "alembic") {
      problems.push(`pgship.adopt.${key}: unknown key (only "alembic" takes a map; dbmate, golang-migrate and Prisma use the versions themselves)`);
      continue;
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      problems.push("pgship.adopt.alembic must be an object of revision id → version");
      continue;
    }
    for (const [rev, version] of Object.entries(value)) {
      if (!/^[0-9A-Za-z_]+$/.test(rev)) problems.push(`pgship.adopt.alembic: "${rev}" is not an Alembic revision id`);
      else if (typeof version !== "string" || !/^[0-9]{14}$/.test(version)) problems.push(`pgship.adopt.alembic.${rev}: ${JSON.stringify(version)} is not a 14-digit version`);
      else alembic[rev] = version;
    }
  }
  return { alembic, problems };
}

/** Map entries naming a version that is not one of the migrations. */
export function unknownMapTargets(map: AlembicMap, versions: Iterable<string>): string[] {
  const known = new Set(versions);
  return Object.entries(map).filter(([, v]) => !known.has(v)).map(([rev, v]) => `pgship.adopt.alembic.${rev}: ${v} is not a migration`);
}

/** The version in a Prisma migration name (`20240101000000_add_users`), or the name itself. */
export const prismaVersion = (name: string) => /^([0-9]{14})(_|$)/.exec(name)?.[1] ?? name;
