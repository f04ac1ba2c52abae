// Pure: which findings can be repaired without losing or rewriting data, and the
// SQL that does it; the rest get SQL a person could run after reviewing it.
// Repairs run in one transaction (see commands/verify.ts); this file only writes SQL.

import { brand } from "../brand.ts";
import type { Finding } from "./diff.ts";
import { portable, type Column, type Index, type Model, type Table } from "./model.ts";

export interface Repair {
  finding: Finding;
  sql: string;
  /** A query returning one row with boolean `ok`; false demotes the repair to manual. */
  precheck?: string;
  /** Why the precheck matters, shown when it fails. */
  precheckReason?: string;
  order: number;
}

export interface Manual {
  finding: Finding;
  /** SQL a person could run, or null when there is no safe suggestion. */
  sql: string | null;
  reason: string;
}

export interface RepairPlan {
  repairs: Repair[];
  manual: Manual[];
}

const RESERVED = new Set(["all", "analyse", "analyze", "and", "any", "array", "as", "asc", "both", "case", "cast", "check", "collate", "column", "constraint", "create", "current_date", "current_role", "current_time", "current_timestamp", "current_user", "default", "deferrable", "desc", "distinct", "do", "else", "end", "except", "false", "fetch", "for", "foreign", "from", "grant", "group", "having", "in", "initially", "intersect", "into", "lateral", "leading", "limit", "localtime", "localtimestamp", "not", "null", "offset", "on", "only", "or", "order", "placing", "primary", "references", "returning", "select", "session_user", "some", "symmetric", "table", "then", "to", "trailing", "true", "union", "unique", "user", "using", "variadic", "when", "where", "window", "with"]);
export const ident = (s: string) => (/^[a-z_][a-z0-9_$]*$/.test(s) && !RESERVED.has(s) ? s : `"${s.replace(/"/g, '""')}"`);
const qualified = (key: string) => {
  const dot = key.indexOf(".");
  return `${ident(key.slice(0, dot))}.${ident(key.slice(dot + 1))}`;
};
const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;
const tail = (f: Finding) => f.name.slice(f.group.length + 1);

export function columnSql(name: string, c: Column, withNotNull = true): string {
  const parts = [ident(name), c.type];
  if (c.collation) parts.push(`COLLATE ${ident(c.collation)}`);
  if (c.identity) parts.push(`GENERATED ${c.identity === "a" ? "ALWAYS" : "BY DEFAULT"} AS IDENTITY`);
  else if (c.generated && c.default) parts.push(`GENERATED ALWAYS AS (${c.default}) STORED`);
  else if (c.default !== null) parts.push(`DEFAULT ${c.default}`);
  if (withNotNull && c.notNull && !c.identity) parts.push("NOT NULL");
  return parts.join(" ");
}

const POLICY_CMD: Record<string, string> = { r: "SELECT", a: "INSERT", w: "UPDATE", d: "DELETE", "*": "ALL" };

function policySql(table: string, name: string, p: Table["policies"][string]): string {
  return [
    `CREATE POLICY ${ident(name)} ON ${qualified(table)} AS ${p.permissive ? "PERMISSIVE" : "RESTRICTIVE"} FOR ${POLICY_CMD[p.command] ?? "ALL"}`,
    `TO ${p.roles.map((r) => (r === "public" ? "PUBLIC" : ident(r))).join(", ")}`,
    p.using ? `USING (${p.using})` : "",
    p.check ? `WITH CHECK (${p.check})` : "",
  ].filter(Boolean).join(" ") + ";";
}

// An index on a partitioned table prints as "ON ONLY", which would create it invalid and
// unattached: create it on the whole tree instead. That also creates the partitions'
// indexes, which may be in the same plan, hence IF NOT EXISTS.
const indexSql = (i: Index) => `${i.definition.replace(/^CREATE (UNIQUE )?INDEX /, "CREATE $1INDEX IF NOT EXISTS ").replace(/ ON ONLY /, " ON ")};`;

