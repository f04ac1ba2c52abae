// System tools some tests need (age, tmux, shellcheck, busybox, script, qemu-user). On a
// machine without them those tests are reported as skipped with the install
// hint; under CI=true a missing tool is a failure, since .ci/run installs them all.

import { test } from "bun:test";

const HINTS: Record<string, string> = {
  age: "apt-get install age",
  "age-keygen": "apt-get install age",
  tmux: "apt-get install tmux",
  shellcheck: "apt-get install shellcheck",
  busybox: "apt-get install busybox",
  script: "apt-get install util-linux",
  shasum: "apt-get install perl (shasum)",
  "systemd-analyze": "apt-get install systemd",
  "qemu-aarch64": "apt-get install qemu-user libc6-arm64-cross",
};

const told = new Set<string>();

/**
 * True when `tool` is missing and the tests that need it should be skipped.
 * Under CI=true a missing tool throws instead: the run must not pass without them.
 */
export function missing(tool: string): boolean {
  if (Bun.which(tool)) return false;
  const hint = HINTS[tool] ?? `install ${tool}`;
  if (process.env.CI === "true") throw new Error(`${tool} is required under CI=true (${hint})`);
  if (!told.has(tool)) {
    told.add(tool);
    console.warn(`skipping the tests that need ${tool}: it is not installed (${hint})`);
  }
  return true;
}

/** `test` that is skipped (with the install hint printed once) when a tool is missing. */
export function testWith(tools: string[], name: string, fn: () => unknown, timeout?: number): void {
  const skip = tools.map((t) => missing(t)).some(Boolean);
  test.skipIf(skip)(name, fn as never, timeout);
}
