import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ERROR_CODES } from "../../src/core/errors.ts";

test("docs/json.md lists exactly the error codes of the ErrorCode union", () => {
  const doc = readFileSync(join(import.meta.dir, "../../docs/json.md"), "utf8");
  const section = doc.split(/^## Error codes$/m)[1]!.split(/^## /m)[0]!;
  const listed = [...section.matchAll(/^\| `([a-z0-9_]+)` \|/gm)].map((m) => m[1]);
  expect(listed.sort()).toEqual([...ERROR_CODES].sort());
});
