#!/usr/bin/env -S deno run -A
// Entry point. --version answers before anything else is loaded; every other
// command line goes to cli/main.ts, whose modules load on demand.
// (No top-level await: the compiled binary is built with bytecode, which needs none.)

import pkg from "../package.json" with { type: "json" };
import { argv, exit, mark, writeStdout } from "./runtime.ts";

mark("runtime");

const raw = argv();
if (raw.length === 1 && (raw[0] === "--version" || raw[0] === "-v" || raw[0] === "version")) {
  writeStdout(`${pkg.pgship.binaryName} ${pkg.version}\n`);
  void exit(0);
} else {
  void import("./cli/main.ts").then(({ runCli }) => runCli());
}
