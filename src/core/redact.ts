// The one redactor: every secret pgship learns (database passwords, passphrases,
// age identities) is registered here, and every text meant for people or for
// storage (log lines, results, --json documents, error messages and hints,
// history rows) goes through `scrub` before it leaves the process.
//
// Policy, decided here once:
// - Redaction never depends on a URL parsing. `addUrl` registers every plausible
//   password of a raw URL (userinfo up to the LAST '@', and up to the first '@'),
//   and `redactUrl` prints a URL whose userinfo is ambiguous (an '@', '/', '?' or
//   '#' before its last '@') as `scheme://***@rest`, so no fragment of an
//   unencoded password survives.
// - Secret-bearing input is never echoed: URLs are shown through `redactUrl`, the
//   contents of passphrase and identity files are never put in messages.
// - Database passwords (`add`, `addUrl`) can come back in server and driver
//   messages, so they are scrubbed from MIN_SECRET characters on: as whole tokens
//   (not inside a longer word) below ANYWHERE characters, wherever they occur from
//   ANYWHERE on. Shorter ones cannot be told apart from ordinary words ("is", "a"):
//   scrubbing them would mangle every message ("the passphrase *** wrong") while
//   hiding nothing.
// - Secrets read from files (`push`: passphrases, age identities) are never echoed
//   by pgship nor by age, so they are scrubbed only from ANYWHERE characters on, as
//   a second line of defence that cannot turn a short passphrase such as "wrong"
//   into "the passphrase is ***".

const MIN_SECRET = 4;
const ANYWHERE = 12;
const MASK = "***";

/** Where code that reads secrets from files (passphrases, identities) registers them. */
export interface SecretSink {
  push(...secrets: string[]): unknown;
}

const isWordChar = (c: string | undefined) => c !== undefined && /[\p{L}\p{N}_]/u.test(c);

/** Replaces `s` where it is not part of a longer word. */
function replaceTokens(text: string, s: string): string {
  const guardStart = isWordChar(s[0]);
  const guardEnd = isWordChar(s[s.length - 1]);
  let out = "";
  let from = 0;
  for (;;) {
    const at = text.indexOf(s, from);
    if (at < 0) break;
    const end = at + s.length;
    const whole = (!guardStart || !isWordChar(text[at - 1])) && (!guardEnd || !isWordChar(text[end]));
    if (whole) {
      out += text.slice(from, at) + MASK;
      from = end;
    } else {
      out += text.slice(from, at + 1);
      from = at + 1;
    }
  }
  return out + text.slice(from);
}

