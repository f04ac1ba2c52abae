// bun bench/s3-get.ts s3://BUCKET/KEY > file
//
// The raw baseline of the S3 restore benchmark: one object streamed to stdout
// with the S3 client pgship uses (credentials and endpoint from AWS_* variables)
// and nothing else: no manifest, no sha256, no decryption.

import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { parseS3File } from "../src/backup/location.ts";
import { s3Client } from "../src/backup/s3.ts";

const f = parseS3File(process.argv[2] ?? "", "s3-get");
await pipeline(Readable.from(s3Client().get(f.bucket, f.key)), process.stdout);
