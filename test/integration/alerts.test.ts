// --ping and --notify, run for real: the compiled binary against a real database
// reports to a loopback HTTP server started here, which records every request.
// A report that fails never fails the command; the URL's token is never printed.

import { afterAll, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { createDb, migrationsDir, noStackTrace, pgship, spawnPgship, tempDir, testWithPgDump, until, type TestDb } from "../harness/env.ts";

const TOKEN = "5f3c9a2e-7b41-4d0e-9a6c-3e2f1b8d7c60";
const HOOK_TOKEN = "hook-secret-0c1d2e3f4a5b6c7d";

interface Hit {
  method: string;
  path: string;
  query: URLSearchParams;
  body: string;
  contentType: string | null;
}

const servers: { stop(force?: boolean): unknown }[] = [];
afterAll(() => servers.forEach((s) => s.stop(true)));

/** A monitoring service on loopback that records what it is sent (`hang`: never answers those paths). */
function monitor(opts: { hang?: (path: string) => boolean; status?: number } = {}) {
  const hits: Hit[] = [];
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const u = new URL(req.url);
      hits.push({ method: req.method, path: u.pathname, query: u.searchParams, body: await req.text(), contentType: req.headers.get("content-type") });
      if (opts.hang?.(u.pathname)) await new Promise(() => undefined);
      return new Response(opts.status ? "nope" : "OK", { status: opts.status ?? 200 });
    },
  });
  servers.push(server);
  return { hits, origin: `http://127.0.0.1:${server.port}`, url: (path: string) => `http://127.0.0.1:${server.port}${path}` };
}

/** A port nothing listens on. */
function closedPort(): number {
  const s = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("") });
  const port = s.port!;
  s.stop(true);
  return port;
}

const dbs: TestDb[] = [];
afterAll(async () => {
  for (const d of dbs) await d.sql.end();
});
async function installedDb(): Promise<TestDb> {
  const d = await createDb("alerts");
  dbs.push(d);
  const r = await pgship(["up"], { env: { DATABASE_URL: d.url } });
  if (r.code !== 0) throw new Error(r.stderr);
  return d;
}

const noSecrets = (r: { stdout: string; stderr: string }) => {
  expect(r.stdout).not.toContain(TOKEN);
  expect(r.stderr).not.toContain(TOKEN);
  expect(r.stdout).not.toContain(HOOK_TOKEN);
  expect(r.stderr).not.toContain(HOOK_TOKEN);
};