/** Everything needed to recreate a missing table, in dependency-safe pieces. */
function tableSql(key: string, t: Table): { order: number; sql: string }[] {
  const out: { order: number; sql: string }[] = [];
  const cols = Object.entries(t.columns).map(([n, c]) => `  ${columnSql(n, c)}`);
  if (t.partitionOf) {
    const [parent, ...bound] = t.partitionOf.split(" ");
    out.push({ order: 40, sql: `CREATE TABLE ${qualified(key)} PARTITION OF ${parent} ${bound.join(" ")};` });
  } else {
    out.push({ order: 40, sql: `CREATE TABLE ${qualified(key)} (\n${cols.join(",\n")}\n)${t.partitionKey ? ` PARTITION BY ${t.partitionKey}` : ""};` });
  }
  for (const [n, c] of Object.entries(t.constraints)) {
    out.push({ order: c.type === "f" ? 75 : 70, sql: `ALTER TABLE ${qualified(key)} ADD CONSTRAINT ${ident(n)} ${c.definition};` });
  }
  for (const i of Object.values(t.indexes)) if (!i.constraint) out.push({ order: 80, sql: indexSql(i) });
  for (const g of Object.values(t.triggers)) out.push({ order: 95, sql: `${g};` });
  if (t.rowSecurity) out.push({ order: 96, sql: `ALTER TABLE ${qualified(key)} ENABLE ROW LEVEL SECURITY;` });
  if (t.forceRowSecurity) out.push({ order: 96, sql: `ALTER TABLE ${qualified(key)} FORCE ROW LEVEL SECURITY;` });
  for (const [n, p] of Object.entries(t.policies)) out.push({ order: 97, sql: policySql(key, n, p) });
  return out;
}

