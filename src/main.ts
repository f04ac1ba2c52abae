#!/usr/bin/env -S deno run -A
// Entry point. --version answers before anything else is loaded; every other
// command line goes to cli/main.ts, whose modules load on demand.
// (No top-level await: the compiled binary is built with bytecode, which needs none.)

import pkg from "../package.json" with { type: "json" };
import type { PgshipError } from "./core/errors.ts";
import { ownPayload, type PackedBrand } from "./payload.ts";
import { argv, exit, mark, writeStderr, writeStdout } from "./runtime.ts";

mark("runtime");

const raw = argv();
let packed: PackedBrand | undefined;
let damaged: PgshipError | undefined;
try {
  // A packed binary's brand and migrations (src/payload.ts); a damaged payload stops every command here.
  packed = ownPayload()?.brand;
} catch (e) {
  damaged = e as PgshipError;
}
mark("payload");
if (damaged) {
  const { code, message, hint, exitCode } = damaged;
  if (raw.includes("--json")) writeStdout(`${JSON.stringify({ ok: false, error: { code, message, hint: hint ?? null, exitCode } }, null, 2)}\n`);
  writeStderr(`error: ${message}\n${hint ? `  ${hint}\n` : ""}`);
  void exit(exitCode ?? 1);
} else if (raw.length === 1 && (raw[0] === "--version" || raw[0] === "-v" || raw[0] === "version")) {
  writeStdout(`${packed?.name ?? pkg.pgship.binaryName} ${packed?.version ?? pkg.version}\n`);
  void exit(0);
} else {
  void import("./cli/main.ts").then(({ runCli }) => runCli());
}
