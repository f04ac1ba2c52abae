// The wizard's health check on a database behind the head, as a role without
// CREATEDB (the kind the wizard creates): it compares at the database's own
// version and, with migrations pending, says to update first and offers no
// repair (before, it offered to add the pending migrations' objects, and the
// next update then failed forever).

import { expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cleanEnv, cluster, createDb, ensureBinary, pgship, schemaOf } from "../harness/env.ts";
import { missing } from "../harness/tools.ts";
import { Terminal, useTerminals } from "../harness/tmux.ts";

const { terminals, dbs } = useTerminals();

test.skipIf(missing("tmux"))("health check with migrations pending: 'update first', no repair offered, nothing changed", async () => {
  const d = await createDb("wizh");
  dbs.push(d);
  const role = `plain_${d.name}`;
  await d.sql.unsafe(`create role ${role} login password 'plain-pw' nocreatedb nocreaterole; alter database ${d.name} owner to ${role}`);
  const url = (await cluster()).url(d.name, role, "plain-pw");
  expect((await pgship(["install", "--to", "20250318160000"], { env: { DATABASE_URL: url } })).code).toBe(0);
  await d.sql`drop index instances_user_id_idx`;
  const before = await schemaOf(d);

  const dir = mkdtempSync(join(tmpdir(), "pgship-wizard-"));
  writeFileSync(join(dir, ".env"), `DATABASE_URL=${url}\n`, { mode: 0o600 });
  const env = cleanEnv();
  const term = new Terminal([ensureBinary()], { cwd: dir, env: { PATH: env.PATH!, HOME: dir, LANG: "C.UTF-8", TERM: "xterm-256color", NO_COLOR: "1" } });
  terminals.push(term);
  await term.waitFor("What would you like to do?");
  await term.waitFor("Health check");
  // Update (recommended), Back up, Restore, Health check.
  term.send("Down", "Down", "Down", "Enter");
  await term.waitFor("2 migrations pending: update first");
  await term.waitFor("What would you like to do?");
  const screen = term.screen();
  expect(screen).toContain("pgship up first (2 migrations pending), then pgship verify");
  expect(screen).not.toContain("repair statement");
  expect(screen).not.toContain("ADD COLUMN");
  term.send("Escape");
  await term.exitCode();
  expect(term.strays()).toEqual([]);
  expect(await schemaOf(d)).toBe(before);
}, 60_000);
