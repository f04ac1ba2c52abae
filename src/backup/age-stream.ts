// age encryption as a streaming step between pg_dump and the file (and back),
// with the `age-encryption` package (typage, by age's author): X25519
// recipients and scrypt passphrases, files the `age` CLI reads and writes.
//
// typage encrypts WHATWG streams in 64 KiB chunks (age's STREAM construction),
// so memory stays flat whatever the size; its ChaCha20-Poly1305 is pure
// JavaScript (Bun's node:crypto has no chacha20-poly1305), which runs at about
// 140 MiB/s on one core: well above what pg_dump produces, and it runs
// concurrently with pg_dump in another process.

import { brand } from "../brand.ts";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { Decrypter, Encrypter, generateIdentity, identityToRecipient, Stanza, type Identity, type Recipient } from "age-encryption";
import { randomBytes, scryptSync } from "node:crypto";
import { collectGarbage } from "../runtime.ts";

/**
 * scrypt work factor for passphrase encryption: 2^15 costs 32 MiB and ~0.4 s.
 * scrypt's memory is its strength, and it adds to the whole backup's: age's
 * interactive default 2^18 needs 256 MiB, and 2^16 (64 MiB) would take a
 * backup past its 100 MiB budget. A passphrase kept in a file for cron should
 * be long and random (then the work factor hardly matters); for anything
 * weaker, encrypt to recipients instead.
 */
export const PASSPHRASE_WORK_FACTOR = 15;

const SCRYPT_LABEL = new TextEncoder().encode("age-encryption.org/v1/scrypt");
const ZERO_NONCE = new Uint8Array(12);
/** Keys scrypt derived in this process: a backup reads back, and a restore reads twice, with one scrypt. */
const derived = new Map<string, Uint8Array>();

/**
 * age's scrypt key (the same as typage's), with node:crypto's native scrypt:
 * twice as fast as the JavaScript one, with less memory besides its 128·r·N
 * bytes (32 MiB at 2^15), which the callers give back with collectGarbage().
 */
function scryptKey(passphrase: string, salt: Uint8Array, logN: number): Uint8Array {
  const id = `${logN}/${Buffer.from(salt).toString("hex")}/${passphrase}`;
  let key = derived.get(id);
  if (!key) {
    key = new Uint8Array(scryptSync(passphrase, Buffer.concat([SCRYPT_LABEL, salt]), 32, { N: 2 ** logN, r: 8, p: 1, maxmem: 2 ** logN * 1024 * 2 + (1 << 20) }));
    derived.set(id, key);
  }
  return key;
}

const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64").replace(/=+$/, "");

/** age's scrypt recipient (a passphrase), as typage's ScryptRecipient but with scryptKey. */
class ScryptRecipient implements Recipient {
  constructor(
    private readonly passphrase: string,
    private readonly logN: number,
  ) {}
  wrapFileKey(fileKey: Uint8Array): Stanza[] {
    const salt = new Uint8Array(randomBytes(16));
    const body = chacha20poly1305(scryptKey(this.passphrase, salt, this.logN), ZERO_NONCE).encrypt(fileKey);
    return [new Stanza(["scrypt", b64(salt), String(this.logN)], body)];
  }
}

/** age's scrypt identity, as typage's ScryptIdentity (the same checks and errors) but with scryptKey. */
class ScryptIdentity implements Identity {
  constructor(private readonly passphrase: string) {}
  unwrapFileKey(stanzas: Stanza[]): Uint8Array | null {
    for (const s of stanzas) {
      if (s.args.length < 1 || s.args[0] !== "scrypt") continue;
      if (stanzas.length !== 1) throw new Error("scrypt recipient is not the only one in the header");
      if (s.args.length !== 3 || !/^[1-9][0-9]*$/.test(s.args[2]!)) throw new Error("invalid scrypt stanza");
      const salt = new Uint8Array(Buffer.from(s.args[1]!, "base64"));
      if (salt.length !== 16 || b64(salt) !== s.args[1]) throw new Error("invalid scrypt stanza");
      const logN = Number(s.args[2]);
      if (logN > 20) throw new Error("scrypt work factor is too high");
      if (s.body.length !== 32) throw new Error("invalid stanza");
      try {
        return chacha20poly1305(scryptKey(this.passphrase, salt, logN), ZERO_NONCE).decrypt(s.body);
      } catch {
        return null;
      }
    }
    return null;
  }
}

export type EncryptKeys = { recipients: string[] } | { passphrase: string };
export interface DecryptKeys {
  identities: string[];
  passphrases: string[];
}

export function toReadableStream(src: AsyncIterable<Uint8Array>): ReadableStream<Uint8Array> {
  const it = src[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const r = await it.next();
        if (r.done) controller.close();
        else controller.enqueue(r.value);
      },
      async cancel() {
        await it.return?.();
      },
    },
    { highWaterMark: 0 },
  );
}

export async function* fromReadableStream(rs: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = rs.getReader();
  let finished = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        finished = true;
        return;
      }
      yield value;
    }
  } finally {
    // The consumer stopped early (error, or pg_restore --list has read enough): stop the source too.
    if (!finished) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}

