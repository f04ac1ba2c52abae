// A real S3-compatible server for the backup tests: s3rver (an npm dev
// dependency) started as its own process on loopback (test/harness/s3-server.cjs),
// one per test file, stopped afterwards. Its fixed credentials are S3RVER/S3RVER.

import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ROOT, tempDir } from "./env.ts";

export interface S3Server {
  endpoint: string;
  port: number;
  dir: string;
  /** The environment a pgship run needs for it (credentials in the environment only). */
  env: Record<string, string>;
  /** Objects stored under bucket/prefix, read from s3rver's own files, not through pgship's client (name -> bytes). */
  stored(bucket: string, prefix: string): Map<string, Buffer>;
  /** The requests the server has answered so far: "METHOD /bucket/key RANGE" ("-": no Range header). */
  requests(): string[];
  stop(): Promise<void>;
}

function storedIn(dir: string, bucket: string, prefix: string): Map<string, Buffer> {
  const at = join(dir, bucket, prefix);
  const out = new Map<string, Buffer>();
  if (!existsSync(at)) return out;
  for (const f of readdirSync(at)) {
    const m = /^(.*)\._S3rver_object$/.exec(f);
    if (m) out.set(m[1]!, readFileSync(join(at, f)));
  }
  return out;
}

export const S3_KEY_ID = "S3RVER";
export const S3_SECRET = "S3RVER";

/**
 * Starts s3rver with these buckets; node runs it (bun when node is missing). `asIs`: without the
 * ListMultipartUploads and AbortMultipartUpload the harness adds (s3rver answers "not implemented").
 */
export function startS3(buckets: string[] = ["backups"], o: { asIs?: boolean } = {}): Promise<S3Server> {
  const dir = join(tempDir(), "s3");
  const runner = Bun.which("node") ?? process.execPath;
  const child: ChildProcess = spawn(runner, [join(ROOT, "test/harness/s3-server.cjs"), dir, ...buckets], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...(o.asIs ? { S3RVER_AS_IS: "1" } : {}) } });
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    child.stderr!.on("data", (d) => (err += d));
    child.on("exit", (code) => reject(new Error(`s3rver exited (${code}): ${err}`)));
    child.stdout!.on("data", (d) => {
      out += d;
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (!line) return;
      const { port } = JSON.parse(line) as { port: number };
      const endpoint = `http://127.0.0.1:${port}`;
      resolve({
        endpoint,
        port,
        dir,
        env: { AWS_ACCESS_KEY_ID: S3_KEY_ID, AWS_SECRET_ACCESS_KEY: S3_SECRET, AWS_ENDPOINT_URL: endpoint, AWS_REGION: "us-east-1" },
        stored: (bucket, prefix) => storedIn(dir, bucket, prefix),
        requests: () => (existsSync(`${dir}.requests`) ? readFileSync(`${dir}.requests`, "utf8").split("\n").filter(Boolean) : []),
        stop: () =>
          new Promise<void>((done) => {
            child.removeAllListeners("exit");
            child.once("exit", () => {
              // The stored objects (tens of MiB after the interrupted-upload tests) go with the server.
              rmSync(dir, { recursive: true, force: true });
              rmSync(`${dir}.requests`, { force: true });
              done();
            });
            child.kill("SIGKILL");
          }),
      });
    });
  });
}
