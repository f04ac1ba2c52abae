// The S3 client's Signature Version 4 against the examples AWS publishes with
// its documentation ("Signature calculations for the Authorization header",
// examples computed with AKIAIOSFODNN7EXAMPLE at 2013-05-24T00:00:00Z). The
// test server (s3rver) checks access key ids but not signatures, so these
// vectors are what proves the signing; and where s3:// strings are parsed.

import { describe, expect, test } from "bun:test";
import { parseLocation, parseS3File } from "../../src/backup/location.ts";
import { EMPTY_SHA256, S3Client, signV4 } from "../../src/backup/s3.ts";
import { scheduleAdvice, type Session } from "../../src/wizard/actions.ts";

const cfg = { accessKeyId: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", sessionToken: null, region: "us-east-1" };
const now = new Date("2013-05-24T00:00:00Z");
const sig = (h: Record<string, string>) => /Signature=([0-9a-f]{64})/.exec(h.authorization!)![1];

describe("SigV4", () => {
  test("GET an object with a Range header", () => {
    const h = signV4(cfg, { method: "GET", url: new URL("https://examplebucket.s3.amazonaws.com/test.txt"), headers: { range: "bytes=0-9" }, payloadHash: EMPTY_SHA256, now });
    expect(h.authorization).toContain("SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,");
    expect(h.authorization).toContain("Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request");
    expect(sig(h)).toBe("f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    expect(h["x-amz-date"]).toBe("20130524T000000Z");
  });

  test("GET a bucket listing with query parameters", () => {
    const h = signV4(cfg, { method: "GET", url: new URL("https://examplebucket.s3.amazonaws.com/?max-keys=2&prefix=J"), headers: {}, payloadHash: EMPTY_SHA256, now });
    expect(sig(h)).toBe("34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
  });

  test("GET a sub-resource (?lifecycle)", () => {
    const h = signV4(cfg, { method: "GET", url: new URL("https://examplebucket.s3.amazonaws.com/?lifecycle"), headers: {}, payloadHash: EMPTY_SHA256, now });
    expect(sig(h)).toBe("fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
  });

  test("a session token is signed; the secret never appears in the headers", () => {
    const h = signV4({ ...cfg, sessionToken: "TOKEN123" }, { method: "GET", url: new URL("https://examplebucket.s3.amazonaws.com/x"), headers: {}, payloadHash: EMPTY_SHA256, now });
    expect(h.authorization).toContain("x-amz-security-token");
    expect(JSON.stringify(h)).not.toContain(cfg.secretAccessKey);
  });

  test("addressing: virtual host on AWS, path style for custom endpoints and dotted buckets", () => {
    const aws = new S3Client({ ...cfg, secretAccessKey: "x", endpoint: null, pathStyle: false, region: "eu-west-1" });
    expect(aws.url("bucket", "a b/c+d.dump").href).toBe("https://bucket.s3.eu-west-1.amazonaws.com/a%20b/c%2Bd.dump");
    expect(aws.url("my.bucket", "k").href).toBe("https://s3.eu-west-1.amazonaws.com/my.bucket/k");
    const minio = new S3Client({ ...cfg, endpoint: new URL("http://127.0.0.1:9000"), pathStyle: true });
    expect(minio.url("bucket", "p/k", { uploads: "" }).href).toBe("http://127.0.0.1:9000/bucket/p/k?uploads=");
    // A continuation token (base64) and a prefix with a space go out as they are signed.
    expect(minio.url("bucket", "", { "continuation-token": "a+b/c=", prefix: "my app/" }).search).toBe("?continuation-token=a%2Bb%2Fc%3D&prefix=my%20app%2F");
  });
});

describe("parseLocation", () => {
  test("s3:// URLs and local paths", () => {
    expect(parseLocation("s3://bucket/some/prefix/")).toEqual({ kind: "s3", bucket: "bucket", prefix: "some/prefix", url: "s3://bucket/some/prefix" });
    expect(parseLocation("s3://bucket")).toEqual({ kind: "s3", bucket: "bucket", prefix: "", url: "s3://bucket" });
    expect(parseLocation("/var/backups")).toEqual({ kind: "local", path: "/var/backups" });
    expect(parseS3File("s3://b-1/x/y.dump")).toMatchObject({ bucket: "b-1", key: "x/y.dump", name: "y.dump", dir: { prefix: "x", url: "s3://b-1/x" } });
  });

  test("never a local directory named after a scheme", () => {
    for (const bad of ["s3:bucket/x", "gs://bucket/x", "s3://B/x", "s3://ab", "s3://bucket/../x", "https://example.org/x"]) {
      expect(() => parseLocation(bad)).toThrow();
    }
  });
});

test("the wizard's schedule advice keeps an s3:// location as it is (a path is made absolute)", () => {
  const s = { envFile: "/etc/app/.env", binary: "pgship" } as unknown as Session;
  expect(scheduleAdvice(s, "s3://bucket/app")).toContain("--dir s3://bucket/app --keep-daily 7");
  expect(scheduleAdvice(s, "backups")).toMatch(/--dir \/\S+\/backups --keep-daily 7/);
});
