// pack: brand a released binary with an app's migrations (no toolchain needed);
// pack --inspect FILE: what a binary carries.

import type { ArgsDef } from "citty";
import { join, resolve } from "node:path";
import { ExitCode, UsageError } from "../core/errors.ts";
import { formatBytes } from "../core/format.ts";
import { brand, type Context } from "../cli/context.ts";
import type { Args } from "../cli/flags.ts";
import { applyProjectDefaults } from "../cli/project.ts";
import { PROJECT_FILE } from "../core/project.ts";
import { inspect, pack, type PackOptions } from "../ops/pack.ts";
import { cwd, execPath } from "../runtime.ts";
import { diskPaths } from "../source.ts";

export const args = {
  name: { type: "string", description: "The packed binary's command name (--version, hints; default: the project's)", valueHint: "name" },
  "display-name": { type: "string", description: "The name shown in help and messages (default: the project's, else the name)", valueHint: "text" },
  version: { type: "string", description: "The version it reports (default: the newest migration's version)", valueHint: "version" },
  from: { type: "string", description: "The released binary to brand, for any platform (default: this binary)", valueHint: "file" },
  out: { type: "string", description: "Where to write the packed binary (default: dist/<name>; never the input)", valueHint: "file" },
  inspect: { type: "string", description: "Show the migrations and brand a binary carries, every part checked", valueHint: "file" },
} as const satisfies ArgsDef;

export const usage = `Checks the migrations like a build does (a malformed file fails with file:line,
exit 1), then writes a copy of the binary that carries them and the brand.
In an app's repository the project file 'init' wrote gives the defaults:
migrationsDir, schemaFile, name, displayName and trackingSchema; flags win.
--out defaults to dist/<name>; --tracking-schema to the name in lower case,
other characters as _.
A binary that already carries migrations has them replaced. A macOS binary
must be signed again after packing (codesign -s - FILE on macOS, rcodesign
sign FILE elsewhere); one signed with a certificate is refused.

Examples:
  ${brand.binary} pack                  # in the app's repository: writes dist/<name>
  ${brand.binary} pack --migrations-dir db/migrations --name myapp-db \\
    --display-name MyApp --version 1.4.0 --out dist/myapp-db
  ${brand.binary} pack --migrations-dir db/migrations --name myapp-db \\
    --from release/linux-arm64-musl --out dist/myapp-db-linux-arm64-musl
  ${brand.binary} pack --inspect dist/myapp-db`;

const str = (v: unknown) => (typeof v === "string" ? v : undefined);

export async function run(ctx: Context, a: Args): Promise<number> {
  const inspected = str(a.inspect);
  if (inspected !== undefined) {
    const o = inspect(resolve(cwd(), inspected));
    ctx.result(o, () => {
      if (!o.packed) return `${o.file}: ${o.platform}, no packed migrations (it runs the ones it was built with)`;
      const b = o.packed.brand;
      return [
        `${o.file}: ${o.platform}`,
        `  brand: ${b.name} ${b.version} (${b.displayName}), tracking schema ${b.trackingSchema}`,
        `  ${o.packed.migrations} migrations (head ${o.packed.head ?? "none"}, snapshot ${o.packed.snapshot ?? "none"}), ${o.packed.models ? "with" : "without"} schema models; checksums ok`,
      ].join("\n");
    });
    return ExitCode.ok;
  }
  // Flags win; pgship.json in the working directory fills in the rest.
  const project = applyProjectDefaults(a);
  const name = str(a.name) ?? project?.name;
  if (!name) {
    throw new UsageError(
      `pack needs a name: run it where ${PROJECT_FILE} is, or pass --name`,
      `'${brand.binary} init' writes ${PROJECT_FILE}; or e.g. ${brand.binary} pack --migrations-dir db/migrations --name myapp-db`,
    );
  }
  const { dir, schemaPath } = diskPaths({ migrationsDir: str(a["migrations-dir"]), schemaFile: str(a["schema-file"]) });
  const opts: PackOptions = {
    migrationsDir: dir,
    schemaFile: schemaPath,
    name,
    displayName: str(a["display-name"]) ?? project?.displayName,
    trackingSchema: str(a["tracking-schema"]),
    version: str(a.version),
    from: resolve(cwd(), str(a.from) ?? execPath()),
    out: resolve(cwd(), str(a.out) ?? join("dist", name)),
    tool: brand.binary,
  };
  const o = await pack(ctx, opts);
  ctx.result(o, () =>
    [
      `Packed ${o.out} (${o.platform}): ${o.brand.name} ${o.brand.version}, ${o.migrations} migrations (head ${o.head ?? "none"}, snapshot ${o.snapshot ?? "none"}), ${formatBytes(o.payloadBytes)} attached${o.replaced ? ", replacing the ones it carried" : ""}.`,
      ...(o.resign ? [`Re-sign it before macOS runs it: ${o.resign}`] : []),
    ].join("\n"),
  );
  return ExitCode.ok;
}
