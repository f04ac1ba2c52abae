// Generates a realistic, reproducible history of migrations for the benchmark:
// tables with defaults and constraints, added columns, indexes, foreign keys,
// seed rows, views and the odd trigger function. Every file is plain
// dbmate-compatible SQL (`-- migrate:up` / `-- migrate:down`), so pgship and
// dbmate run exactly the same bytes. Each down section undoes its up section,
// assuming (as both tools do) that downs run newest first.

export interface GeneratedMigration {
  file: string;
  text: string;
}

export interface GeneratedHistory {
  migrations: GeneratedMigration[];
  /** Tables in `public` after every migration is applied (for checking a run). */
  tables: number;
}

interface Table {
  name: string;
  columns: Set<string>;
  indexes: Set<string>;
  /** Extra features added at most once per table. */
  hasTrigger: boolean;
  hasView: boolean;
}

/** Optional columns a table is created with or gains later: name and definition. */
const COLUMN_POOL: [string, string][] = [
  ["status", "text not null default 'active' check (status in ('active', 'suspended', 'archived'))"],
  ["priority", "integer not null default 0 check (priority between 0 and 100)"],
  ["amount", "numeric(12, 2) not null default 0 check (amount >= 0)"],
  ["is_enabled", "boolean not null default true"],
  ["settings", "jsonb not null default '{}'::jsonb"],
  ["description", "text"],
  ["email", "text check (email is null or email like '%_@_%')"],
  ["external_id", "uuid not null default gen_random_uuid()"],
  ["starts_on", "date"],
  ["tags", "text[] not null default '{}'"],
  ["score", "double precision"],
  ["deleted_at", "timestamptz"],
  ["sort_order", "smallint not null default 0"],
  ["locale", "varchar(16) not null default 'en'"],
  ["retries", "integer not null default 0 check (retries >= 0)"],
];

const NOUNS = [
  "accounts", "projects", "invoices", "payments", "customers", "orders", "products", "shipments", "warehouses", "suppliers",
  "teams", "memberships", "invitations", "sessions", "audit_events", "webhooks", "deliveries", "subscriptions", "plans", "coupons",
  "tickets", "comments", "attachments", "labels", "milestones", "releases", "deployments", "environments", "secrets", "tokens",
  "reports", "dashboards", "widgets", "notifications", "preferences", "devices", "locations", "regions", "currencies", "taxes",
];

