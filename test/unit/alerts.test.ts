// Which request reports a run's start, success or failure, per monitoring service.

import { describe, expect, test } from "bun:test";
import { pingRequest, summaryLine } from "../../src/cli/alerts.ts";

const run = { id: "0b8e2f9a-1c3d-4e5f-8a7b-6c5d4e3f2a1b", durationMs: 4200 };
const req = (url: string, kind: "start" | "success" | "fail", summary = "pgship backup: done") => pingRequest(new URL(url), kind, summary, run);

describe("pingRequest", () => {
  test("healthchecks: POST the summary to URL/start, URL and URL/fail, the suffix before the query string", () => {
    const base = "https://hc-ping.com/KEY/db-backup?create=1";
    expect(req(base, "start")).toEqual({ url: new URL(`https://hc-ping.com/KEY/db-backup/start?create=1&rid=${run.id}`), method: "POST", body: "pgship backup: done" });
    expect(req(base, "success")!.url.href).toBe(`https://hc-ping.com/KEY/db-backup?create=1&rid=${run.id}`);
    expect(req("https://hc.example.org/ping/uuid/", "fail")!.url.href).toBe(`https://hc.example.org/ping/uuid/fail?rid=${run.id}`);
  });

  test("Uptime Kuma push: no start; status, msg and ping replace the URL's own, other parameters kept", () => {
    const base = "https://kuma.example.org/api/push/Tok3n?status=up&msg=OK&ping=&x=1";
    expect(req(base, "start")).toBeNull();
    const fail = req(base, "fail", "pgship up: error: boom (exit 1)")!;
    expect(fail.method).toBe("GET");
    expect(fail.url.pathname).toBe("/api/push/Tok3n");
    expect(Object.fromEntries(fail.url.searchParams)).toEqual({ status: "down", msg: "pgship up: error: boom (exit 1)", ping: "4200", x: "1" });
    expect(req(base, "success")!.url.searchParams.get("status")).toBe("up");
  });

  test("Cronitor telemetry: state=run|complete|fail with the message and a series id", () => {
    const base = "https://cronitor.link/p/APIKEY/nightly-backup";
    const states = (["start", "success", "fail"] as const).map((k) => req(base, k)!);
    expect(states.map((r) => r.url.searchParams.get("state"))).toEqual(["run", "complete", "fail"]);
    expect(states.every((r) => r.method === "GET" && r.url.pathname === "/p/APIKEY/nightly-backup" && r.url.searchParams.get("series") === run.id)).toBe(true);
    expect(states[2]!.url.searchParams.get("message")).toBe("pgship backup: done");
  });

  test("a long summary is cut", () => {
    expect(req("https://hc-ping.com/x", "success", "x".repeat(2000))!.body!.length).toBe(500);
  });
});

test("summaryLine: the first non-empty line, with the exit code when it is not 0", () => {
  expect(summaryLine("verify", "\napp at 1: compared.\n\nmore", 4)).toBe("pgship verify: app at 1: compared. (exit 4)");
  expect(summaryLine("backup", "Backup written: /b/x.dump\n  1 MB", 0)).toBe("pgship backup: Backup written: /b/x.dump");
});
