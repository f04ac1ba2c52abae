// --ping and --notify: tell a monitor that a run started, succeeded or failed
// (healthchecks.io style, Uptime Kuma push and Cronitor telemetry URLs too), and
// POST the --json outcome to a webhook when the run ends. A report that fails
// never fails the command: it is a warning on the event stream and in --json.
//
// The URLs may carry a secret token: they are registered with the redactor (so
// the history row and every message show *** instead), printed as scheme and
// host only, and never given to a child process.

import { brand, envName } from "../brand.ts";
import type { Interrupt } from "../core/cancel.ts";
import type { Emit } from "../core/events.ts";
import { UsageError } from "../core/errors.ts";
import type { Redactor } from "../core/redact.ts";
import type { Args } from "./flags.ts";


/** Each request gives up after this long; the command goes on. */
export const ALERT_TIMEOUT_MS = 10_000;
/** After an interrupt, the failure report gets this long (a second signal exits at once). */
export const ALERT_TIMEOUT_INTERRUPTED_MS = 2_000;
/** A summary longer than this is cut (it goes into a query string for Kuma and Cronitor). */
const SUMMARY_MAX = 500;

export interface AlertTargets {
  ping: URL | null;
  notify: URL | null;
}

/** `https://hc-ping.com`: what may be shown of a URL that can hold a token. */
export const describeUrl = (u: URL): string => `${u.protocol}//${u.host}`;

