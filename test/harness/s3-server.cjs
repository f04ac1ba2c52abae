// A real S3-compatible server for the tests: the s3rver npm package, run as its
// own process on loopback, storing in a directory. Usage: node s3-server.cjs DIR BUCKET...
// Prints {"port": N} on stdout once it listens. With S3RVER_AS_IS=1 nothing is added (see below).
//
// s3rver 3.7.1 implements neither ListMultipartUploads (GET /bucket?uploads),
// AbortMultipartUpload (DELETE /bucket/key?uploadId=) nor UploadPartCopy (PUT
// /bucket/key?partNumber=&uploadId= with x-amz-copy-source): all answer "not
// implemented". They are added here, reading and writing s3rver's own store
// of unfinished uploads (DIR/BUCKET/._S3rver_uploads/ID/{key,1,2,…}), so the
// tests can check that stale uploads are reported and aborted, and that copies
// above the one-request limit are assembled from copied parts. Its CopyObject
// (PUT with x-amz-copy-source) is s3rver's own. Everything else
// (objects, listing, multipart parts and completion) is s3rver's own code.
// s3rver checks the access key id of a Signature V4 request but not the
// signature itself; test/unit/s3-sign.test.ts checks signatures against AWS's
// published examples.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const S3rver = require("s3rver");

const [dir, ...buckets] = process.argv.slice(2);
const app = new S3rver({ directory: dir, address: "127.0.0.1", port: 0, silent: true, vhostBuckets: false, configureBuckets: buckets.map((name) => ({ name, configs: [] })) });

// Every request, one line each in DIR.requests (method, path, Range header): what the tests count.
const requestLog = `${dir}.requests`;
app.middleware.unshift(async (ctx, next) => {
  fs.appendFileSync(requestLog, `${ctx.method} ${ctx.path} ${ctx.get("range") || "-"}\n`);
  return next();
});

const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const uploadsDir = (bucket) => path.join(dir, bucket, "._S3rver_uploads");

if (!process.env.S3RVER_AS_IS) app.middleware.unshift(async (ctx, next) => {
  const m = /^\/([^/]+)(?:\/(.+))?$/.exec(ctx.path);
  const isList = ctx.method === "GET" && m && !m[2] && "uploads" in ctx.query;
  const isAbort = ctx.method === "DELETE" && m && m[2] && "uploadId" in ctx.query;
  const isPartCopy = ctx.method === "PUT" && m && m[2] && "uploadId" in ctx.query && ctx.get("x-amz-copy-source");
  if (!isList && !isAbort && !isPartCopy) return next();
  if (!/Credential=S3RVER\//.test(ctx.get("authorization"))) {
    ctx.status = 403;
    ctx.type = "application/xml";
    ctx.body = "<Error><Code>InvalidAccessKeyId</Code><Message>The AWS Access Key Id you provided does not exist in our records.</Message></Error>";
    return;
  }
  const bucket = decodeURIComponent(m[1]);
  if (!fs.existsSync(path.join(dir, bucket))) {
    ctx.status = 404;
    ctx.type = "application/xml";
    ctx.body = "<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message></Error>";
    return;
  }
  if (isPartCopy) {
    const [srcBucket, ...srcKey] = ctx.get("x-amz-copy-source").replace(/^\//, "").split("/").map(decodeURIComponent);
    const src = path.join(dir, srcBucket, `${srcKey.join("/")}._S3rver_object`);
    const up = path.join(uploadsDir(bucket), path.basename(String(ctx.query.uploadId)));
    const range = /^bytes=(\d+)-(\d+)$/.exec(ctx.get("x-amz-copy-source-range"));
    if (!fs.existsSync(src) || !fs.existsSync(up) || !range) {
      ctx.status = 404;
      ctx.type = "application/xml";
      ctx.body = "<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>";
      return;
    }
    const bytes = fs.readFileSync(src).subarray(Number(range[1]), Number(range[2]) + 1);
    const md5 = require("node:crypto").createHash("md5").update(bytes).digest("hex");
    const part = path.join(up, String(Number(ctx.query.partNumber)));
    fs.writeFileSync(part, bytes);
    fs.writeFileSync(`${part}.md5`, md5);
    ctx.type = "application/xml";
    ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<CopyPartResult><ETag>&quot;${md5}&quot;</ETag></CopyPartResult>`;
    return;
  }
  if (isAbort) {
    const id = String(ctx.query.uploadId);
    const at = path.join(uploadsDir(bucket), path.basename(id));
    if (!fs.existsSync(at)) {
      ctx.status = 404;
      ctx.type = "application/xml";
      ctx.body = "<Error><Code>NoSuchUpload</Code><Message>The specified upload does not exist.</Message></Error>";
      return;
    }
    fs.rmSync(at, { recursive: true, force: true });
    ctx.status = 204;
    return;
  }
  const prefix = String(ctx.query.prefix || "");
  const ups = [];
  for (const id of fs.existsSync(uploadsDir(bucket)) ? fs.readdirSync(uploadsDir(bucket)) : []) {
    const keyFile = path.join(uploadsDir(bucket), id, "key");
    if (!fs.existsSync(keyFile)) continue;
    const key = fs.readFileSync(keyFile, "utf8");
    if (key.startsWith(prefix)) ups.push({ key, id, at: fs.statSync(keyFile).mtime.toISOString() });
  }
  ctx.type = "application/xml";
  ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<ListMultipartUploadsResult><Bucket>${esc(bucket)}</Bucket><IsTruncated>false</IsTruncated>${ups
    .map((u) => `<Upload><Key>${esc(u.key)}</Key><UploadId>${esc(u.id)}</UploadId><Initiated>${u.at}</Initiated></Upload>`)
    .join("")}</ListMultipartUploadsResult>`;
});

app.run().then(({ port }) => process.stdout.write(`${JSON.stringify({ port })}\n`));
process.on("SIGTERM", () => app.close().then(() => process.exit(0)));
