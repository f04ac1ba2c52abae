// A restore from the wizard of a backup older than the database: the warning
// that the restored database is behind this binary is drawn inside the
// wizard's frame (a warning line of its own, after the progress line), and
// nothing reaches raw stderr.

import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cleanEnv, createDb, ensureBinary, pgship } from "../harness/env.ts";
import { missing } from "../harness/tools.ts";
import { Terminal, useTerminals } from "../harness/tmux.ts";

const { terminals, dbs } = useTerminals();

describe.skipIf(missing("tmux"))("wizard restore of an older backup", () => {
  test("the 'behind' warning is in the frame, not on stderr nor in the spinner line", async () => {
    const d = await createDb("wizbehind");
    dbs.push(d);
    const dir = mkdtempSync(join(tmpdir(), "pgship-wizard-behind-"));
    writeFileSync(join(dir, ".env"), `DATABASE_URL=${d.url}\n`, { mode: 0o600 });
    const env = { DATABASE_URL: d.url };
    expect((await pgship(["install", "--to", "20250305093000"], { env })).code).toBe(0);
    expect((await pgship(["backup", "--dir", join(dir, "backups")], { env })).code).toBe(0);
    expect((await pgship(["update"], { env })).code).toBe(0);

    // stderr goes to a file: whatever the wizard writes there would otherwise land on the screen unframed.
    const stderrFile = join(dir, "stderr.txt");
    writeFileSync(stderrFile, "");
    const base = cleanEnv({ LANG: "C.UTF-8", TERM: "xterm-256color" });
    const term = new Terminal(["sh", "-c", 'exec "$0" 2>>"$1"', ensureBinary(), stderrFile], {
      cwd: dir,
      env: { PATH: base.PATH!, HOME: dir, LANG: "C.UTF-8", TERM: "xterm-256color", NO_COLOR: "1" },
    });
    terminals.push(term);
    await term.waitFor("What would you like to do?");
    await term.waitFor("Restore from a backup");
    term.send("Down", "Down", "Enter");
    await term.waitFor("Where are the backups?");
    term.send("Enter");
    await term.waitFor("Which backup?");
    term.send("Enter");
    await term.waitFor("Type the database name");
    term.type(d.name);
    term.send("Enter");
    await term.waitFor("Restored", 60_000);
    await term.waitFor("What would you like to do?");
    term.send("Up", "Enter");
    expect(await term.exitCode()).toBe(0);
    expect(term.strays()).toEqual([]);

    const lines = term.screen().split("\n");
    // A warning line of the frame (clack's warning mark), naming the versions.
    const warning = lines.findIndex((l) => /^▲ {2}the backup is at schema 20250305093000, 3 migrations behind this binary/.test(l));
    expect(warning).toBeGreaterThan(-1);
    // The progress line settled cleanly after it, not merged with the warning.
    const restored = lines.findIndex((l) => /^✔ {2}Restored \S+\.dump \(/.test(l));
    expect(restored).toBeGreaterThan(warning);
    expect(lines.filter((l) => l.includes("migrations behind"))).toHaveLength(1);
    expect(readFileSync(stderrFile, "utf8")).toBe("");
    // The restore did happen: the database is back at the backup's version.
    const [row] = await d.sql`select max(version) as v from pgship.migrations where state = 'applied'`;
    expect(row!.v).toBe("20250305093000");
  }, 90_000);
});
