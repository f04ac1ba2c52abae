// A crontab line run the way cron runs it: its command (after the five time
// fields, without pgship's marker comment, `\%` as a literal %) handed to
// `sh -c` with HOME and a minimal PATH, no DATABASE_URL, in another directory.

import { spawnSync } from "node:child_process";

/** The command of a crontab line, as cron hands it to sh. */
export function cronCommand(line: string): string {
  return line.split(" ").slice(5).join(" ").replace(/ # [a-z0-9-]+-schedule:[a-z0-9-]+$/, "").replace(/\\%/g, "%");
}

/** Runs a crontab line's command like cron: sh -c in `cwd`, only HOME (`home`, default `cwd`), PATH and SHELL set. */
export function runLikeCron(line: string, cwd: string, home = cwd) {
  return spawnSync("/bin/sh", ["-c", cronCommand(line)], { cwd, encoding: "utf8", env: { HOME: home, PATH: "/usr/bin:/bin", SHELL: "/bin/sh" }, timeout: 120_000 });
}
