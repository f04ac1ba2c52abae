// The expected schema at every version: schema.model.json holds the model at the
// head in full and, for every migration, what that migration changed in the
// catalog model (a delta against the previous version's model; the first one
// against an empty model). `verify` at version V rebuilds V's model from these
// deltas, so it needs neither CREATEDB nor pg_dump at any version. Written by
// `<binary> dump`, gated by `<binary> check`, embedded by the build and loaded only
// by the commands that compare schemas (never by `status`).

import { brand } from "../brand.ts";
import { canonical, emptyModel, stableStringify, type Model } from "./model.ts";

/** One change to the model: set the value at a path of keys, or delete it. */
export type ModelChange = { set: string[]; to: unknown } | { delete: string[] };

export interface VersionDelta {
  version: string;
  /** What this migration changed, applied to the model of the previous version. */
  changes: ModelChange[];
}

export interface ModelHistoryFile {
  format: 2;
  /** The newest version (the snapshot's). */
  version: string;
  /** The model at `version`, in full. */
  model: Model;
  /** Every migration in order, each as a delta against the one before. */
  versions: VersionDelta[];
}

export class ModelHistory {
  readonly head: string;
  readonly headModel: Model;
  /** The versions whose model is known, oldest first; only the head for a file written before per-version models. */
  readonly versions: string[];
  /** False for a model file written before per-version models (it describes the head only). */
  readonly perVersion: boolean;
  private readonly deltas: VersionDelta[];
  private cache = new Map<string, Model>();

  constructor(file: ModelHistoryFile | { version: string; model: Model }) {
    this.head = file.version;
    this.headModel = file.model;
    this.perVersion = "versions" in file;
    this.deltas = "versions" in file ? file.versions : [];
    this.versions = this.perVersion ? this.deltas.map((d) => d.version) : [file.version];
    this.cache.set(file.version, file.model);
  }

  has(version: string): boolean {
    return this.versions.includes(version);
  }

  /** The model at `version`, rebuilt from the deltas; null when the file does not describe it. */
  modelAt(version: string): Model | null {
    const hit = this.cache.get(version);
    if (hit) return hit;
    const model = this.rebuild(version);
    if (model) this.cache.set(version, model);
    return model;
  }

  /** The model at `version` from the deltas alone (never the full head copy): what `check` gates. */
  rebuild(version: string): Model | null {
    const at = this.deltas.findIndex((d) => d.version === version);
    if (at < 0) return null;
    let model: Model = emptyModel(this.headModel.serverMajor);
    for (const d of this.deltas.slice(0, at + 1)) model = applyChanges(model, d.changes);
    return model;
  }
}

/** Builds the file from the model after each migration (oldest first; the last one is the head). */
export function buildHistory(models: { version: string; model: Model }[]): ModelHistoryFile {
  const last = models.at(-1);
  if (!last) throw new Error("no versions to record");
  let previous: Model = emptyModel(last.model.serverMajor);
  const versions: VersionDelta[] = [];
  for (const { version, model } of models) {
    const m = { ...model, serverMajor: last.model.serverMajor };
    versions.push({ version, changes: diffTree(previous, m) });
    previous = m;
  }
  return { format: 2, version: last.version, model: last.model, versions };
}

/**
 * Stable text: the head model as before (keys sorted, one attribute a line), then
 * each migration's changes one a line, so a new migration shows as a readable diff.
 */
export function serializeHistory(h: ModelHistoryFile): string {
  const model = stableStringify(h.model).trimEnd().replace(/\n/g, "\n ");
  const versions = h.versions
    .map((v) => `  {"version": ${JSON.stringify(v.version)}, "changes": [${v.changes.length ? `\n${v.changes.map((c) => `   ${canonical(c)}`).join(",\n")}\n  ` : ""}]}`)
    .join(",\n");
  return `{\n "format": 2,\n "version": ${JSON.stringify(h.version)},\n "model": ${model},\n "versions": [\n${versions}\n ]\n}\n`;
}

/** Reads schema.model.json in either format (the older one describes the head only). */
export function parseModelHistory(text: string, file: string): ModelHistory {
  let data: Partial<ModelHistoryFile> & { format?: unknown };
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file} is not valid JSON (${(e as Error).message}); regenerate it with '${brand.binary} dump'`);
  }
  const bad = () => new Error(`${file} is not a ${brand.display} schema model; regenerate it with '${brand.binary} dump'`);
  if (!data || typeof data.version !== "string" || !data.model || typeof data.model.tables !== "object") throw bad();
  if (data.format === undefined) return new ModelHistory({ version: data.version, model: data.model });
  if (data.format !== 2 || !Array.isArray(data.versions)) {
    throw new Error(`${file} has a format this binary does not read (format ${String(data.format)}); regenerate it with '${brand.binary} dump'`);
  }
  for (const v of data.versions) if (!v || typeof v.version !== "string" || !Array.isArray(v.changes)) throw bad();
  return new ModelHistory(data as ModelHistoryFile);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** The changes that turn `a` into `b`: recursive over objects, whole values otherwise. */
export function diffTree(a: unknown, b: unknown, path: string[] = []): ModelChange[] {
  if (isObject(a) && isObject(b)) {
    const out: ModelChange[] = [];
    for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
      if (!Object.hasOwn(b, k)) out.push({ delete: [...path, k] });
      else if (!Object.hasOwn(a, k)) out.push({ set: [...path, k], to: b[k] });
      else out.push(...diffTree(a[k], b[k], [...path, k]));
    }
    return out;
  }
  if (canonical(a) === canonical(b)) return [];
  return [{ set: path, to: b }];
}

/** An own property whatever the key is called (a column may be named __proto__). */
const put = (o: Record<string, unknown>, k: string, v: unknown) => Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });

export function applyChanges<T>(base: T, changes: ModelChange[]): T {
  const root = structuredClone(base) as Record<string, unknown>;
  for (const c of changes) {
    const path = "set" in c ? c.set : c.delete;
    if (path.length === 0) throw new Error("a model change must name a path");
    let node = root;
    for (const k of path.slice(0, -1)) {
      if (!Object.hasOwn(node, k) || !isObject(node[k])) put(node, k, {});
      node = node[k] as Record<string, unknown>;
    }
    const key = path.at(-1)!;
    if ("set" in c) put(node, key, structuredClone(c.to));
    else delete node[key];
  }
  return root as T;
}