export function planRepairs(findings: Finding[], expectedAsRead: Model): RepairPlan {
  // Findings name objects as diffModels does: by their portable form.
  const expected = portable(expectedAsRead);
  const repairs: Repair[] = [];
  const manual: Manual[] = [];
  const fix = (finding: Finding, order: number, sql: string, extra: Partial<Repair> = {}) => repairs.push({ finding, order, sql, ...extra });
  const person = (finding: Finding, sql: string | null, reason: string) => manual.push({ finding, sql, reason });

  for (const f of findings) {
    const table = expected.tables[f.group];
    if (f.kind === "extra") {
      person(f, dropSql(f), `${brand.display} never drops anything: review and drop it yourself if it is not needed`);
      continue;
    }
    switch (f.type) {
      case "schema":
        fix(f, 10, `CREATE SCHEMA IF NOT EXISTS ${ident(f.name)};`);
        break;
      case "extension":
        if (f.kind === "missing") fix(f, 15, `CREATE EXTENSION IF NOT EXISTS ${ident(f.name)} WITH SCHEMA ${ident(expected.extensions[f.name]!.schema)};`);
        else person(f, `ALTER EXTENSION ${ident(f.name)} SET SCHEMA ${ident(f.expected ?? "public")};`, "moving an extension affects everything that uses it");
        break;
      case "enum":
        if (f.kind === "missing") fix(f, 20, `CREATE TYPE ${qualified(f.name)} AS ENUM (${expected.enums[f.name]!.map(literal).join(", ")});`);
        else person(f, null, "enum values cannot be reordered in place; recreate the type");
        break;
      case "enum value": {
        const labels = expected.enums[f.group]!;
        const at = labels.indexOf(f.expected!);
        const where = at > 0 ? ` AFTER ${literal(labels[at - 1]!)}` : labels[at + 1] ? ` BEFORE ${literal(labels[at + 1]!)}` : "";
        fix(f, 21, `ALTER TYPE ${qualified(f.group)} ADD VALUE IF NOT EXISTS ${literal(f.expected!)}${where};`);
        break;
      }
      case "domain": {
        const d = expected.domains[f.name]!;
        if (f.kind === "missing") fix(f, 22, `CREATE DOMAIN ${qualified(f.name)} AS ${d.type}${d.default !== null ? ` DEFAULT ${d.default}` : ""}${d.notNull ? " NOT NULL" : ""}${d.checks.map((c) => ` ${c}`).join("")};`);
        else person(f, null, "changing a domain can reject existing values; alter it by hand");
        break;
      }
      case "composite type":
        if (f.kind === "missing") fix(f, 23, `CREATE TYPE ${qualified(f.name)} AS (${expected.composites[f.name]!.map(([n, t]) => `${ident(n)} ${t}`).join(", ")});`);
        else person(f, null, "changing a composite type's attributes can rewrite data; alter it by hand");
        break;
      case "sequence": {
        const s = expected.sequences[f.name]!;
        if (f.kind === "missing") {
          fix(f, 30, `CREATE SEQUENCE ${qualified(f.name)} AS ${s.type} INCREMENT BY ${s.increment} MINVALUE ${s.min} MAXVALUE ${s.max} START WITH ${s.start} CACHE ${s.cache}${s.cycle ? " CYCLE" : ""};`);
          if (s.ownedBy) fix(f, 99, `ALTER SEQUENCE ${qualified(f.name)} OWNED BY ${s.ownedBy};`);
        } else person(f, `ALTER SEQUENCE ${qualified(f.name)} ...;  -- ${f.attribute}: ${f.expected}`, "sequence settings are left to a person");
        break;
      }
      case "table":
        if (f.kind === "missing") for (const piece of tableSql(f.name, expected.tables[f.name]!)) fix(f, piece.order, piece.sql);
        else person(f, null, `the table's ${f.attribute} differs; that cannot be changed without rebuilding it`);
        break;
      case "row level security":
        if (table?.rowSecurity) {
          fix(f, 96, `ALTER TABLE ${qualified(f.group)} ENABLE ROW LEVEL SECURITY;`);
          if (table.forceRowSecurity) fix(f, 96, `ALTER TABLE ${qualified(f.group)} FORCE ROW LEVEL SECURITY;`);
        } else person(f, `ALTER TABLE ${qualified(f.group)} DISABLE ROW LEVEL SECURITY;`, "turning row level security off widens access: decide by hand");
        break;
      case "column":
        columnRepair(f, table!, fix, person);
        break;
      case "constraint": {
        const c = table!.constraints[tail(f)]!;
        if (f.kind === "missing") fix(f, c.type === "f" ? 75 : 70, `ALTER TABLE ${qualified(f.group)} ADD CONSTRAINT ${ident(tail(f))} ${c.definition};`);
        else person(f, `ALTER TABLE ${qualified(f.group)} DROP CONSTRAINT ${ident(tail(f))}, ADD CONSTRAINT ${ident(tail(f))} ${c.definition};`, "replacing a constraint drops the old one first");
        break;
      }
      case "index": {
        const name = `${ident(f.group.slice(0, f.group.indexOf(".")))}.${ident(tail(f))}`;
        if (f.kind === "invalid") fix(f, 85, `REINDEX INDEX ${name};`);
        else if (f.kind === "missing") fix(f, 80, indexSql((table ?? expected.views[f.group]!).indexes[tail(f)] ?? expected.views[f.group]!.indexes[tail(f)]!));
        else person(f, `DROP INDEX ${name}; ${f.expected};`, "replacing an index drops the old one first");
        break;
      }
      case "trigger":
        if (f.kind === "missing") fix(f, 95, `${table!.triggers[tail(f)]};`);
        else person(f, `DROP TRIGGER ${ident(tail(f))} ON ${qualified(f.group)}; ${table!.triggers[tail(f)]};`, "replacing a trigger drops the old one first");
        break;
      case "policy":
        if (f.kind === "missing") fix(f, 97, policySql(f.group, tail(f), table!.policies[tail(f)]!));
        else person(f, `DROP POLICY ${ident(tail(f))} ON ${qualified(f.group)}; ${policySql(f.group, tail(f), table!.policies[tail(f)]!)}`, "replacing a policy drops the old one first");
        break;
      case "view": {
        const v = expected.views[f.name]!;
        const create = `CREATE ${v.kind === "m" ? "MATERIALIZED VIEW" : "VIEW"} ${qualified(f.name)} AS ${v.definition.replace(/;\s*$/, "")};`;
        if (f.kind === "missing") {
          fix(f, 90, create);
          for (const i of Object.values(v.indexes)) fix(f, 91, indexSql(i));
        } else if (v.kind === "v" && f.attribute === "definition") fix(f, 90, create.replace("CREATE VIEW", "CREATE OR REPLACE VIEW"));
        else person(f, `DROP MATERIALIZED VIEW ${qualified(f.name)}; ${create}`, "a materialized view can only be rebuilt");
        break;
      }
      case "function": {
        const fn = expected.functions[f.name]!;
        if (fn.definition) fix(f, 50, `${fn.definition.trim()};`);
        else person(f, null, "aggregates are recreated by hand");
        break;
      }
    }
  }
  repairs.sort((a, b) => a.order - b.order);
  return { repairs, manual };
}

