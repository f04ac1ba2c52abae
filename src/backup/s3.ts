// A small S3 client of our own: AWS Signature Version 4 with node:crypto and
// fetch, so it runs the same under Bun and Deno. Only what backups need:
// objects (HEAD, GET as a stream, PUT, DELETE, server-side copy), ListObjectsV2,
// multipart uploads (create, part, part copy, complete, abort, list).
//
// Credentials come from the environment only (AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), never from the command line, and
// never appear in a message: errors carry the server's error code and message,
// never a request header.

import { AsyncLocalStorage } from "node:async_hooks";
import { createHash, createHmac } from "node:crypto";
import { ExitCode, PgshipError } from "../core/errors.ts";
import { env } from "../runtime.ts";

export interface S3Config {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string | null;
  region: string;
  /** A custom endpoint (MinIO, Garage, R2 …); null: AWS. */
  endpoint: URL | null;
  /** Path-style addressing (http://host/bucket/key): the default for custom endpoints. */
  pathStyle: boolean;
}

let endpointFlag: string | null = null;

/** `--s3-endpoint URL` (beats AWS_ENDPOINT_URL). */
export function setS3Endpoint(url: string | null): void {
  endpointFlag = url;
}

function parseEndpoint(raw: string): URL {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new PgshipError("usage", `S3 endpoint "${raw}" is not a URL`, { exitCode: ExitCode.usage, hint: "e.g. --s3-endpoint http://127.0.0.1:9000 (or AWS_ENDPOINT_URL)" });
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new PgshipError("usage", `S3 endpoint "${raw}" must be an http:// or https:// URL`, { exitCode: ExitCode.usage });
  return u;
}

const scoped = new AsyncLocalStorage<Record<string, string | undefined>>();

/**
 * Runs `fn` with S3 settings (AWS_* variables) taken from `vars` alone instead of this process's
 * environment, which is left untouched: the wizard's test backup sees S3 as the scheduled runs will.
 */
export function withS3Environment<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  return scoped.run(vars, fn);
}

/** The configuration from the environment, or withS3Environment's (and --s3-endpoint); missing credentials: exit 2. */
export function s3Config(e: Record<string, string | undefined> = scoped.getStore() ?? env()): S3Config {
  const accessKeyId = e.AWS_ACCESS_KEY_ID ?? "";
  const secretAccessKey = e.AWS_SECRET_ACCESS_KEY ?? "";
  if (!accessKeyId || !secretAccessKey) {
    throw new PgshipError("s3_credentials", `no S3 credentials: ${[!accessKeyId && "AWS_ACCESS_KEY_ID", !secretAccessKey && "AWS_SECRET_ACCESS_KEY"].filter(Boolean).join(" and ")} ${!accessKeyId && !secretAccessKey ? "are" : "is"} not set`, {
      exitCode: ExitCode.usage,
      hint: "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment (for cron or systemd: in the unit's EnvironmentFile); they are never taken from the command line",
    });
  }
  const rawEndpoint = endpointFlag ?? e.AWS_ENDPOINT_URL_S3 ?? e.AWS_ENDPOINT_URL ?? null;
  const endpoint = rawEndpoint ? parseEndpoint(rawEndpoint) : null;
  return {
    accessKeyId,
    secretAccessKey,
    sessionToken: e.AWS_SESSION_TOKEN || null,
    region: e.AWS_REGION || e.AWS_DEFAULT_REGION || "us-east-1",
    endpoint,
    pathStyle: endpoint !== null,
  };
}

const sha256Hex = (data: Uint8Array | string) => createHash("sha256").update(data).digest("hex");
const hmac = (key: Uint8Array | string, data: string) => createHmac("sha256", key).update(data).digest();
export const EMPTY_SHA256 = sha256Hex("");

/** RFC 3986 encoding, as SigV4 wants it (keeps A-Z a-z 0-9 - _ . ~). */
export const uriEncode = (s: string): string => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const encodeKey = (key: string) => key.split("/").map(uriEncode).join("/");

export interface SignInput {
  method: string;
  url: URL;
  headers: Record<string, string>;
  payloadHash: string;
  now: Date;
}