/** Small deterministic PRNG (mulberry32): the same seed gives the same files. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pad = (n: number, w = 2) => String(n).padStart(w, "0");
const version = (d: Date) =>
  `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}`;
const singular = (name: string) =>
  name.endsWith("ies") ? `${name.slice(0, -3)}y` : name.endsWith("xes") ? name.slice(0, -2) : name.endsWith("s") ? name.slice(0, -1) : name;
const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;

type Step = { name: string; up: string; down: string };

export function generateMigrations(count: number, seed = 42): GeneratedHistory {
  const rand = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const tables: Table[] = [];
  let nounRound = 0;

  function newTableName(): string {
    const free = NOUNS.filter((n) => !tables.some((t) => t.name === (nounRound ? `${n}_${nounRound}` : n)));
    if (free.length === 0) {
      nounRound++;
      return newTableName();
    }
    const base = pick(free);
    return nounRound ? `${base}_${nounRound}` : base;
  }

  function createTable(): Step {
    const name = newTableName();
    const extra = COLUMN_POOL.filter(() => rand() < 0.3).slice(0, 6);
    const columns = [
      "id bigint generated always as identity primary key",
      "name text not null",
      ...extra.map(([c, def]) => `${c} ${def}`),
      "created_at timestamptz not null default now()",
      "updated_at timestamptz not null default now()",
      `constraint ${name}_name_key unique (name)`,
    ];
    tables.push({ name, columns: new Set(["id", "name", "created_at", "updated_at", ...extra.map(([c]) => c)]), indexes: new Set(), hasTrigger: false, hasView: false });
    return {
      name: `create_${name}`,
      up: `create table ${name} (\n  ${columns.join(",\n  ")}\n);\n\ncomment on table ${name} is ${quote(`One row per ${singular(name).replace(/_/g, " ")}.`)};`,
      down: `drop table ${name};`,
    };
  }

  function addColumn(t: Table): Step {
    const free = COLUMN_POOL.filter(([c]) => !t.columns.has(c));
    const [col, def] = free.length ? pick(free) : [`note_${t.columns.size}`, "text"];
    t.columns.add(col);
    return { name: `add_${col}_to_${t.name}`, up: `alter table ${t.name} add column ${col} ${def};`, down: `alter table ${t.name} drop column ${col};` };
  }

  function createIndex(t: Table): Step | null {
    const cols = [...t.columns].filter((c) => c !== "id" && c !== "name" && !t.indexes.has(c));
    if (cols.length === 0) return null;
    const col = pick(cols);
    t.indexes.add(col);
    const index = `${t.name}_${col}_idx`.slice(0, 63);
    const gin = col === "settings" || col === "tags";
    const partial = !gin && t.columns.has("deleted_at") && col !== "deleted_at" ? " where deleted_at is null" : "";
    const using = gin ? " using gin" : "";
    const key = !gin && col !== "created_at" && rand() < 0.4 ? `${col}, created_at desc` : col;
    return {
      name: `index_${t.name}_${col}`,
      up: `create index ${index} on ${t.name}${using} (${key})${partial};`,
      down: `drop index ${index};`,
    };
  }

  function addForeignKey(from: Table, to: Table): Step | null {
    const col = `${singular(to.name)}_id`;
    if (from.columns.has(col)) return null;
    from.columns.add(col);
    from.indexes.add(col);
    const fk = `${from.name}_${col}_fkey`.slice(0, 63);
    const index = `${from.name}_${col}_idx`.slice(0, 63);
    return {
      name: `add_${from.name}_${col}`,
      up: [
        `alter table ${from.name} add column ${col} bigint;`,
        `alter table ${from.name} add constraint ${fk} foreign key (${col}) references ${to.name} (id) on delete set null;`,
        `create index ${index} on ${from.name} (${col});`,
      ].join("\n"),
      down: [`drop index ${index};`, `alter table ${from.name} drop constraint ${fk};`, `alter table ${from.name} drop column ${col};`].join("\n"),
    };
  }

  function seedRows(t: Table, v: string): Step {
    const names = Array.from({ length: 3 + Math.floor(rand() * 4) }, (_, i) => `${singular(t.name)} ${v}-${i + 1}`);
    const withPriority = t.columns.has("priority");
    const rows = names.map((n, i) => (withPriority ? `(${quote(n)}, ${(i * 7) % 100})` : `(${quote(n)})`));
    return {
      name: `seed_${t.name}`,
      up: `insert into ${t.name} (name${withPriority ? ", priority" : ""}) values\n  ${rows.join(",\n  ")};`,
      down: `delete from ${t.name} where name in (${names.map(quote).join(", ")});`,
    };
  }

  function touchTrigger(t: Table): Step {
    t.hasTrigger = true;
    const fn = `${t.name}_touch_updated_at`;
    return {
      name: `add_${t.name}_updated_at_trigger`,
      up: [
        `create function ${fn}() returns trigger`,
        "language plpgsql as $$",
        "begin",
        "  new.updated_at := now();",
        "  return new;",
        "end;",
        "$$;",
        "",
        `create trigger ${fn} before update on ${t.name}`,
        `  for each row execute function ${fn}();`,
      ].join("\n"),
      down: `drop trigger ${fn} on ${t.name};\ndrop function ${fn}();`,
    };
  }

  function recentView(t: Table): Step {
    t.hasView = true;
    const view = `recent_${t.name}`;
    return {
      name: `create_${view}_view`,
      up: `create view ${view} as\n  select id, name, created_at\n    from ${t.name}\n   where created_at > now() - interval '30 days';`,
      down: `drop view ${view};`,
    };
  }

  /** One migration, chosen by weight; falls back to a new table when a kind does not fit yet. */
  function nextStep(v: string): Step {
    if (tables.length < 3) return createTable();
    const r = rand();
    const t = pick(tables);
    if (r < 0.18) return createTable();
    if (r < 0.46) return addColumn(t);
    if (r < 0.66) return createIndex(t) ?? addColumn(t);
    if (r < 0.78) {
      const other = pick(tables.filter((x) => x !== t));
      return addForeignKey(t, other) ?? addColumn(t);
    }
    if (r < 0.9) return seedRows(t, v);
    if (r < 0.96) return t.hasTrigger ? (createIndex(t) ?? addColumn(t)) : touchTrigger(t);
    return t.hasView ? seedRows(t, v) : recentView(t);
  }

  const migrations: GeneratedMigration[] = [];
  let at = Date.UTC(2023, 0, 2, 9, 0, 0);
  for (let i = 0; i < count; i++) {
    // Between 10 minutes and ~2 days apart, on whole seconds.
    at += (600 + Math.floor(rand() * 170_000)) * 1000;
    const v = version(new Date(at));
    const step = nextStep(v);
    migrations.push({ file: `${v}_${step.name}.sql`, text: `-- migrate:up\n${step.up}\n\n-- migrate:down\n${step.down}\n` });
  }
  return { migrations, tables: tables.length };
}
