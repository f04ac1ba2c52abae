// The --ping / --notify flags of the commands that report to a monitor (backup,
// up, update, verify). The command line runs a command with alerts when its
// flags are these very definitions, not merely flags of that name: `schedule
// --ping` only writes the URL into the env file of the runs it schedules.

import type { ArgsDef } from "citty";
import { envName } from "../brand.ts";

export const alertArgs = {
  ping: {
    type: "string",
    description: `Report start, success and failure to this monitoring URL (healthchecks.io; Uptime Kuma push and Cronitor URLs too; else ${envName("PING_URL")})`,
    valueHint: "url",
  },
  notify: { type: "string", description: `When done, POST the --json outcome to this URL (else ${envName("NOTIFY_URL")})`, valueHint: "url" },
} as const satisfies ArgsDef;