/** Signs a request (AWS Signature Version 4, service s3): the headers to send, Authorization included. */
export function signV4(cfg: Pick<S3Config, "accessKeyId" | "secretAccessKey" | "sessionToken" | "region">, req: SignInput): Record<string, string> {
  const amzDate = req.now.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
  const day = amzDate.slice(0, 8);
  const headers: Record<string, string> = { ...req.headers, host: req.url.host, "x-amz-date": amzDate, "x-amz-content-sha256": req.payloadHash };
  if (cfg.sessionToken) headers["x-amz-security-token"] = cfg.sessionToken;
  const names = Object.keys(headers).map((h) => h.toLowerCase()).sort();
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  const canonicalHeaders = names.map((n) => `${n}:${String(lower[n]).trim().replace(/\s+/g, " ")}\n`).join("");
  const signedHeaders = names.join(";");
  const query = [...req.url.searchParams.entries()]
    .map(([k, v]) => [uriEncode(k), uriEncode(v)] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  const canonicalRequest = [req.method, req.url.pathname || "/", query, canonicalHeaders, signedHeaders, req.payloadHash].join("\n");
  const scope = `${day}/${cfg.region}/s3/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256Hex(canonicalRequest)].join("\n");
  const key = hmac(hmac(hmac(hmac(`AWS4${cfg.secretAccessKey}`, day), cfg.region), "s3"), "aws4_request");
  const signature = createHmac("sha256", key).update(stringToSign).digest("hex");
  delete headers.host;
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${cfg.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return headers;
}

/** How long a request may wait for the server's answer: 2 min, 10 min with a body (PGSHIP_S3_TIMEOUT_MS overrides both, for tests). */
function answerTimeoutMs(withBody: boolean): number {
  const v = Number(env().PGSHIP_S3_TIMEOUT_MS);
  if (Number.isSafeInteger(v) && v > 0) return v;
  return withBody ? 600_000 : 120_000;
}

export interface RequestOptions {
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: Uint8Array | string;
  signal?: AbortSignal;
  /** HTTP statuses that are answers, not errors (404 for HEAD). */
  accept?: number[];
}

/** What the server said in an error document: <Code> and <Message>. */
function errorFields(xml: string): { code: string; message: string } {
  const tag = (t: string) => new RegExp(`<${t}>([\\s\\S]*?)</${t}>`).exec(xml)?.[1]?.trim() ?? "";
  return { code: tag("Code"), message: tag("Message") };
}

const xmlUnescape = (s: string) => s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, "&");

/** Every <tag>…</tag> block's text. */
export function xmlBlocks(xml: string, tag: string): string[] {
  return [...xml.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, "g"))].map((m) => m[1]!);
}
export const xmlText = (xml: string, tag: string): string | null => {
  const m = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(xml);
  return m ? xmlUnescape(m[1]!) : null;
};

/** S3's largest object one CopyObject may copy (5 GiB); PGSHIP_S3_COPY_LIMIT (bytes) lowers it for tests of the multipart copy. */
export function copyLimit(): number {
  const v = Number(env().PGSHIP_S3_COPY_LIMIT);
  return Number.isSafeInteger(v) && v >= 1024 ? v : 5 * 1024 ** 3;
}
/** Parts of a multipart copy: 1 GiB (S3 allows 5 MiB to 5 GiB per part, 10,000 parts: objects up to 5 TiB as S3 itself). */
export const COPY_PART_SIZE = 1024 ** 3;

export class S3Client {
  constructor(readonly cfg: S3Config) {}

  /** Where the endpoint is, for messages (no credentials in it). */
  get where(): string {
    return this.cfg.endpoint ? this.cfg.endpoint.origin : `s3.${this.cfg.region}.amazonaws.com`;
  }

  url(bucket: string, key: string, query: Record<string, string> = {}): URL {
    let u: URL;
    // Virtual-host addressing on AWS, except for bucket names with dots (TLS names cannot hold them).
    if (this.cfg.pathStyle || bucket.includes(".")) {
      const base = this.cfg.endpoint ?? new URL(`https://s3.${this.cfg.region}.amazonaws.com`);
      u = new URL(base.origin);
      const basePath = base.pathname.replace(/\/+$/, "");
      u.pathname = `${basePath}/${uriEncode(bucket)}${key ? `/${encodeKey(key)}` : ""}`;
    } else {
      u = new URL(`https://${bucket}.s3.${this.cfg.region}.amazonaws.com`);
      u.pathname = key ? `/${encodeKey(key)}` : "/";
    }
    // RFC 3986 on the wire too (searchParams would send a space as "+"), so what is signed is what is sent.
    u.search = Object.entries(query)
      .map(([k, v]) => `${uriEncode(k)}=${uriEncode(v)}`)
      .join("&");
    return u;
  }

  async request(method: string, bucket: string, key: string, o: RequestOptions = {}): Promise<Response> {
    const url = this.url(bucket, key, o.query);
    const body = typeof o.body === "string" ? new TextEncoder().encode(o.body) : o.body;
    const payloadHash = body ? sha256Hex(body) : EMPTY_SHA256;
    const headers = signV4(this.cfg, { method, url, headers: o.headers ?? {}, payloadHash, now: new Date() });
    // A server that accepts the connection but never answers must not hang a cron job: the response
    // (its headers; a part's answer comes after its body was sent) must arrive within the limit.
    const limitMs = answerTimeoutMs(body !== undefined);
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), limitMs);
    let res: Response;
    try {
      const signal = o.signal ? AbortSignal.any([o.signal, timeout.signal]) : timeout.signal;
      res = await fetch(url, { method, headers, body: body as Uint8Array<ArrayBuffer> | undefined, signal, redirect: "manual" });
    } catch (e) {
      if (o.signal?.aborted) throw e;
      if (timeout.signal.aborted) {
        throw new PgshipError("s3_unreachable", `the S3 server ${this.where} did not answer within ${Math.round(limitMs / 1000)} s (${method} s3://${bucket}${key ? `/${key}` : ""})`, {
          hint: "check the endpoint (--s3-endpoint or AWS_ENDPOINT_URL), the network and the server's health",
        });
      }
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (e as Error).message;
      throw new PgshipError("s3_unreachable", `cannot reach the S3 server ${this.where}: ${why}`, {
        hint: "check the endpoint (--s3-endpoint or AWS_ENDPOINT_URL), the network and that the server runs",
        cause: e,
      });
    } finally {
      clearTimeout(timer);
    }
    if (res.ok || o.accept?.includes(res.status)) return res;
    const text = method === "HEAD" ? "" : await res.text().catch(() => "");
    throw this.failure(res.status, text, bucket, key);
  }

  private failure(status: number, xml: string, bucket: string, key: string): PgshipError {
    const { code, message } = errorFields(xml);
    const said = code ? `${code}${message ? `: ${message}` : ""}` : `HTTP ${status}`;
    const obj = `s3://${bucket}${key ? `/${key}` : ""}`;
    if (code === "NoSuchBucket" || (status === 404 && !key)) {
      return new PgshipError("s3_no_bucket", `S3 bucket "${bucket}" does not exist on ${this.where}`, { hint: "create it first, or check the bucket name and AWS_REGION / --s3-endpoint" });
    }
    if (status === 403 || status === 401 || code === "InvalidAccessKeyId" || code === "SignatureDoesNotMatch") {
      const creds = code === "InvalidAccessKeyId" || code === "SignatureDoesNotMatch" || code === "ExpiredToken" || code === "InvalidToken";
      const perms = "s3:GetObject, s3:PutObject, s3:DeleteObject, s3:ListBucket, s3:ListBucketMultipartUploads and s3:AbortMultipartUpload on the bucket";
      return new PgshipError("s3_denied", `the S3 server ${this.where} refused access to ${obj} (${said})`, {
        hint: creds
          ? "the credentials were not accepted: check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) in the environment"
          : code
            ? `the credentials were accepted but may not do this: the key needs ${perms}`
            : `check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), and that the key has ${perms}`,
      });
    }
    if (status === 404 || code === "NoSuchKey") return new PgshipError("backup_missing", `${obj} does not exist`, { hint: "list the backups with 'backups --dir s3://BUCKET/PREFIX'" });
    if (status === 301 || code === "PermanentRedirect" || code === "AuthorizationHeaderMalformed") {
      return new PgshipError("s3_failed", `the S3 server answered ${said} for ${obj}`, { hint: "the bucket is in another region: set AWS_REGION to it" });
    }
    return new PgshipError("s3_failed", `the S3 server ${this.where} answered ${status} for ${obj} (${said})`);
  }

  /** Size of an object, or null when there is none. */
  async head(bucket: string, key: string, signal?: AbortSignal): Promise<{ bytes: number; etag: string } | null> {
    const res = await this.request("HEAD", bucket, key, { accept: [404], signal });
    if (res.status === 404) return null;
    return { bytes: Number(res.headers.get("content-length") ?? -1), etag: res.headers.get("etag") ?? "" };
  }

  /** The object's bytes as they arrive (from `start`). */
  async *get(bucket: string, key: string, o: { start?: number; end?: number; signal?: AbortSignal } = {}): AsyncGenerator<Uint8Array> {
    const headers: Record<string, string> = {};
    if (o.start || o.end !== undefined) headers.range = `bytes=${o.start ?? 0}-${o.end ?? ""}`;
    const res = await this.request("GET", bucket, key, { headers, signal: o.signal });
    if (!res.body) return;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) yield chunk;
  }

  async getText(bucket: string, key: string): Promise<string> {
    const res = await this.request("GET", bucket, key);
    return res.text();
  }

  async put(bucket: string, key: string, body: Uint8Array | string, contentType = "application/octet-stream"): Promise<void> {
    const res = await this.request("PUT", bucket, key, { body, headers: { "content-type": contentType } });
    await res.arrayBuffer();
  }

  async delete(bucket: string, key: string): Promise<void> {
    const res = await this.request("DELETE", bucket, key, { accept: [404] });
    await res.arrayBuffer();
  }

  /** Every object under `prefix` (not below a further "/"), with sizes. */
  async list(bucket: string, prefix: string): Promise<{ key: string; bytes: number }[]> {
    const out: { key: string; bytes: number }[] = [];
    let token: string | null = null;
    do {
      const query: Record<string, string> = { "list-type": "2", prefix, delimiter: "/" };
      if (token) query["continuation-token"] = token;
      const xml = await (await this.request("GET", bucket, "", { query })).text();
      for (const c of xmlBlocks(xml, "Contents")) out.push({ key: xmlText(c, "Key") ?? "", bytes: Number(xmlText(c, "Size") ?? 0) });
      token = xmlText(xml, "IsTruncated") === "true" ? xmlText(xml, "NextContinuationToken") : null;
    } while (token);
    return out;
  }

  async createMultipart(bucket: string, key: string, signal?: AbortSignal): Promise<string> {
    const xml = await (await this.request("POST", bucket, key, { query: { uploads: "" }, headers: { "content-type": "application/octet-stream" }, signal })).text();
    const id = xmlText(xml, "UploadId");
    if (!id) throw new PgshipError("s3_failed", `the S3 server ${this.where} started no multipart upload for s3://${bucket}/${key}`);
    return id;
  }

  /** One part; a 500 or 503 (S3's "slow down") is retried twice, after 1 s and 2 s. */
  async uploadPart(bucket: string, key: string, uploadId: string, partNumber: number, body: Uint8Array, signal?: AbortSignal): Promise<string> {
    for (let attempt = 0; ; attempt++) {
      const retry = attempt < 2 ? [500, 503] : [];
      const res = await this.request("PUT", bucket, key, { query: { partNumber: String(partNumber), uploadId }, body, signal, accept: retry });
      if (!retry.includes(res.status)) {
        await res.arrayBuffer();
        return res.headers.get("etag") ?? "";
      }
      await res.arrayBuffer().catch(() => undefined);
      await new Promise((r) => setTimeout(r, 1000 * 2 ** attempt));
    }
  }

  async completeMultipart(bucket: string, key: string, uploadId: string, parts: { n: number; etag: string }[], signal?: AbortSignal): Promise<void> {
    const body = `<CompleteMultipartUpload>${parts.map((p) => `<Part><PartNumber>${p.n}</PartNumber><ETag>${p.etag.replace(/&/g, "&amp;").replace(/</g, "&lt;")}</ETag></Part>`).join("")}</CompleteMultipartUpload>`;
    const xml = await (await this.request("POST", bucket, key, { query: { uploadId }, body, headers: { "content-type": "application/xml" }, signal })).text();
    // S3 can answer 200 with an error document when the completion fails late.
    if (/<Error>/.test(xml)) throw this.failure(500, xml, bucket, key);
  }

  /**
   * Server-side copy of an object within the bucket (the bytes never come back here). Up to
   * copyLimit() bytes (S3's 5 GiB for one CopyObject) in one request; above it, a multipart
   * upload whose parts are copied from the source (UploadPartCopy, parts of COPY_PART_SIZE).
   */
  async copy(bucket: string, srcKey: string, dstKey: string, bytes: number): Promise<void> {
    const source = `/${uriEncode(bucket)}/${encodeKey(srcKey)}`;
    if (bytes <= copyLimit()) {
      const xml = await (await this.request("PUT", bucket, dstKey, { headers: { "x-amz-copy-source": source } })).text();
      // A copy can fail after S3 answered 200: the error is then in the body.
      if (/<Error>/.test(xml)) throw this.failure(500, xml, bucket, dstKey);
      return;
    }
    const size = Math.max(Math.min(copyLimit(), COPY_PART_SIZE), Math.ceil(bytes / 10_000));
    const uploadId = await this.createMultipart(bucket, dstKey);
    try {
      const parts: { n: number; etag: string }[] = [];
      for (let start = 0, n = 1; start < bytes; start += size, n++) {
        const end = Math.min(start + size, bytes) - 1;
        const res = await this.request("PUT", bucket, dstKey, { query: { partNumber: String(n), uploadId }, headers: { "x-amz-copy-source": source, "x-amz-copy-source-range": `bytes=${start}-${end}` } });
        const xml = await res.text();
        if (/<Error>/.test(xml)) throw this.failure(500, xml, bucket, dstKey);
        parts.push({ n, etag: xmlText(xml, "ETag") ?? "" });
      }
      await this.completeMultipart(bucket, dstKey, uploadId, parts);
    } catch (e) {
      await this.abortMultipart(bucket, dstKey, uploadId).catch(() => undefined);
      if (!(e instanceof PgshipError) || e.code !== "s3_failed") throw e;
      throw new PgshipError(e.code, `the copy of ${bytes} bytes (more than one CopyObject may copy) part by part failed: ${e.message}`, {
        hint: "objects over 5 GiB are copied with UploadPartCopy: the server must implement it",
        cause: e,
      });
    }
  }

  async abortMultipart(bucket: string, key: string, uploadId: string): Promise<void> {
    const res = await this.request("DELETE", bucket, key, { query: { uploadId }, accept: [404] });
    await res.arrayBuffer();
  }

  /** Unfinished multipart uploads under `prefix`. */
  async listMultipart(bucket: string, prefix: string): Promise<{ key: string; uploadId: string; initiated: string | null }[]> {
    const out: { key: string; uploadId: string; initiated: string | null }[] = [];
    let marker: { key: string; id: string } | null = null;
    do {
      const query: Record<string, string> = { uploads: "", prefix };
      if (marker) Object.assign(query, { "key-marker": marker.key, "upload-id-marker": marker.id });
      const xml = await (await this.request("GET", bucket, "", { query })).text();
      for (const u of xmlBlocks(xml, "Upload")) out.push({ key: xmlText(u, "Key") ?? "", uploadId: xmlText(u, "UploadId") ?? "", initiated: xmlText(u, "Initiated") });
      marker = xmlText(xml, "IsTruncated") === "true" ? { key: xmlText(xml, "NextKeyMarker") ?? "", id: xmlText(xml, "NextUploadIdMarker") ?? "" } : null;
    } while (marker);
    return out;
  }
}

/** A client for the current environment (and --s3-endpoint). */
export function s3Client(): S3Client {
  return new S3Client(s3Config());
}
