// bun bench/download.ts [--out bench/startup-results.md] [--no-build]
//
// What install.sh downloads: dist/pgship raw, gzip -9 and xz -6 / -9e (the
// same tools the release workflow uses), with the time to compress (once, on
// the release runner) and to decompress (on every install). Writes the
// "## download size" section of bench/startup-results.md (bench/startup.ts
// keeps it when it rewrites the rest).

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const REPO = resolve(import.meta.dir, "..");
const { values } = parseArgs({ options: { out: { type: "string", default: join(REPO, "bench", "startup-results.md") }, "no-build": { type: "boolean", default: false } } });
const BIN = join(REPO, "dist", "pgship");
const SECTION = "## download size"; // bench/startup.ts keeps this section

if (!values["no-build"]) spawnSync(join(REPO, "node_modules", ".bin", "bun"), ["scripts/build.ts"], { cwd: REPO, stdio: "inherit" });

const work = mkdtempSync(join(tmpdir(), "pgship-download-bench-"));
const mib = (n: number) => (n / 1024 / 1024).toFixed(1);

/** Runs argv with stdin from `input` and stdout into `output`; seconds taken. */
function timed(argv: string[], input: string, output: string): number {
  const t = performance.now();
  const r = spawnSync("sh", ["-c", '"$@" <"$IN" >"$OUT"', "sh", ...argv], { env: { ...process.env, IN: input, OUT: output }, stdio: ["ignore", "ignore", "inherit"] });
  if (r.status !== 0) throw new Error(`${argv.join(" ")} failed`);
  return (performance.now() - t) / 1000;
}

try {
  const raw = statSync(BIN).size;
  const rows = [`| raw | ${mib(raw)} | 100 | - | - |`];
  const sizes: Record<string, number> = {};
  for (const [label, tool, level] of [
    ["gzip -9", "gzip", "-9"],
    ["xz -6", "xz", "-6"],
    ["xz -9e", "xz", "-9e"],
  ] as const) {
    const packed = join(work, "packed");
    const back = join(work, "back");
    const pack = timed([tool, level, "-c"], BIN, packed);
    const unpack = timed([tool, "-dc"], packed, back);
    if (!readFileSync(back).equals(readFileSync(BIN))) throw new Error(`${label} did not round-trip`);
    const size = statSync(packed).size;
    sizes[label] = size;
    rows.push(`| ${label} | ${mib(size)} | ${((100 * size) / raw).toFixed(1)} | ${pack.toFixed(1)} | ${unpack.toFixed(1)} |`);
    console.log(rows.at(-1));
  }
  const section = [
    SECTION,
    "",
    `${new Date().toISOString()} · ${availableParallelism()} CPUs · \`dist/pgship\` (linux-x64) · bun bench/download.ts`,
    "",
    "| download | MiB | % of raw | compress s | decompress s |",
    "|---|---:|---:|---:|---:|",
    ...rows,
    "",
    `install.sh downloads the .xz (xz -6: ${mib(sizes["xz -6"]!)} MiB, the release workflow's setting) when xz is installed, ` +
      `else the .gz (${mib(sizes["gzip -9"]!)} MiB), else the raw binary. xz -9e saves ${mib(sizes["xz -6"]! - sizes["xz -9e"]!)} MiB more ` +
      "but needs 674 MiB of memory to compress and 65 MiB to decompress (xz -6: 94 and 9).",
    "",
  ].join("\n");
  const old = existsSync(values.out!) ? readFileSync(values.out!, "utf8") : "# start-up and size\n\n";
  const i = old.indexOf(SECTION);
  writeFileSync(values.out!, `${(i >= 0 ? old.slice(0, i) : old).trimEnd()}\n\n${section}`);
  console.log(section);
} finally {
  rmSync(work, { recursive: true, force: true });
}
