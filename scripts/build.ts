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
import { relative, resolve } from "node:path";
import ownPkg from "../package.json" with { type: "json" };
import { parseAdoptSection, unknownMapTargets } from "../src/core/adopt-map.ts";
import { MigrationFileError, PgshipError } from "../src/core/errors.ts";
import { readExistingFile } from "../src/core/files.ts";
import { loadProject, type Project } from "../src/core/project.ts";
import { indexOf, parseMigrationSet } from "../src/core/migration-set.ts";
import { modelPathFor, readModelFile, readSnapshotFile, readSourceFiles, type Bundle } from "../src/source.ts";

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

const dir = resolve(values["migrations-dir"]!);
let set, snapshot;
try {
  const { files, ignored } = readSourceFiles(dir, relative(".", dir) || ".");
  for (const f of ignored) console.warn(`ignored: ${relative(".", dir) || "."}/${f.file} (${f.reason})`);
  snapshot = readSnapshotFile(resolve(values["schema-file"]!), relative(".", resolve(values["schema-file"]!)));
  set = parseMigrationSet(files, snapshot);
} catch (e) {
  // A file that is not a regular, readable file: `file: what is wrong`, exit 1, like the binary.
  if (e instanceof PgshipError && !(e instanceof MigrationFileError)) {
    console.error(e.message);
    console.error("build failed");
    process.exit(1);
  }
  if (e instanceof MigrationFileError) {
    for (const p of e.problems) console.error(`${p.file === snapshot?.file ? relative(".", p.file) : `${relative(".", dir)}/${p.file}`}:${p.line}: ${p.message}`);
    console.error(`build failed: ${e.problems.length} problem(s) in the migrations`);
    process.exit(1);
  }
  throw e;
}
if (!snapshot) console.warn(`warning: no ${values["schema-file"]}: fresh installs will replay every migration`);
else if (set.snapshot && set.snapshot.version !== set.migrations.at(-1)?.version) {
  console.warn(`warning: ${values["schema-file"]} is at ${set.snapshot.version} but the newest migration is ${set.migrations.at(-1)?.version}: run 'pgship dump'`);
}

const modelPath = modelPathFor(resolve(values["schema-file"]!));
let models;
try {
  models = await readModelFile(modelPath);
} catch (e) {
  console.error(`build failed: ${(e as Error).message}`);
  process.exit(1);
}
const shownModel = relative(".", modelPath);
if (!models) console.warn(`warning: no ${shownModel}: 'verify' will need CREATEDB to build its expected schema; run 'pgship dump'`);
else {
  if (models.head !== set.snapshot?.version) console.warn(`warning: ${shownModel} is for ${models.head}, the snapshot for ${set.snapshot?.version}: run 'pgship dump'`);
  const missing = set.migrations.filter((m) => !models.has(m.version));
  if (missing.length) console.warn(`warning: ${shownModel} has no model for ${missing.length} version(s) (${missing[0]!.version}…): 'verify' there needs CREATEDB; run 'pgship dump'`);
}
const adopt = parseAdoptSection((pkg.pgship as { adopt?: unknown }).adopt);
const mapProblems = [...adopt.problems, ...unknownMapTargets(adopt.alembic, set.migrations.map((m) => m.version))];
if (mapProblems.length) {
  for (const p of mapProblems) console.error(`package.json: ${p}`);
  console.error(`build failed: ${mapProblems.length} problem(s) in package.json's pgship.adopt`);
  process.exit(1);
}

const bundle: Bundle = { ...set, builtAt: new Date().toISOString() };
// Compact, and in a module of its own: only the commands that compare schemas load it.
const modelsJson = models ? JSON.stringify(JSON.parse(readExistingFile(modelPath))) : null;

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
  sourcemap: "none",
  plugins: [
    {
      name: "pgship-embed",
      setup(build) {
        build.onLoad({ filter: /[\\/]src[\\/]embedded-index\.ts$/ }, () => ({
          contents: `export const embeddedIndexJson = ${JSON.stringify(JSON.stringify(indexOf(set)))};`,
          loader: "ts",
        }));
        build.onLoad({ filter: /[\\/]src[\\/]embedded\.ts$/ }, () => ({
          contents: `export const embeddedJson = ${JSON.stringify(JSON.stringify(bundle))};`,
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
console.log(`built ${values.outfile} with ${set.migrations.length} migrations (head ${set.migrations.at(-1)?.version ?? "none"}, snapshot ${set.snapshot?.version ?? "none"})`);
