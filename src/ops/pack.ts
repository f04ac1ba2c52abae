// pack: a released binary, branded with an app's migrations, without a
// toolchain. The migrations are checked exactly as the build checks them
// (src/bundle.ts), then attached to a copy of the binary (src/pack/binary.ts,
// format in src/payload.ts).

import { existsSync, mkdirSync, realpathSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { prepareBundle } from "../bundle.ts";
import { shownPath } from "../core/files.ts";
import { PgshipError, UsageError } from "../core/errors.ts";
import { inspectBinary, writePacked } from "../pack/binary.ts";
import { readPayload } from "../payload.ts";
import type { OpContext } from "./context.ts";

/** Everything pack needs, as one object (flags today; a project file can fill in defaults). */
export interface PackOptions {
  /** Absolute paths. */
  migrationsDir: string;
  schemaFile: string;
  /** The packed binary's command name (what --version and the hints print). */
  name: string;
  /** Default: the name. */
  displayName?: string;
  /** Default: the name in lower case, other characters as _. */
  trackingSchema?: string;
  /** Default: the newest migration's version. */
  version?: string;
  /** The released binary to brand (any supported platform); absolute. */
  from: string;
  /** Absolute. */
  out: string;
  /** The `adopt` map (Alembic revisions), as package.json's pgship.adopt holds it. */
  adopt?: unknown;
  adoptSource?: string;
  /** The tool named in hints ('run X dump'). */
  tool: string;
}

export interface PackedBrandView {
  name: string;
  displayName: string;
  trackingSchema: string;
  version: string;
}

export interface PackOutcome {
  ok: true;
  out: string;
  from: string;
  /** linux-x64-glibc, linux-arm64-musl, darwin-arm64, windows-x64 … */
  platform: string;
  brand: PackedBrandView;
  migrations: number;
  head: string | null;
  snapshot: string | null;
  payloadBytes: number;
  /** The input already carried migrations: they were replaced. */
  replaced: boolean;
  /** Mach-O: the command that re-signs the output before macOS runs it; else null. */
  resign: string | null;
}

export interface InspectOutcome {
  ok: true;
  file: string;
  platform: string;
  /** Null when the binary carries no packed migrations (it runs the ones it was built with). */
  packed: {
    brand: PackedBrandView;
    migrations: number;
    head: string | null;
    snapshot: string | null;
    models: boolean;
  } | null;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const SCHEMA = /^[a-z_][a-z0-9_]{0,62}$/;

export const defaultTrackingSchema = (name: string) => {
  const s = name.toLowerCase().replace(/[^a-z0-9_]/g, "_");
  return /^[0-9]/.test(s) ? `_${s}` : s;
};

export async function pack(ctx: Pick<OpContext, "emit">, o: PackOptions): Promise<PackOutcome> {
  if (!NAME.test(o.name)) throw new UsageError(`--name "${o.name}" must be a file name: letters, digits, '.', '_' and '-'`);
  const trackingSchema = o.trackingSchema ?? defaultTrackingSchema(o.name);
  if (!SCHEMA.test(trackingSchema)) throw new UsageError(`--tracking-schema "${trackingSchema}" must be a lower-case identifier (letters, digits, _)`);
  if (o.version !== undefined && !/^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$/.test(o.version)) throw new UsageError(`--version "${o.version}" must be a version like 1.4.0`);
  if (o.displayName !== undefined && !o.displayName.trim()) throw new UsageError("--display-name must not be empty");
  if (existsSync(o.out) && realpathSync(o.out) === realpathSync(o.from)) {
    throw new UsageError(`--out ${shownPath(o.out)} is the input binary`, "pack writes a new file; choose another --out");
  }
  if (existsSync(o.out) && statSync(o.out).isDirectory()) throw new UsageError(`--out ${shownPath(o.out)} is a directory`, "name the file to write, e.g. --out dist/myapp-db");
  const prepared = await prepareBundle({ migrationsDir: o.migrationsDir, schemaFile: o.schemaFile, adopt: o.adopt, adoptSource: o.adoptSource ?? "package.json", tool: o.tool });
  for (const message of prepared.warnings) ctx.emit({ type: "warn", message });
  const info = inspectBinary(o.from, shownPath(o.from));
  const head = prepared.set.migrations.at(-1)?.version ?? null;
  const brand = { name: o.name, displayName: o.displayName ?? o.name, trackingSchema, version: o.version ?? head ?? "0" };
  const parts = {
    brand: { name: brand.name, display: brand.displayName, trackingSchema, version: brand.version, alembic: prepared.alembic },
    indexJson: prepared.indexJson,
    setJson: prepared.bundleJson,
    modelsJson: prepared.modelsJson,
  };
  let payloadBytes: number;
  try {
    mkdirSync(dirname(o.out), { recursive: true });
    payloadBytes = writePacked(o.from, info, parts, o.out);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (e instanceof PgshipError || !code) throw e;
    throw new PgshipError("file", `${shownPath(o.out)}: cannot write it (${code === "EACCES" ? "permission denied" : code === "ENOSPC" ? "no space left on the device" : (e as Error).message})`);
  }
  const out = shownPath(o.out);
  return {
    ok: true,
    out,
    from: shownPath(o.from),
    platform: info.format.label,
    brand,
    migrations: prepared.set.migrations.length,
    head,
    snapshot: prepared.set.snapshot?.version ?? null,
    payloadBytes,
    replaced: info.payload !== null,
    resign: info.format.os === "darwin" ? `codesign -s - ${out}   (on macOS; elsewhere: rcodesign sign ${out})` : null,
  };
}

/** What a binary carries, every part checked (payload_corrupt when one fails). */
export function inspect(file: string): InspectOutcome {
  const shown = shownPath(file);
  const info = inspectBinary(file, shown);
  const p = info.payload ?? readPayload(file, { anyPlatform: true, shown });
  if (!p) return { ok: true, file: shown, platform: info.format.label, packed: null };
  p.setJson();
  const models = p.modelsJson() !== null;
  return {
    ok: true,
    file: shown,
    platform: info.format.label,
    packed: {
      brand: { name: p.brand.name, displayName: p.brand.display, trackingSchema: p.brand.trackingSchema, version: p.brand.version },
      migrations: p.index.migrations.length,
      head: p.index.migrations.at(-1)?.version ?? null,
      snapshot: p.index.snapshot?.version ?? null,
      models,
    },
  };
}
