import { describe, expect, test } from "bun:test";
import { diffModels, renderFindings } from "../../src/catalog/diff.ts";
import { emptyModel, stableStringify, type Model, type Table } from "../../src/catalog/model.ts";
import { ident, planRepairs } from "../../src/catalog/repair.ts";

const table = (patch: Partial<Table> = {}): Table => ({
  kind: "r", partitionKey: null, partitionOf: null, rowSecurity: false, forceRowSecurity: false,
  columns: {
    id: { type: "bigint", notNull: true, default: null, identity: "a", generated: "", collation: null },
    email: { type: "text", notNull: true, default: null, identity: "", generated: "", collation: null },
    note: { type: "text", notNull: true, default: "''::text", identity: "", generated: "", collation: null },
  },
  constraints: { users_pkey: { type: "p", definition: "PRIMARY KEY (id)" } },
  indexes: {
    users_pkey: { definition: "CREATE UNIQUE INDEX users_pkey ON public.users USING btree (id)", valid: true, constraint: true },
    users_email_idx: { definition: "CREATE INDEX users_email_idx ON public.users USING btree (email)", valid: true, constraint: false },
  },
  triggers: {},
  policies: {},
  ...patch,
});
const model = (t: Table = table(), extra: Partial<Model> = {}): Model => ({ ...emptyModel(15), schemas: ["public"], tables: { "public.users": t }, enums: { "public.mood": ["sad", "ok", "happy"] }, ...extra });
const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x));

describe("diffModels", () => {
  test("identical models: no findings", () => expect(diffModels(model(), model())).toEqual([]));

  test("missing, extra, changed and invalid, grouped by owner", () => {
    const actual = clone(model());
    const users = actual.tables["public.users"]!;
    delete users.columns.email;
    users.columns.extra = { type: "int", notNull: false, default: null, identity: "", generated: "", collation: null };
    users.columns.note!.default = null;
    users.indexes.users_email_idx!.valid = false;
    actual.enums["public.mood"] = ["sad", "ok"];
    const f = diffModels(model(), actual).map((x) => `${x.kind} ${x.type} ${x.name}${x.attribute ? ` ${x.attribute}` : ""}`);
    expect(f).toEqual([
      "missing enum value public.mood.'happy'",
      "missing column public.users.email",
      "extra column public.users.extra",
      "changed column public.users.note default",
      "invalid index public.users.users_email_idx",
    ]);
    expect(renderFindings(diffModels(model(), actual))).toContain("public.users\n  missing column email: text not null\n  extra column extra: int\n");
  });

  test("indexes behind constraints are reported through the constraint", () => {
    const actual = clone(model());
    delete actual.tables["public.users"]!.constraints.users_pkey;
    delete actual.tables["public.users"]!.indexes.users_pkey;
    expect(diffModels(model(), actual).map((x) => `${x.kind} ${x.type}`)).toEqual(["missing constraint"]);
  });

  test("whitespace in function and view definitions is not drift", () => {
    const fn = (def: string) => model(table(), { functions: { "public.f()": { kind: "f", definition: def } } });
    expect(diffModels(fn("CREATE FUNCTION f()\n  RETURNS int AS $$ select 1 $$"), fn("CREATE FUNCTION f() RETURNS int AS $$ select 1 $$"))).toEqual([]);
  });
});

describe("planRepairs", () => {
  test("additive drift is repaired; drops and type changes are left for a person", () => {
    const actual = clone(model());
    const users = actual.tables["public.users"]!;
    delete users.columns.note;
    delete users.columns.email;
    users.columns.id!.type = "integer";
    users.columns.extra = { type: "int", notNull: false, default: null, identity: "", generated: "", collation: null };
    actual.enums["public.mood"] = ["sad", "happy"];
    const plan = planRepairs(diffModels(model(), actual), model());
    expect(plan.repairs.map((r) => r.sql)).toEqual([
      "ALTER TYPE public.mood ADD VALUE IF NOT EXISTS 'ok' AFTER 'sad';",
      "ALTER TABLE public.users ADD COLUMN email text;",
      "ALTER TABLE public.users ADD COLUMN note text DEFAULT ''::text NOT NULL;",
      "ALTER TABLE public.users ALTER COLUMN email SET NOT NULL;",
    ]);
    expect(plan.repairs[3]!.precheck).toBe("select not exists (select 1 from public.users) as ok");
    expect(plan.manual.map((m) => m.sql)).toEqual(["ALTER TABLE public.users DROP COLUMN extra;", "ALTER TABLE public.users ALTER COLUMN id TYPE bigint USING id::bigint;"]);
  });

  test("a missing table is recreated with its constraints, indexes, triggers and policies", () => {
    const t = table({ triggers: { t_upd: "CREATE TRIGGER t_upd BEFORE UPDATE ON public.users FOR EACH ROW EXECUTE FUNCTION public.f()" }, rowSecurity: true, policies: { own: { permissive: true, roles: ["public"], command: "r", using: "(id = 1)", check: null } } });
    const plan = planRepairs(diffModels(model(t), { ...model(t), tables: {} }), model(t));
    const sql = plan.repairs.map((r) => r.sql).join("\n");
    expect(sql).toContain("CREATE TABLE public.users (\n  id bigint GENERATED ALWAYS AS IDENTITY,\n  email text NOT NULL,\n  note text DEFAULT ''::text NOT NULL\n);");
    expect(sql).toContain("ALTER TABLE public.users ADD CONSTRAINT users_pkey PRIMARY KEY (id);");
    expect(sql).toContain("CREATE INDEX IF NOT EXISTS users_email_idx ON public.users USING btree (email);");
    expect(sql).not.toContain("CREATE UNIQUE INDEX users_pkey");
    expect(sql).toContain("CREATE POLICY own ON public.users AS PERMISSIVE FOR SELECT TO PUBLIC USING ((id = 1));");
    expect(sql.indexOf("CREATE TABLE")).toBeLessThan(sql.indexOf("ADD CONSTRAINT"));
  });

  test("identifiers are quoted only when needed", () => {
    expect([ident("users"), ident("User"), ident("order"), ident('we"ird')]).toEqual(["users", '"User"', '"order"', '"we""ird"']);
  });
});

test("stableStringify sorts keys so models are byte-identical", () => {
  expect(stableStringify({ b: 1, a: { d: 2, c: 3 } })).toBe(stableStringify({ a: { c: 3, d: 2 }, b: 1 }));
});
