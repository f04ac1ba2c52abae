// The wizard on a database another tool (dbmate here) migrated: adoption is the
// recommended first action; choosing it checks the schema at that tool's version,
// records the history and applies what is newer, all drawn inside the frame.

import { expect, test } from "bun:test";
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cleanEnv, createDb, ensureBinary, pgship, FIXTURE } from "../harness/env.ts";
import { missing } from "../harness/tools.ts";
import { Terminal, useTerminals } from "../harness/tmux.ts";

const { terminals, dbs } = useTerminals();

const VERSIONS = readdirSync(join(FIXTURE, "migrations")).sort().map((f) => f.slice(0, 14));
const MID = VERSIONS[4]!;

test.skipIf(missing("tmux"))("a dbmate install: 'Adopt' is offered first; choosing it records the history and updates", async () => {
  const d = await createDb("wiza");
  dbs.push(d);
  // The schema at MID as dbmate would have left it: its table, no pgship schema.
  expect((await pgship(["install", "--to", MID], { env: { DATABASE_URL: d.url } })).code).toBe(0);
  await d.sql`drop schema pgship cascade`;
  await d.sql`create table schema_migrations (version varchar(128) primary key)`;
  for (const v of VERSIONS.slice(0, 5)) await d.sql`insert into schema_migrations values (${v})`;

  const dir = mkdtempSync(join(tmpdir(), "pgship-wizard-"));
  writeFileSync(join(dir, ".env"), `DATABASE_URL=${d.url}\n`, { mode: 0o600 });
  const env = cleanEnv();
  const term = new Terminal([ensureBinary()], { cwd: dir, env: { PATH: env.PATH!, HOME: dir, LANG: "C.UTF-8", TERM: "xterm-256color", NO_COLOR: "1" } });
  terminals.push(term);
  await term.waitFor("What would you like to do?");
  const menu = term.screen();
  expect(menu).toContain(`installed by dbmate (at ${MID}), not yet adopted`);
  expect(menu).toContain(`Adopt the dbmate install (at ${MID})`);
  term.send("Enter"); // the first, recommended option
  await term.waitFor("Adopt and update now?");
  expect(term.screen()).toContain(`compares the live schema with what ${MID} should be`);
  term.send("Enter");
  await term.waitFor(`Adopted from dbmate at ${MID}; the database is at ${VERSIONS.at(-1)}`);
  await term.waitFor(`Database: at ${VERSIONS.at(-1)}, 0 pending`);
  await term.waitFor("Quit");
  term.send("Up", "Enter"); // the menu wraps: Up from the first option is Quit
  expect(await term.exitCode()).toBe(0);
  const screen = term.screen();
  expect(screen).toContain(`Done: adopted the dbmate install at ${MID}; updated to ${VERSIONS.at(-1)}.`);
  expect(term.strays()).toEqual([]);

  const rows = await d.sql`select version, applied_via from pgship.migrations order by version`;
  expect(rows.map((r) => r.applied_via)).toEqual([...VERSIONS.slice(0, 5).map(() => "baseline"), ...VERSIONS.slice(5).map(() => "migration")]);
  const [adopted] = await d.sql`select tool, table_name from pgship.adopted`;
  expect(adopted).toEqual({ tool: "dbmate", table_name: "schema_migrations" });
  expect((await pgship(["verify"], { env: { DATABASE_URL: d.url } })).code).toBe(0);
}, 90_000);
