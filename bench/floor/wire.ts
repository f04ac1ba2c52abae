// The floor of any Bun program that reads the database, driver or not: a TCP connection,
// the startup message, a SCRAM-SHA-256 login and one simple query of the versions applied,
// written straight on the socket (no TLS, no error handling beyond giving up). It is here to
// measure what replacing postgres.js could gain, not to be used.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";
import { writeSync } from "node:fs";
import { connect } from "node:net";

const url = new URL(process.env.DATABASE_URL!);
const user = decodeURIComponent(url.username);
const password = decodeURIComponent(url.password);
const query = `select coalesce(json_agg(version order by version), '[]') as v from ${process.env.FLOOR_TABLE ?? "pgship.migrations"}`;
const fail = (why: string) => (writeSync(2, `${why}\n`), process.exit(1));

const cstr = (s: string) => Buffer.from(`${s}\0`);
function message(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0);
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}
const params = Buffer.concat([cstr("user"), cstr(user), cstr("database"), cstr(url.pathname.slice(1)), Buffer.from([0])]);
const startup = Buffer.alloc(8);
startup.writeInt32BE(params.length + 8, 0);
startup.writeInt32BE(196608, 4); // protocol 3.0

const clientFirst = `n=*,r=${randomBytes(18).toString("base64")}`;
const socket = connect({ host: url.hostname, port: Number(url.port || 5432) }, () => socket.write(Buffer.concat([startup, params])));
socket.setNoDelay(true);
socket.on("error", (e) => fail(String(e)));
let pending = Buffer.alloc(0);
let queried = false;
socket.on("data", (chunk: Buffer) => {
  pending = Buffer.concat([pending, chunk]);
  while (pending.length >= 5) {
    const length = pending.readInt32BE(1);
    if (pending.length < length + 1) break;
    handle(String.fromCharCode(pending[0]!), pending.subarray(5, length + 1));
    pending = pending.subarray(length + 1);
  }
});

function handle(type: string, body: Buffer): void {
  if (type === "E") fail(body.toString().replace(/\0/g, " "));
  if (type === "R" && body.readInt32BE(0) === 10) {
    const first = Buffer.from(`n,,${clientFirst}`);
    const size = Buffer.alloc(4);
    size.writeInt32BE(first.length);
    socket.write(message("p", Buffer.concat([cstr("SCRAM-SHA-256"), size, first])));
  } else if (type === "R" && body.readInt32BE(0) === 11) {
    const serverFirst = body.subarray(4).toString();
    const attrs = Object.fromEntries(serverFirst.split(",").map((kv) => [kv[0], kv.slice(2)]));
    const salted = pbkdf2Sync(password, Buffer.from(attrs.s!, "base64"), Number(attrs.i), 32, "sha256");
    const clientKey = createHmac("sha256", salted).update("Client Key").digest();
    const withoutProof = `c=biws,r=${attrs.r}`;
    const signature = createHmac("sha256", createHash("sha256").update(clientKey).digest()).update(`${clientFirst},${serverFirst},${withoutProof}`).digest();
    const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!));
    socket.write(message("p", Buffer.from(`${withoutProof},p=${proof.toString("base64")}`)));
  } else if (type === "Z" && !queried) {
    queried = true;
    socket.write(message("Q", cstr(query)));
  } else if (type === "D") {
    const length = body.readInt32BE(2);
    writeSync(1, `${JSON.parse(body.subarray(6, 6 + length).toString()).length} applied\n`);
  } else if (type === "Z") {
    socket.write(message("X", Buffer.alloc(0)));
    process.exit(0);
  }
}