function columnRepair(f: Finding, t: Table, fix: (f: Finding, order: number, sql: string, extra?: Partial<Repair>) => void, person: (f: Finding, sql: string | null, reason: string) => void) {
  const col = tail(f);
  const c = t.columns[col]!;
  const tableName = qualified(f.group);
  if (f.kind === "missing") {
    // NOT NULL without a default would fail on a table with rows: add the column, then ask.
    const safeNotNull = !c.notNull || c.default !== null || Boolean(c.identity) || Boolean(c.generated);
    fix(f, 45, `ALTER TABLE ${tableName} ADD COLUMN ${columnSql(col, c, safeNotNull)};`);
    if (!safeNotNull) {
      fix(f, 46, `ALTER TABLE ${tableName} ALTER COLUMN ${ident(col)} SET NOT NULL;`, {
        precheck: `select not exists (select 1 from ${tableName}) as ok`,
        precheckReason: "the table has rows and the column has no default: fill it in, then set NOT NULL",
      });
    }
    return;
  }
  switch (f.attribute) {
    case "default":
      fix(f, 60, c.default === null ? `ALTER TABLE ${tableName} ALTER COLUMN ${ident(col)} DROP DEFAULT;` : `ALTER TABLE ${tableName} ALTER COLUMN ${ident(col)} SET DEFAULT ${c.default};`);
      return;
    case "notNull":
      if (c.notNull) {
        fix(f, 61, `ALTER TABLE ${tableName} ALTER COLUMN ${ident(col)} SET NOT NULL;`, {
          precheck: `select not exists (select 1 from ${tableName} where ${ident(col)} is null) as ok`,
          precheckReason: `some rows have NULL in ${col}: fill them in, then run: ALTER TABLE ${tableName} ALTER COLUMN ${ident(col)} SET NOT NULL;`,
        });
      } else person(f, `ALTER TABLE ${tableName} ALTER COLUMN ${ident(col)} DROP NOT NULL;`, "relaxing a constraint is left to a person");
      return;
    case "type":
      person(f, `ALTER TABLE ${tableName} ALTER COLUMN ${ident(col)} TYPE ${c.type} USING ${ident(col)}::${c.type};`, "changing a column's type rewrites its data");
      return;
    default:
      person(f, null, `the column's ${f.attribute} differs; change it by hand`);
  }
}

function dropSql(f: Finding): string | null {
  const t = f.group.includes(".") ? qualified(f.group) : ident(f.group);
  switch (f.type) {
    case "schema": return `DROP SCHEMA ${ident(f.name)};`;
    case "extension": return `DROP EXTENSION ${ident(f.name)};`;
    case "table": return `DROP TABLE ${qualified(f.name)};`;
    case "column": return `ALTER TABLE ${t} DROP COLUMN ${ident(tail(f))};`;
    case "constraint": return `ALTER TABLE ${t} DROP CONSTRAINT ${ident(tail(f))};`;
    case "index": return `DROP INDEX ${ident(f.group.slice(0, f.group.indexOf(".")))}.${ident(tail(f))};`;
    case "trigger": return `DROP TRIGGER ${ident(tail(f))} ON ${t};`;
    case "policy": return `DROP POLICY ${ident(tail(f))} ON ${t};`;
    case "view": return `DROP VIEW ${qualified(f.name)};`;
    case "function": return `DROP FUNCTION ${f.name};`;
    case "sequence": return `DROP SEQUENCE ${qualified(f.name)};`;
    case "enum": case "domain": case "composite type": return `DROP TYPE ${qualified(f.name)};`;
    default: return null;
  }
}

/** The SQL of a plan, for --dry-run and for showing before applying. */
export function renderRepairSql(plan: RepairPlan): string {
  return plan.repairs.map((r) => r.sql).join("\n");
}