function parseTarget(value: string | undefined, source: string, secrets: Redactor): URL | null {
  if (value === undefined || value === "") return null;
  // Registered before anything can echo it: the whole URL, and each long part of its path and query (tokens).
  secrets.push(value);
  secrets.addUrl(value);
  let u: URL | null = null;
  try {
    u = new URL(value);
  } catch {
    // reported below, without the value
  }
  if (u) secrets.push(...`${u.pathname}${u.search}`.split(/[/?&=#]/).filter((p) => p.length >= 12));
  if (!u || (u.protocol !== "http:" && u.protocol !== "https:")) {
    throw new UsageError(`${source} is not an http:// or https:// URL`, "give the full URL the monitoring service shows, e.g. https://hc-ping.com/<uuid>");
  }
  return u;
}

/** --ping / --notify, else PGSHIP_PING_URL / PGSHIP_NOTIFY_URL; null when neither is set. */
export function alertTargets(a: Args, e: Record<string, string | undefined>, secrets: Redactor): AlertTargets | null {
  const pick = (flag: string, variable: string): [string | undefined, string] =>
    a[flag] !== undefined ? [String(a[flag]), `--${flag}`] : [e[variable], variable];
  const ping = parseTarget(...pick("ping", envName("PING_URL")), secrets);
  const notify = parseTarget(...pick("notify", envName("NOTIFY_URL")), secrets);
  return ping || notify ? { ping, notify } : null;
}

export type PingKind = "start" | "success" | "fail";

export interface PingRequest {
  url: URL;
  method: "GET" | "POST";
  /** The summary as the request body (healthchecks stores it with the ping). */
  body?: string;
}

/**
 * The request that reports `kind`, or null when the service has no such report:
 * - Uptime Kuma push URLs (`…/api/push/<token>?status=up&msg=OK&ping=`): no start;
 *   `status=up|down`, `msg` = the summary, `ping` = the duration in ms; the other
 *   query parameters are kept.
 * - Cronitor telemetry URLs (host cronitor.link): `state=run|complete|fail`,
 *   `message` = the summary, `series` pairs the start with its end.
 * - Anything else, the healthchecks.io convention: POST the summary to `URL/start`,
 *   `URL` and `URL/fail`, the suffix added to the path before any query string
 *   (so `?create=1` keeps working), `rid` pairing the start with its end.
 */
export function pingRequest(base: URL, kind: PingKind, summary: string, run: { id: string; durationMs: number }): PingRequest | null {
  const url = new URL(base.href);
  const text = summary.length > SUMMARY_MAX ? `${summary.slice(0, SUMMARY_MAX - 1)}…` : summary;
  if (/\/api\/push\/[^/]+\/?$/.test(url.pathname)) {
    if (kind === "start") return null;
    url.searchParams.set("status", kind === "success" ? "up" : "down");
    url.searchParams.set("msg", text);
    url.searchParams.set("ping", String(run.durationMs));
    return { url, method: "GET" };
  }
  if (url.hostname === "cronitor.link" || url.hostname.endsWith(".cronitor.link")) {
    url.searchParams.set("state", kind === "start" ? "run" : kind === "success" ? "complete" : "fail");
    url.searchParams.set("message", text);
    url.searchParams.set("series", run.id);
    return { url, method: "GET" };
  }
  if (kind !== "success") url.pathname = `${url.pathname.replace(/\/+$/, "")}/${kind}`;
  url.searchParams.set("rid", run.id);
  return { url, method: "POST", body: text };
}

/** Sends one request; returns what went wrong (secret-free), or null. */
async function send(url: URL, init: { method: string; body?: string; headers?: Record<string, string> }, interrupt: Interrupt): Promise<string | null> {
  // A request in flight when the signal lands is dropped; after it, the failure report gets a short while.
  const late = interrupt.interrupted;
  const timeoutMs = late ? ALERT_TIMEOUT_INTERRUPTED_MS : ALERT_TIMEOUT_MS;
  const signal = late ? AbortSignal.timeout(timeoutMs) : AbortSignal.any([AbortSignal.timeout(timeoutMs), interrupt.signal]);
  try {
    const res = await fetch(url, { ...init, headers: { "user-agent": `${brand.binary}/${brand.version}`, ...init.headers }, signal });
    await res.arrayBuffer().catch(() => undefined);
    return res.ok ? null : `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ""}`;
  } catch (e) {
    if (signal.aborted) return !late && interrupt.interrupted ? "interrupted" : `no answer within ${timeoutMs / 1000} s`;
    const err = e as { code?: unknown; message?: unknown };
    const message = String(err.message ?? e).split("\n")[0]!;
    return typeof err.code === "string" && /^\w+$/.test(err.code) && !message.includes(err.code) ? `${err.code}: ${message}` : message;
  }
}

/** One run's reports: start, then success or failure, then the outcome to --notify. */
export class Alerts {
  readonly warnings: string[] = [];
  private readonly id = crypto.randomUUID();
  private readonly t0 = Date.now();

  constructor(
    private readonly targets: AlertTargets,
    private readonly emit: Emit,
    private readonly interrupt: Interrupt,
    private readonly secrets: Redactor,
  ) {}

  /** The `alerts` member of the --json document. */
  get json(): { ping: string | null; notify: string | null; warnings: string[] } {
    const { ping, notify } = this.targets;
    return { ping: ping && describeUrl(ping), notify: notify && describeUrl(notify), warnings: this.warnings };
  }

  private warn(what: string, url: URL, why: string): void {
    const message = this.secrets.scrub(`${what} to ${describeUrl(url)} failed: ${why} (the command itself is not affected)`);
    this.warnings.push(message);
    this.emit({ type: "warn", message });
  }

  async ping(kind: PingKind, summary: string): Promise<void> {
    if (!this.targets.ping) return;
    const req = pingRequest(this.targets.ping, kind, this.secrets.scrub(summary), { id: this.id, durationMs: Date.now() - this.t0 });
    if (!req) return;
    const headers: Record<string, string> = req.body === undefined ? {} : { "content-type": "text/plain; charset=utf-8" };
    const why = await send(req.url, { method: req.method, body: req.body, headers }, this.interrupt);
    if (why) this.warn(`--ping ${kind}`, this.targets.ping, why);
  }

  /** POSTs the document --json prints (already scrubbed). */
  async notify(doc: unknown): Promise<void> {
    if (!this.targets.notify) return;
    const why = await send(this.targets.notify, { method: "POST", body: JSON.stringify(doc), headers: { "content-type": "application/json" } }, this.interrupt);
    if (why) this.warn("--notify", this.targets.notify, why);
  }
}

/** One line for a monitor's log: `<binary> backup: Backup written: …` or `<binary> up: error: … (exit 1)`. */
export function summaryLine(command: string, text: string, exitCode: number): string {
  const first = text.split("\n").map((l) => l.trim()).find(Boolean) ?? "done";
  return `${brand.binary} ${command}: ${first}${exitCode === 0 ? "" : ` (exit ${exitCode})`}`;
}
