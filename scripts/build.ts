// bun run build [--migrations-dir DIR] [--schema-file F] [--outfile PATH] [--target bun-linux-x64]
//               [--project DIR] [--package-json F]
// Validates the migrations (a malformed file fails the build with file:line),
// embeds them with their sha256 checksums and the snapshot, and compiles one
// executable named after the project.
//
// Branding and sources, first found wins: --package-json F (another package.json's
// name, version and `pgship` section, an app's); DIR/pgship.json (--project DIR,
// default the working directory: name, displayName, trackingSchema,
// releaseRepository, and the default migrationsDir and schemaFile); this
// repository's package.json `pgship` section with ./migrations and ./schema.sql.

import { parseArgs } from "node:util";
import { resolve } from "node:path";
import ownPkg from "../package.json" with { type: "json" };
import { BundleError, prepareBundle } from "../src/bundle.ts";
import { readExistingFile } from "../src/core/files.ts";
import { relative } from "node:path";
import { PgshipError } from "../src/core/errors.ts";
import { loadProject, type Project } from "../src/core/project.ts";

const { values } = parseArgs({
  options: {
    "migrations-dir": { type: "string" },
    "schema-file": { type: "string" },
    outfile: { type: "string" },
    target: { type: "string" },
    project: { type: "string" },
    "package-json": { type: "string" },
  },
});
const ownPkgPath = resolve(import.meta.dir, "..", "package.json");
let project: Project | null = null;
if (!values["package-json"]) {
  try {
    project = loadProject(resolve(values.project ?? "."));
  } catch (e) {
    if (!(e instanceof PgshipError)) throw e;
    console.error(e.message);
    console.error("build failed");
    process.exit(1);
  }
  if (!project && values.project) {
    console.error(`build failed: no pgship.json in ${values.project}`);
    process.exit(1);
  }
}
const pkg: typeof ownPkg = values["package-json"]
  ? JSON.parse(readExistingFile(resolve(values["package-json"])))
  : project
    ? { ...ownPkg, pgship: { ...ownPkg.pgship, binaryName: project.name, displayName: project.displayName, trackingSchema: project.trackingSchema, releaseRepository: project.releaseRepository ?? ownPkg.pgship.releaseRepository } }
    : ownPkg;
values.outfile ??= `dist/${pkg.pgship.binaryName}`;
values["migrations-dir"] ??= project ? relative(".", project.migrationsDir) || "." : "migrations";
values["schema-file"] ??= project ? relative(".", project.schemaFile) : "schema.sql";

let prepared;
try {
  prepared = await prepareBundle({
    migrationsDir: resolve(values["migrations-dir"]!),
    schemaFile: resolve(values["schema-file"]!),
    adopt: (pkg.pgship as { adopt?: unknown }).adopt,
    adoptSource: "package.json",
    tool: pkg.pgship.binaryName,
  });
} catch (e) {
  if (!(e instanceof BundleError)) throw e;
  for (const line of e.lines) console.error(line);
  console.error(`build failed: ${e.summary}`);
  process.exit(1);
}
for (const w of prepared.warnings) console.warn(`warning: ${w}`);
const { indexJson, bundleJson, modelsJson } = prepared;

const result = await Bun.build({
  entrypoints: ["src/main.ts"],
  compile: {
    outfile: values.outfile!,
    ...(values.target ? { target: values.target as never } : {}),
    // The binary reads ./.env itself (only DATABASE_URL, after the real environment);
    // Bun's own loading would also pull in .env.local, .env.production, bunfig.toml ...
    autoloadDotenv: false,
    autoloadBunfig: false,
    autoloadPackageJson: false,
    autoloadTsconfig: false,
  },
  minify: true,
  bytecode: true,
  // One chunk per lazily imported part (each command, the wizard, the backup code): a
  // command loads and deserializes only its own, so --version and status start sooner.
  format: "esm",
  splitting: true,
  sourcemap: "none",
  plugins: [
    {
      name: "pgship-embed",
      setup(build) {
        build.onLoad({ filter: /[\\/]src[\\/]embedded-index\.ts$/ }, () => ({
          contents: `export const embeddedIndexJson = ${JSON.stringify(indexJson)};`,
          loader: "ts",
        }));
        build.onLoad({ filter: /[\\/]src[\\/]embedded\.ts$/ }, () => ({
          contents: `export const embeddedJson = ${JSON.stringify(bundleJson)};`,
          loader: "ts",
        }));
        if (pkg !== ownPkg) {
          const escaped = ownPkgPath.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
          build.onLoad({ filter: new RegExp(`^${escaped}$`) }, () => ({ contents: JSON.stringify(pkg), loader: "json" }));
        }
        build.onLoad({ filter: /[\\/]src[\\/]embedded-models\.ts$/ }, () => ({
          contents: `export const embeddedModelsJson = ${JSON.stringify(modelsJson)};`,
          loader: "ts",
        }));
      },
    },
  ],
});
if (!result.success) {
  for (const log of result.logs) console.error(log);
  process.exit(1);
}
console.log(`built ${values.outfile} with ${prepared.summary}`);
