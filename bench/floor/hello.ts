// The floor of any compiled command: the Bun runtime starting, writing one line and
// exiting (written and exited the way pgship does: straight to the descriptor, no stream).
import { writeSync } from "node:fs";

writeSync(1, "hello\n");
process.exit(0);
