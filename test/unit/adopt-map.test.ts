// The Alembic map of package.json's pgship.adopt section: what the build accepts and embeds.

import { expect, test } from "bun:test";
import { isAdoptTool, parseAdoptSection, prismaVersion, unknownMapTargets } from "../../src/core/adopt-map.ts";

test("a well-formed map is read as revision id → version", () => {
  expect(parseAdoptSection({ alembic: { ae1027a6acf: "20250203140000", "1975ea83b712": "20250305093000" } })).toEqual({
    alembic: { ae1027a6acf: "20250203140000", "1975ea83b712": "20250305093000" },
    problems: [],
  });
  expect(parseAdoptSection(undefined)).toEqual({ alembic: {}, problems: [] });
});

test("every malformed entry is a problem, named", () => {
  const { alembic, problems } = parseAdoptSection({ alembic: { good: "20250203140000", short: "2025", num: 20250203140000, "bad id!": "20250203140000" }, flyway: {} });
  expect(alembic).toEqual({ good: "20250203140000" });
  expect(problems).toHaveLength(4);
  expect(problems.join("\n")).toContain("pgship.adopt.alembic.short");
  expect(problems.join("\n")).toContain("pgship.adopt.alembic.num");
  expect(problems.join("\n")).toContain('"bad id!" is not an Alembic revision id');
  expect(problems.join("\n")).toContain("pgship.adopt.flyway: unknown key");
  expect(parseAdoptSection([]).problems).toEqual(["pgship.adopt must be an object"]);
  expect(parseAdoptSection({ alembic: ["x"] }).problems).toHaveLength(1);
});

test("a map naming a version that is not a migration is caught", () => {
  expect(unknownMapTargets({ a: "20250203140000", b: "20990101000000" }, ["20250203140000"])).toEqual(["pgship.adopt.alembic.b: 20990101000000 is not a migration"]);
});

test("Prisma migration names carry the version; tools are a closed list", () => {
  expect(prismaVersion("20250203140000_create_api_keys")).toBe("20250203140000");
  expect(prismaVersion("20250203140000")).toBe("20250203140000");
  expect(prismaVersion("0001_init")).toBe("0001_init");
  expect(["dbmate", "golang-migrate", "prisma", "alembic", "flyway"].map(isAdoptTool)).toEqual([true, true, true, true, false]);
});
