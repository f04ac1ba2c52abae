// Pure comparison of an expected and an actual Model into findings a person can
// read: what is missing, extra, changed or invalid, grouped by the object that
// owns it, each with expected and actual values.

import { canonical, portable, type Column, type Model, type Table } from "./model.ts";
import { squash } from "./introspect.ts";
import { unifiedDiff } from "../core/line-diff.ts";

export type FindingKind = "missing" | "extra" | "changed" | "invalid";
export type ObjectType =
  | "schema" | "extension" | "table" | "column" | "constraint" | "index" | "trigger" | "policy"
  | "view" | "function" | "sequence" | "enum" | "enum value" | "domain" | "composite type" | "row level security";

export interface Finding {
  kind: FindingKind;
  type: ObjectType;
  /** Qualified name of the object, e.g. public.api_keys.webhook_url */
  name: string;
  /** The object it belongs to, for grouping (public.api_keys). */
  group: string;
  /** For "changed": which attribute differs. */
  attribute?: string;
  expected?: string | null;
  actual?: string | null;
}

const keys = (a: object, b: object) => [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();

export function describeColumn(c: Column): string {
  return [
    c.type,
    c.collation ? `collate "${c.collation}"` : "",
    c.identity ? `generated ${c.identity === "a" ? "always" : "by default"} as identity` : "",
    c.generated ? "generated always as (...) stored" : "",
    c.notNull ? "not null" : "",
    c.default !== null && !c.generated ? `default ${c.default}` : "",
  ].filter(Boolean).join(" ");
}

/**
 * PostgreSQL 16 and later print a view's column references without the table name where
 * they are unambiguous; 15 and earlier qualify them. Between a model read on one side of
 * that change and a server on the other, view text is compared with every qualifier removed.
 */
const unqualified = (s: string) => s.replace(/(?<![\w$."])("(?:[^"]|"")+"|[a-z_][a-z0-9_$]*)\./gi, "");

export function diffModels(expectedAsRead: Model, actualAsRead: Model): Finding[] {
  // Models written by earlier versions may hold major-specific text: compare portable forms.
  const expected = portable(expectedAsRead);
  const actual = portable(actualAsRead);
  const straddles16 = !!expected.serverMajor && !!actual.serverMajor && expected.serverMajor >= 16 !== actual.serverMajor >= 16;
  const viewText = (s: string) => (straddles16 ? unqualified(squash(s)!) : squash(s));
  const out: Finding[] = [];
  const add = (f: Finding) => out.push(f);
  const presence = <T>(type: ObjectType, exp: Record<string, T>, act: Record<string, T>, group: (k: string) => string, name: (k: string) => string = (k) => k, same?: (e: T, a: T, k: string) => void) => {
    for (const k of keys(exp, act)) {
      if (!(k in act)) add({ kind: "missing", type, name: name(k), group: group(k) });
      else if (!(k in exp)) add({ kind: "extra", type, name: name(k), group: group(k) });
      else same?.(exp[k]!, act[k]!, k);
    }
  };
  const asSet = (xs: string[]) => Object.fromEntries(xs.map((x) => [x, true]));

  presence("schema", asSet(expected.schemas), asSet(actual.schemas), (k) => k);
  presence("extension", expected.extensions, actual.extensions, (k) => k, (k) => k, (e, a, k) => {
    if (e.schema !== a.schema) add({ kind: "changed", type: "extension", name: k, group: k, attribute: "schema", expected: e.schema, actual: a.schema });
  });
  presence("enum", expected.enums, actual.enums, (k) => k, (k) => k, (e, a, k) => {
    for (const label of e) if (!a.includes(label)) add({ kind: "missing", type: "enum value", name: `${k}.'${label}'`, group: k, expected: label });
    for (const label of a) if (!e.includes(label)) add({ kind: "extra", type: "enum value", name: `${k}.'${label}'`, group: k, actual: label });
    const common = e.filter((l) => a.includes(l));
    if (common.join(",") !== a.filter((l) => e.includes(l)).join(",")) add({ kind: "changed", type: "enum", name: k, group: k, attribute: "order", expected: e.join(", "), actual: a.join(", ") });
  });
  presence("domain", expected.domains, actual.domains, (k) => k, (k) => k, (e, a, k) => {
    for (const attr of ["type", "notNull", "default"] as const) {
      if (e[attr] !== a[attr]) add({ kind: "changed", type: "domain", name: k, group: k, attribute: attr, expected: String(e[attr]), actual: String(a[attr]) });
    }
    if (e.checks.join(" | ") !== a.checks.join(" | ")) add({ kind: "changed", type: "domain", name: k, group: k, attribute: "checks", expected: e.checks.join(" | "), actual: a.checks.join(" | ") });
  });
  presence("composite type", expected.composites, actual.composites, (k) => k, (k) => k, (e, a, k) => {
    const show = (x: [string, string][]) => x.map(([n, t]) => `${n} ${t}`).join(", ");
    if (show(e) !== show(a)) add({ kind: "changed", type: "composite type", name: k, group: k, attribute: "attributes", expected: show(e), actual: show(a) });
  });
  presence("sequence", expected.sequences, actual.sequences, (k) => k, (k) => k, (e, a, k) => {
    for (const attr of ["type", "start", "increment", "min", "max", "cache", "cycle", "ownedBy"] as const) {
      if (e[attr] !== a[attr]) add({ kind: "changed", type: "sequence", name: k, group: k, attribute: attr, expected: String(e[attr]), actual: String(a[attr]) });
    }
  });
  presence("table", expected.tables, actual.tables, (k) => k, (k) => k, (e, a, k) => diffTable(k, e, a, add));
  presence("view", expected.views, actual.views, (k) => k, (k) => k, (e, a, k) => {
    if (e.kind !== a.kind) add({ kind: "changed", type: "view", name: k, group: k, attribute: "kind", expected: e.kind === "m" ? "materialized view" : "view", actual: a.kind === "m" ? "materialized view" : "view" });
    if (viewText(e.definition) !== viewText(a.definition)) add({ kind: "changed", type: "view", name: k, group: k, attribute: "definition", expected: e.definition, actual: a.definition });
    diffIndexes(k, e.indexes, a.indexes, add);
  });
  presence("function", expected.functions, actual.functions, (k) => k, (k) => k, (e, a, k) => {
    if (squash(e.definition) !== squash(a.definition)) add({ kind: "changed", type: "function", name: k, group: k, attribute: "definition", expected: e.definition, actual: a.definition });
  });
  return out;
}

function diffTable(t: string, e: Table, a: Table, add: (f: Finding) => void) {
  for (const attr of ["kind", "partitionKey", "partitionOf"] as const) {
    if (e[attr] !== a[attr]) add({ kind: "changed", type: "table", name: t, group: t, attribute: attr, expected: e[attr], actual: a[attr] });
  }
  if (e.rowSecurity !== a.rowSecurity || e.forceRowSecurity !== a.forceRowSecurity) {
    const show = (x: Table) => (x.rowSecurity ? (x.forceRowSecurity ? "enabled, forced" : "enabled") : "disabled");
    add({ kind: "changed", type: "row level security", name: t, group: t, attribute: "row level security", expected: show(e), actual: show(a) });
  }
  for (const c of keys(e.columns, a.columns)) {
    const name = `${t}.${c}`;
    const ec = e.columns[c];
    const ac = a.columns[c];
    if (!ac) add({ kind: "missing", type: "column", name, group: t, expected: describeColumn(ec!) });
    else if (!ec) add({ kind: "extra", type: "column", name, group: t, actual: describeColumn(ac) });
    else {
      for (const attr of ["type", "notNull", "default", "identity", "generated", "collation"] as const) {
        if (ec[attr] !== ac[attr]) add({ kind: "changed", type: "column", name, group: t, attribute: attr, expected: String(ec[attr] ?? "none"), actual: String(ac[attr] ?? "none") });
      }
    }
  }
  for (const c of keys(e.constraints, a.constraints)) {
    const ec = e.constraints[c];
    const ac = a.constraints[c];
    const name = `${t}.${c}`;
    if (!ac) add({ kind: "missing", type: "constraint", name, group: t, expected: ec!.definition });
    else if (!ec) add({ kind: "extra", type: "constraint", name, group: t, actual: ac.definition });
    else if (ec.definition !== ac.definition) add({ kind: "changed", type: "constraint", name, group: t, attribute: "definition", expected: ec.definition, actual: ac.definition });
  }
  diffIndexes(t, e.indexes, a.indexes, add);
  for (const g of keys(e.triggers, a.triggers)) {
    const name = `${t}.${g}`;
    if (!(g in a.triggers)) add({ kind: "missing", type: "trigger", name, group: t, expected: e.triggers[g] });
    else if (!(g in e.triggers)) add({ kind: "extra", type: "trigger", name, group: t, actual: a.triggers[g] });
    else if (e.triggers[g] !== a.triggers[g]) add({ kind: "changed", type: "trigger", name, group: t, attribute: "definition", expected: e.triggers[g], actual: a.triggers[g] });
  }
  for (const p of keys(e.policies, a.policies)) {
    const name = `${t}.${p}`;
    const show = (x: Table["policies"][string]) => canonical(x);
    if (!(p in a.policies)) add({ kind: "missing", type: "policy", name, group: t, expected: show(e.policies[p]!) });
    else if (!(p in e.policies)) add({ kind: "extra", type: "policy", name, group: t, actual: show(a.policies[p]!) });
    else if (show(e.policies[p]!) !== show(a.policies[p]!)) add({ kind: "changed", type: "policy", name, group: t, attribute: "definition", expected: show(e.policies[p]!), actual: show(a.policies[p]!) });
  }
}

function diffIndexes(t: string, e: Table["indexes"], a: Table["indexes"], add: (f: Finding) => void) {
  for (const i of keys(e, a)) {
    const name = `${t}.${i}`;
    const ei = e[i];
    const ai = a[i];
    if (ai && !ai.valid) add({ kind: "invalid", type: "index", name, group: t, actual: ai.definition });
    // Indexes that back constraints are reported through their constraint.
    if (!ai && ei && !ei.constraint) add({ kind: "missing", type: "index", name, group: t, expected: ei.definition });
    else if (!ei && ai && !ai.constraint) add({ kind: "extra", type: "index", name, group: t, actual: ai.definition });
    else if (ei && ai && ei.definition !== ai.definition) add({ kind: "changed", type: "index", name, group: t, attribute: "definition", expected: ei.definition, actual: ai.definition });
  }
}

/** Definitions long enough that a reader needs the changed lines, not both texts. */
const SHOWN_AS_DIFF = new Set<ObjectType>(["function", "view", "trigger", "policy"]);

/** Grouped, readable report. */
export function renderFindings(findings: Finding[]): string {
  if (findings.length === 0) return "No drift: the schema matches.";
  const groups = new Map<string, Finding[]>();
  for (const f of findings) groups.set(f.group, [...(groups.get(f.group) ?? []), f]);
  const out: string[] = [];
  for (const [group, fs] of groups) {
    out.push(group);
    for (const f of fs) {
      const short = f.name === group ? f.type : `${f.type} ${f.name.slice(group.length + 1)}`;
      const detail = (v?: string | null) => (v && f.type !== "function" && f.type !== "enum value" ? `: ${oneLine(v)}` : "");
      if (f.kind === "missing") out.push(`  missing ${short}${detail(f.expected)}`);
      else if (f.kind === "extra") out.push(`  extra ${short}${detail(f.actual)}`);
      else if (f.kind === "invalid") out.push(`  INVALID ${short} (a failed CREATE INDEX CONCURRENTLY?): ${oneLine(f.actual ?? "")}`);
      else if (f.attribute === "definition" && SHOWN_AS_DIFF.has(f.type)) {
        out.push(`  changed ${short}: the ${f.type === "function" ? "body" : "definition"} differs`);
        out.push(...unifiedDiff(f.expected ?? "", f.actual ?? "").map((l) => `    ${l}`));
      }
      else out.push(`  changed ${short} ${f.attribute}: expected ${oneLine(f.expected ?? "none")}, found ${oneLine(f.actual ?? "none")}`);
    }
  }
  return out.join("\n");
}

const oneLine = (s: string) => (s.length > 160 ? `${s.replace(/\s+/g, " ").slice(0, 157)}...` : s.replace(/\s+/g, " "));
