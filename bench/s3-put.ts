// bun bench/s3-put.ts s3://BUCKET/KEY < file
//
// The raw baseline of the S3 backup benchmark: stdin uploaded to S3 as it
// arrives, with the same multipart uploader pgship uses (5 MiB parts, 2 in
// flight; credentials and endpoint from AWS_* variables) and nothing else: no
// hashing, no read-back, no manifest.

import { parseS3File } from "../src/backup/location.ts";
import { s3Client } from "../src/backup/s3.ts";
import { uploadStream } from "../src/backup/s3-upload.ts";

const f = parseS3File(process.argv[2] ?? "", "s3-put");
const up = await uploadStream(s3Client(), f.bucket, f.key, process.stdin as AsyncIterable<Uint8Array>).done;
process.stderr.write(`uploaded ${up.bytes} bytes in ${up.parts} parts\n`);
