// The comparable shape of a database schema: every object the app owns, keyed
// by qualified name, with only the attributes that matter for drift. Produced by
// introspect.ts from a live catalog, or read from schema.model.json (generated
// by `<binary> dump`, embedded in the binary; see model-history.ts) for the expected side.

export interface Column {
  type: string;
  notNull: boolean;
  default: string | null;
  /** "a" always, "d" by default, "" none */
  identity: string;
  /** "s" stored generated column, "" none */
  generated: string;
  collation: string | null;
}

export interface Constraint {
  /** p primary key, u unique, f foreign key, c check, x exclusion */
  type: string;
  definition: string;
}

export interface Index {
  definition: string;
  valid: boolean;
  /** Backs a primary key, unique or exclusion constraint. */
  constraint: boolean;
}

export interface Table {
  /** r table, p partitioned table, f foreign table */
  kind: string;
  partitionKey: string | null;
  /** "parent FOR VALUES ..." for a partition */
  partitionOf: string | null;
  rowSecurity: boolean;
  forceRowSecurity: boolean;
  columns: Record<string, Column>;
  constraints: Record<string, Constraint>;
  indexes: Record<string, Index>;
  triggers: Record<string, string>;
  policies: Record<string, Policy>;
}

export interface Policy {
  permissive: boolean;
  roles: string[];
  command: string;
  using: string | null;
  check: string | null;
}

export interface View {
  /** v view, m materialized view */
  kind: string;
  definition: string;
  columns: string[];
  indexes: Record<string, Index>;
}

export interface Func {
  /** f function, p procedure, a aggregate, w window */
  kind: string;
  /** CREATE OR REPLACE ... as pg_get_functiondef prints it (null for aggregates) */
  definition: string | null;
}

export interface Sequence {
  type: string;
  start: string;
  increment: string;
  min: string;
  max: string;
  cache: string;
  cycle: boolean;
  ownedBy: string | null;
}

export interface Domain {
  type: string;
  notNull: boolean;
  default: string | null;
  checks: string[];
}

export interface Model {
  /** Major version of the server the model was read from (catalog output can differ between majors). */
  serverMajor: number;
  schemas: string[];
  extensions: Record<string, { schema: string }>;
  tables: Record<string, Table>;
  views: Record<string, View>;
  functions: Record<string, Func>;
  sequences: Record<string, Sequence>;
  enums: Record<string, string[]>;
  domains: Record<string, Domain>;
  composites: Record<string, [string, string][]>;
}

export const emptyModel = (serverMajor = 0): Model => ({
  serverMajor,
  schemas: [],
  extensions: {},
  tables: {},
  views: {},
  functions: {},
  sequences: {},
  enums: {},
  domains: {},
  composites: {},
});

/** Stable JSON: keys sorted, so the same schema gives the same file. */
export function stableStringify(value: unknown): string {
  return JSON.stringify(sortKeys(value), null, 1) + "\n";
}

/** Compact JSON with sorted keys: for comparing values whose key order may differ. */
export const canonical = (value: unknown): string => JSON.stringify(sortKeys(value));

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object") {
    return Object.fromEntries(Object.keys(v as object).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
  }
  return v;
}

/** Argument lists without the `IN` that PostgreSQL 14+ prints for procedures' input arguments (13 prints none). */
const withoutInMode = (args: string) => args.replace(/(^|\(|, )IN /g, "$1");

/**
 * The model in a form that does not depend on the server's major version, so a model
 * read on one major compares clean with the same schema on another:
 * - procedures' argument lists without `IN` (14+ prints it, 13 does not);
 * - domains without the `NOT NULL` entry 17+ lists among their constraints (`notNull` says it);
 * - partitions' columns without the identity 17+ reports as inherited from the parent
 *   (the parent's column carries it on every major).
 * View text (16+ prints column references unqualified) is handled by the comparison: see diff.ts.
 */
export function portable(m: Model): Model {
  const functions: Model["functions"] = {};
  for (const [key, f] of Object.entries(m.functions)) {
    if (f.kind !== "p") {
      functions[key] = f;
      continue;
    }
    const open = key.indexOf("(");
    const definition = f.definition === null ? null : f.definition.replace(/^([^\n]*)/, (line) => withoutInMode(line));
    functions[`${key.slice(0, open)}(${withoutInMode(key.slice(open + 1, -1))})`] = { ...f, definition };
  }
  const domains = Object.fromEntries(Object.entries(m.domains).map(([k, d]) => [k, { ...d, checks: d.checks.filter((c) => c !== "NOT NULL") }]));
  const tables = Object.fromEntries(
    Object.entries(m.tables).map(([k, t]) => [k, t.partitionOf ? { ...t, columns: Object.fromEntries(Object.entries(t.columns).map(([n, c]) => [n, { ...c, identity: "" }])) } : t]),
  );
  return { ...m, functions, domains, tables };
}