/** Throws for a recipient that is not an X25519 or hybrid age recipient. */
export function checkRecipient(r: string): void {
  new Encrypter().addRecipient(r);
}

/** Throws for an identity line that is not an age secret key. */
export function checkIdentity(s: string): void {
  new Decrypter().addIdentity(s);
}

/** The recipient (public key) of an age identity. */
export const recipientOf = (identity: string): Promise<string> => identityToRecipient(identity);

/** A throwaway key pair: encrypting to it as well lets a backup be read back without the owner's secret key. */
export async function ephemeralIdentity(): Promise<{ identity: string; recipient: string }> {
  const identity = await generateIdentity();
  return { identity, recipient: await identityToRecipient(identity) };
}

/**
 * The keys a file opened with `keys` is encrypted with again: the same
 * passphrase, or the recipients of the identities (so the same key opens it).
 * A safety backup taken before restoring an encrypted backup is kept as secret as it.
 */
export async function sameKeysFor(keys: DecryptKeys): Promise<EncryptKeys | null> {
  if (keys.passphrases.length) return { passphrase: keys.passphrases[0]! };
  if (keys.identities.length) return { recipients: [...new Set(await Promise.all(keys.identities.map((i) => identityToRecipient(i))))] };
  return null;
}

export async function encryptChunks(src: AsyncIterable<Uint8Array>, keys: EncryptKeys, extraRecipient?: string): Promise<AsyncGenerator<Uint8Array>> {
  const e = new Encrypter();
  if ("passphrase" in keys) {
    // scrypt's 32 MiB come on top of what the process holds: let that be as little as it can.
    collectGarbage();
    e.addRecipient(new ScryptRecipient(keys.passphrase, PASSPHRASE_WORK_FACTOR));
  } else {
    for (const r of keys.recipients) e.addRecipient(r);
    if (extraRecipient) e.addRecipient(extraRecipient);
  }
  const out = await e.encrypt(toReadableStream(src));
  // scrypt's memory is freed with the garbage: now, before the stream adds to it.
  if ("passphrase" in keys) collectGarbage();
  return fromReadableStream(out);
}

/**
 * Derives a passphrase's scrypt key (kept for the passes that follow) by reading the file's
 * header, before anything else is read: scrypt's 32 MiB then come on top of a small process,
 * not on top of a pass's buffers. Errors are left to the pass that reads the file.
 */
export async function derivePassphraseKey(src: AsyncIterable<Uint8Array>, keys: DecryptKeys | null): Promise<void> {
  if (!keys?.passphrases.length) return;
  try {
    const it = await decryptChunks(src, keys);
    await it.return(undefined);
  } catch {
    // The pass that reads the file reports it.
  }
  collectGarbage();
}

export class AgeError extends Error {
  constructor(
    readonly kind: "wrong-key" | "corrupt" | "not-age",
    message: string,
  ) {
    super(message);
  }
}

/** typage's errors, sorted into what the user can do about them. */
export function classifyAgeError(e: unknown): AgeError {
  if (e instanceof AgeError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  if (/no identity matched/i.test(msg)) return new AgeError("wrong-key", "none of the given keys can decrypt it");
  if (/scrypt work factor is too high/i.test(msg)) return new AgeError("corrupt", `its passphrase work factor is higher than ${brand.display} accepts (2^20)`);
  if (/invalid version|non-ASCII|invalid header$|invalid stanza|unrecognized/i.test(msg)) return new AgeError("not-age", `its age header is not valid (${msg})`);
  if (/HMAC/i.test(msg)) return new AgeError("corrupt", "its age header was modified (header MAC mismatch)");
  return new AgeError("corrupt", `it does not decrypt: the data was modified or cut short (${msg})`);
}

/**
 * Decrypts a stream. The header is checked (and the key found) before this
 * returns; damage further on surfaces as an AgeError from the iterator.
 */
export async function decryptChunks(src: AsyncIterable<Uint8Array>, keys: DecryptKeys): Promise<AsyncGenerator<Uint8Array>> {
  const d = new Decrypter();
  for (const i of keys.identities) d.addIdentity(i);
  for (const p of keys.passphrases) d.addIdentity(new ScryptIdentity(p));
  if (keys.passphrases.length) collectGarbage();
  let out: ReadableStream<Uint8Array>;
  try {
    out = await d.decrypt(toReadableStream(src));
  } catch (e) {
    throw classifyAgeError(e);
  } finally {
    if (keys.passphrases.length) collectGarbage();
  }
  return (async function* () {
    try {
      yield* fromReadableStream(out);
    } catch (e) {
      throw classifyAgeError(e);
    }
  })();
}

/** The stanza types in an age header ("X25519", "scrypt", …), read from the file's first bytes. */
export function ageStanzaTypes(head: Uint8Array): string[] {
  const text = new TextDecoder("latin1").decode(head.subarray(0, 4096));
  const end = text.indexOf("\n---");
  return [...(end >= 0 ? text.slice(0, end) : text).matchAll(/^-> (\S+)/gm)].map((m) => m[1]!);
}