describe("--ping / --notify", () => {
  testWithPgDump("backup: /start, then success with the summary; --notify gets the --json outcome; the token is never printed", async () => {
    const d = await installedDb();
    const m = monitor();
    const dir = tempDir();
    const r = await pgship(["backup", "--dir", dir, "--json", "--ping", m.url(`/${TOKEN}`), "--notify", m.url(`/hook/${HOOK_TOKEN}`)], { env: { DATABASE_URL: d.url } });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    noSecrets(r);
    const out = JSON.parse(r.stdout);
    expect(out.alerts).toEqual({ ping: m.origin, notify: m.origin, warnings: [] });
    expect(m.hits.map((h) => `${h.method} ${h.path}`)).toEqual([`POST /${TOKEN}/start`, `POST /${TOKEN}`, `POST /hook/${HOOK_TOKEN}`]);
    const [start, success, hook] = m.hits as [Hit, Hit, Hit];
    expect(start.body).toBe("pgship backup: started");
    expect(success.body).toBe(`pgship backup: Backup written: ${out.file}`);
    // One run id pairs the start with its end (healthchecks measures the duration).
    expect(start.query.get("rid")).toMatch(/^[0-9a-f-]{36}$/);
    expect(success.query.get("rid")).toBe(start.query.get("rid"));
    expect(hook.contentType).toBe("application/json");
    expect(JSON.parse(hook.body)).toEqual(out);

    // Text output: the same reports, nothing about the URL but its host.
    const text = await pgship(["backup", "--dir", dir, "--verbose", "--ping", m.url(`/${TOKEN}`)], { env: { DATABASE_URL: d.url } });
    expect(text.code).toBe(0);
    noSecrets(text);
    expect(m.hits.slice(3).map((h) => h.path)).toEqual([`/${TOKEN}/start`, `/${TOKEN}`]);
    expect(readdirSync(dir).filter((f) => f.endsWith(".dump"))).toHaveLength(2);
  });

  test("a failing migration: /start, then /fail with the error; the history row does not hold the token", async () => {
    const d = await createDb("alerts");
    dbs.push(d);
    const dir = migrationsDir({
      "20250101000000_a.sql": "-- migrate:up\ncreate table a (id int);\n",
      "20250102000000_bad.sql": "-- migrate:up\nselect 1 / 0;\n",
    });
    const m = monitor();
    const r = await pgship(["up", "--migrations-dir", dir, "--json", "--ping", m.url(`/${TOKEN}`), "--notify", m.url(`/hook/${HOOK_TOKEN}`)], { env: { DATABASE_URL: d.url } });
    expect(r.code).toBe(1);
    noSecrets(r);
    expect(noStackTrace(r.stderr)).toBe(true);
    const out = JSON.parse(r.stdout);
    expect(out.error.code).toBe("migration_failed");
    expect(m.hits.map((h) => h.path)).toEqual([`/${TOKEN}/start`, `/${TOKEN}/fail`, `/hook/${HOOK_TOKEN}`]);
    expect(m.hits[1]!.body).toStartWith("pgship up: error: ");
    expect(m.hits[1]!.body).toContain("division by zero");
    expect(m.hits[1]!.body).toEndWith("(exit 1)");
    expect(m.hits[1]!.body).not.toContain("\n");
    expect(JSON.parse(m.hits[2]!.body)).toEqual(out);
    const history = await d.sql<{ args: string }[]>`select args from pgship.history`;
    expect(history.length).toBeGreaterThan(0);
    for (const h of history) {
      expect(h.args).not.toContain(TOKEN);
      expect(h.args).toContain("--ping ***");
    }
  });

  test("an unreachable database: /start, then /fail; --notify gets the error document", async () => {
    const m = monitor();
    const r = await pgship(["backup", "--dir", tempDir(), "--json", "--ping", m.url(`/${TOKEN}`), "--notify", m.url("/hook")], { env: { DATABASE_URL: `postgres://app:pw@127.0.0.1:${closedPort()}/app` } });
    expect(r.code).toBe(1);
    noSecrets(r);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ ok: false, error: { code: "connect_failed", exitCode: 1 }, alerts: { warnings: [] } });
    expect(m.hits.map((h) => h.path)).toEqual([`/${TOKEN}/start`, `/${TOKEN}/fail`, "/hook"]);
    expect(m.hits[1]!.body).toMatch(/^pgship backup: error: connection refused by 127\.0\.0\.1:\d+ \(exit 1\)$/);
    expect(JSON.parse(m.hits[2]!.body)).toEqual(out);
  });

  test("the monitor is down: the command still succeeds, with a warning on stderr and in --json (PGSHIP_PING_URL)", async () => {
    const d = await installedDb();
    const port = closedPort();
    const r = await pgship(["verify", "--json"], { env: { DATABASE_URL: d.url, PGSHIP_PING_URL: `http://127.0.0.1:${port}/${TOKEN}` } });
    expect(r.code).toBe(0);
    noSecrets(r);
    const out = JSON.parse(r.stdout);
    expect(out.ok).toBe(true);
    expect(out.alerts.ping).toBe(`http://127.0.0.1:${port}`);
    expect(out.alerts.warnings).toHaveLength(2);
    expect(out.alerts.warnings[0]).toStartWith(`--ping start to http://127.0.0.1:${port} failed: `);
    expect(out.alerts.warnings[1]).toStartWith(`--ping success to http://127.0.0.1:${port} failed: `);
    expect(r.stderr).toContain(`warning: --ping start to http://127.0.0.1:${port} failed`);
    expect(r.stderr).toContain("(the command itself is not affected)");
    // A monitor that answers with an error status: the same warning, with the status.
    const broken = monitor({ status: 500 });
    const r500 = await pgship(["verify", "--json", "--notify", broken.url(`/hook/${HOOK_TOKEN}`)], { env: { DATABASE_URL: d.url } });
    expect(r500.code).toBe(0);
    noSecrets(r500);
    expect(JSON.parse(r500.stdout).alerts).toEqual({ ping: null, notify: broken.origin, warnings: [`--notify to ${broken.origin} failed: HTTP 500 Internal Server Error (the command itself is not affected)`] });
    expect(broken.hits).toHaveLength(1);
    // --ping "" switches the variable off.
    const off = await pgship(["verify", "--json", "--ping", ""], { env: { DATABASE_URL: d.url, PGSHIP_PING_URL: `http://127.0.0.1:${port}/${TOKEN}` } });
    expect(off.code).toBe(0);
    expect(JSON.parse(off.stdout).alerts).toBeUndefined();
  });

  test("an Uptime Kuma push URL: no start, status=up|down and the summary as msg, its own parameters kept", async () => {
    const d = await installedDb();
    const m = monitor();
    const url = m.url(`/api/push/${TOKEN}?status=up&msg=OK&ping=`);
    const ok = await pgship(["verify", "--ping", url], { env: { DATABASE_URL: d.url } });
    expect(ok.code).toBe(0);
    noSecrets(ok);
    expect(m.hits).toHaveLength(1);
    expect(m.hits[0]).toMatchObject({ method: "GET", path: `/api/push/${TOKEN}` });
    expect(m.hits[0]!.query.get("status")).toBe("up");
    expect(m.hits[0]!.query.get("msg")).toStartWith("pgship verify: ");
    expect(Number(m.hits[0]!.query.get("ping"))).toBeGreaterThan(0);
    // Drift: verify exits 4, the monitor hears "down".
    await d.sql.unsafe("alter table users add column extra int");
    const drift = await pgship(["verify", "--ping", url], { env: { DATABASE_URL: d.url } });
    expect(drift.code).toBe(4);
    expect(m.hits).toHaveLength(2);
    expect(m.hits[1]!.query.get("status")).toBe("down");
    expect(m.hits[1]!.query.get("msg")).toEndWith("(exit 4)");
  });

  test("a URL that is not http(s): exit 2, one message, the value not echoed", async () => {
    for (const [args, env] of [
      [["backup", "--dir", tempDir(), "--ping", `ftp://example.org/${TOKEN}`], {}],
      [["up", "--notify", `not a url ${TOKEN}`], {}],
      [["update"], { PGSHIP_PING_URL: `hc-ping.com/${TOKEN}` }],
    ] as [string[], Record<string, string>][]) {
      const r = await pgship(args, { env: { DATABASE_URL: "postgres://app@127.0.0.1:1/app", ...env } });
      expect(r.code).toBe(2);
      noSecrets(r);
      expect(r.stderr).toMatch(/^error: (--ping|--notify|PGSHIP_PING_URL) is not an http:\/\/ or https:\/\/ URL\n  give the full URL/);
      expect(r.stderr.split("\n").filter((l) => l.startsWith("error:"))).toHaveLength(1);
    }
  });

  test("a ping that hangs does not hold up an interrupt: exit 130 within seconds", async () => {
    const m = monitor({ hang: () => true });
    const child = spawnPgship(["backup", "--dir", tempDir(), "--ping", m.url(`/${TOKEN}`)], { env: { DATABASE_URL: "postgres://app@127.0.0.1:1/app" } });
    let stderr = "";
    child.stderr.on("data", (c) => (stderr += c));
    const exited = new Promise<number>((resolve) => child.on("close", (code) => resolve(code ?? -1)));
    await until(async () => m.hits.length > 0, 10_000, "the start ping");
    const t0 = Date.now();
    child.kill("SIGINT");
    expect(await exited).toBe(130);
    // The failure report after the interrupt gets 2 s at most.
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(stderr).toContain("--ping start to");
    expect(stderr).not.toContain(TOKEN);
  });
});