/** The forms a secret takes in text: as is, percent-encoded, percent-decoded. */
function variants(secret: string): string[] {
  const out = new Set([secret, encodeURIComponent(secret)]);
  // WHATWG URL encodes fewer characters in the userinfo than encodeURIComponent.
  out.add(secret.replace(/[\s"#<>?`{}/:;=@[\\\]^|%]/g, (c) => encodeURIComponent(c)));
  try {
    out.add(decodeURIComponent(secret));
  } catch {
    // not percent-encoded
  }
  return [...out];
}

const SCHEME = /^([a-z][a-z0-9+.-]*:\/\/)([\s\S]*)$/i;

/** Every string that may be a password in a raw URL, however malformed the URL is. */
export function urlSecretCandidates(raw: string): string[] {
  const m = SCHEME.exec(raw.trim());
  if (!m) return [];
  const rest = m[2]!;
  const out: string[] = [];
  const userinfos: string[] = [];
  const lastAt = rest.lastIndexOf("@");
  if (lastAt >= 0) userinfos.push(rest.slice(0, lastAt));
  const firstAt = rest.indexOf("@");
  if (firstAt >= 0) userinfos.push(rest.slice(0, firstAt));
  // What a URL parser sees: the authority ends at the first / ? #, its last '@' ends the userinfo.
  const authority = rest.split(/[/?#]/, 1)[0]!;
  const authAt = authority.lastIndexOf("@");
  if (authAt >= 0) userinfos.push(authority.slice(0, authAt));
  for (const u of userinfos) {
    const colon = u.indexOf(":");
    if (colon < 0) continue; // a user name alone is not a secret
    out.push(u, u.slice(colon + 1));
  }
  for (const q of rest.matchAll(/[?&]password=([^&#\s]*)/gi)) out.push(q[1]!);
  return out;
}

/** postgres://user:secret@host/db -> postgres://user:***@host/db; ambiguous userinfo -> postgres://***@host/db */
export function redactUrl(url: string): string {
  const m = SCHEME.exec(url);
  if (!m) return url;
  let rest = m[2]!;
  const at = rest.lastIndexOf("@");
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    const after = rest.slice(at + 1);
    const colon = userinfo.indexOf(":");
    if (/[@/?#\s]/.test(userinfo)) rest = `${MASK}@${after}`;
    else if (colon >= 0) rest = `${userinfo.slice(0, colon)}:${MASK}@${after}`;
  } else {
    // No '@': "user:password" with the host forgotten looks like host:port.
    rest = rest.replace(/^(?!\[)([^/?#:]*):(?!\d*(?:[/?#]|$))[^/?#]*/, `$1:${MASK}`);
  }
  return m[1] + rest.replace(/([?&]password=)[^&#\s]*/gi, `$1${MASK}`);
}

/** Every URL with credentials in a text, redacted (a URL ends at white space). */
function redactUrlsIn(text: string): string {
  // Most text holds no URL: skip the regular expression (a status table is tens of KB).
  if (!text.includes("://")) return text;
  return text.replace(/[a-z][a-z0-9+.-]*:\/\/\S*/gi, (u) => (u.includes("@") || /password=/i.test(u) ? redactUrl(u) : u));
}

export class Redactor implements SecretSink {
  readonly #secrets = new Set<string>();

  /** Registers a database password (and its percent-encoded forms). */
  add(secret: string | null | undefined, minLength = MIN_SECRET): this {
    if (!secret) return this;
    for (const v of variants(secret)) if (v.length >= minLength) this.#secrets.add(v);
    return this;
  }

  /** Registers secrets read from files, which are never echoed (see the policy above). */
  push(...secrets: string[]): number {
    for (const s of secrets) this.add(s, ANYWHERE);
    return this.#secrets.size;
  }

  /** Registers every password candidate of a raw URL; not a URL: nothing. */
  addUrl(raw: string | null | undefined): this {
    if (raw) for (const c of urlSecretCandidates(raw)) this.add(c);
    return this;
  }

  scrub(text: string): string {
    let out = text;
    const longestFirst = [...this.#secrets].sort((a, b) => b.length - a.length);
    for (const s of longestFirst) out = s.length >= ANYWHERE ? out.split(s).join(MASK) : replaceTokens(out, s);
    return redactUrlsIn(out);
  }

  /** Scrubs every string of a value as JSON would print it (class instances, dates and all). */
  scrubValue<T>(value: T): T {
    if (value === undefined) return value;
    const walk = (v: unknown): unknown => {
      if (typeof v === "string") return this.scrub(v);
      if (Array.isArray(v)) return v.map(walk);
      if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
      return v;
    };
    return walk(JSON.parse(JSON.stringify(value))) as T;
  }
}

/**
 * The process's redactor, seeded with what the command line and environment may
 * hold: URL-looking arguments, DATABASE_URL and PGPASSWORD.
 */
export const redactor = new Redactor();

export function seedRedactor(r: Redactor, argv: string[], env: Record<string, string | undefined>): Redactor {
  for (const a of argv) r.addUrl(a.replace(/^--database-url=/, ""));
  r.addUrl(env.DATABASE_URL);
  r.add(env.PGPASSWORD);
  // S3 credentials (only ever read from the environment).
  r.add(env.AWS_SECRET_ACCESS_KEY);
  r.add(env.AWS_SESSION_TOKEN);
  return r;
}
