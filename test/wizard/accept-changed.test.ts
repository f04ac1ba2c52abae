// The wizard's update of an interrupted transaction:false migration whose file
// was edited since: it says so and asks (default No); declining changes nothing,
// accepting resumes with the new text and records the accepted change.

import { expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cleanEnv, createDb, ensureBinary, migrationsDir, pgship } from "../harness/env.ts";
import { missing } from "../harness/tools.ts";
import { Terminal, useTerminals } from "../harness/tmux.ts";

const { terminals, dbs } = useTerminals();

const V = "20250102000000";
const FILE = `${V}_build.sql`;

test.skipIf(missing("tmux"))("wizard update: an edited interrupted migration is resumed only when the user accepts", async () => {
  const d = await createDb("wizacc");
  dbs.push(d);
  const migrations = migrationsDir({
    "20250101000000_first.sql": "-- migrate:up\ncreate table t (id int);\n-- migrate:down\ndrop table t;\n",
    [FILE]: "-- migrate:up transaction:false\ncreate table old_t (id int);\nselect 1/0;\n",
  });
  expect((await pgship(["up", "--migrations-dir", migrations], { env: { DATABASE_URL: d.url } })).code).toBe(1);
  const [{ checksum: started }] = (await d.sql`select checksum from pgship.migrations where version = ${V} and state = 'running'`) as unknown as [{ checksum: string }];
  writeFileSync(join(migrations, FILE), "-- migrate:up transaction:false\ncreate table new_t (id int);\n");

  const dir = mkdtempSync(join(tmpdir(), "pgship-wizard-"));
  writeFileSync(join(dir, ".env"), `DATABASE_URL=${d.url}\n`, { mode: 0o600 });
  const env = cleanEnv();
  const open = () => {
    const term = new Terminal([ensureBinary(), "--migrations-dir", migrations], { cwd: dir, env: { PATH: env.PATH!, HOME: dir, LANG: "C.UTF-8", TERM: "xterm-256color", NO_COLOR: "1" } });
    terminals.push(term);
    return term;
  };

  // Declined (the default): nothing runs.
  const first = open();
  await first.waitFor("Update (1 pending)");
  first.send("Enter");
  await first.waitFor("its file changed since that run started");
  await first.waitFor(`Resume ${V} with the changed file?`);
  first.send("Enter");
  await first.waitFor("What would you like to do?");
  first.send("Up", "Enter");
  expect(await first.exitCode()).toBe(0);
  expect(first.strays()).toEqual([]);
  expect((await d.sql`select state, checksum from pgship.migrations where version = ${V}`)[0]).toEqual({ state: "running", checksum: started });
  expect((await d.sql`select to_regclass('new_t')::text as n`)[0]!.n).toBeNull();

  // Accepted: resumed with the new text, the change recorded in the run's history entry.
  const second = open();
  await second.waitFor("Update (1 pending)");
  second.send("Enter");
  await second.waitFor(`Resume ${V} with the changed file?`);
  second.send("y");
  await second.waitFor("Take a backup first?");
  second.send("n");
  await second.waitFor("Apply 1 migration now?");
  second.send("Enter");
  await second.waitFor(`Updated: the database is at ${V}`);
  await second.waitFor("What would you like to do?");
  second.send("Up", "Enter");
  expect(await second.exitCode()).toBe(0);
  expect(second.strays()).toEqual([]);
  const [row] = await d.sql`select state, checksum from pgship.migrations where version = ${V}`;
  expect(row!.state).toBe("applied");
  expect(row!.checksum).not.toBe(started);
  const notes = await d.sql`select args from pgship.history where args like ${`%accepted changed ${V}: checksum ${started} -> %`}`;
  expect(notes.length).toBe(1);
  expect((await d.sql`select to_regclass('new_t')::text as n`)[0]!.n).toBe("new_t");
}, 90_000);
