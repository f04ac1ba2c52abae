// Keys from the command line and files: age recipients to encrypt to (public,
// harmless on a backup server), and identities or a passphrase to decrypt
// with (secret: read from files, never from arguments, and redacted).

import { statSync, writeFileSync } from "node:fs";
import { readRegularFile } from "../core/files.ts";
import { UsageError } from "../core/errors.ts";
import type { SecretSink } from "../core/redact.ts";
import { checkIdentity, checkRecipient, ephemeralIdentity, recipientOf, type DecryptKeys, type EncryptKeys } from "./age-stream.ts";

export interface KeyFlags {
  encryptTo: string[];
  recipientsFiles: string[];
  passphraseFile?: string;
  identityFiles: string[];
}

/**
 * Key files are read like every other file: only a regular, readable one (error code `file`,
 * exit 1). A path that does not exist is a bad flag value (exit 2), as for --env-file.
 */
function readKeyFile(path: string, flag: string): string {
  const text = readRegularFile(path, flag);
  if (text === null) throw new UsageError(`${path}: no such file (given with ${flag})`);
  return text;
}

/** A secret file others can read is worth a warning (not an error: the backup matters more). */
export function looseSecretFile(path: string): boolean {
  try {
    return (statSync(path).mode & 0o077) !== 0;
  } catch {
    return false;
  }
}

/** `# comments` and blank lines are ignored, as in age's recipient and identity files. */
const keyLines = (text: string) =>
  text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));

/** Recipients from --encrypt-to (repeatable, or comma-separated) and --recipients-file. */
export function encryptKeys(f: KeyFlags, secrets: SecretSink): EncryptKeys | null {
  const recipients = f.encryptTo.flatMap((r) => r.split(",")).map((r) => r.trim()).filter(Boolean);
  for (const file of f.recipientsFiles) recipients.push(...keyLines(readKeyFile(file, "--recipients-file")));
  for (const r of recipients) {
    if (r.startsWith("AGE-SECRET-KEY-")) {
      secrets.push(r);
      throw new UsageError("an age secret key was given where a recipient (age1…) belongs", "encrypt to the public key: age-keygen -y key.txt prints it; keep the secret key off the backup server");
    }
    try {
      checkRecipient(r);
    } catch {
      throw new UsageError(`"${r}" is not an age recipient`, "recipients look like age1… (age-keygen prints one; age-keygen -y key.txt shows the one of an existing key)");
    }
  }
  const passphrase = f.passphraseFile !== undefined ? readPassphrase(f.passphraseFile, secrets) : undefined;
  if (passphrase !== undefined && recipients.length) {
    throw new UsageError("--passphrase-file cannot be combined with recipients", "age encrypts a file either to recipients or to one passphrase; choose one");
  }
  if (passphrase !== undefined) return { passphrase };
  return recipients.length ? { recipients: [...new Set(recipients)] } : null;
}

/** The passphrase is the file's content without its final newline. */
export function readPassphrase(path: string, secrets: SecretSink): string {
  const text = readKeyFile(path, "--passphrase-file").replace(/\r?\n$/, "");
  if (!text) throw new UsageError(`--passphrase-file ${path} is empty`);
  secrets.push(text);
  return text;
}

export function decryptKeys(f: KeyFlags, secrets: SecretSink): DecryptKeys {
  const identities: string[] = [];
  for (const file of f.identityFiles) {
    const lines = keyLines(readKeyFile(file, "--identity"));
    if (!lines.length) throw new UsageError(`--identity ${file} holds no age identity`);
    for (const l of lines) {
      secrets.push(l);
      try {
        checkIdentity(l);
      } catch {
        throw new UsageError(`--identity ${file} is not an age identity file`, "it should hold AGE-SECRET-KEY-1… lines, as written by age-keygen");
      }
      identities.push(l);
    }
  }
  const passphrases = f.passphraseFile !== undefined ? [readPassphrase(f.passphraseFile, secrets)] : [];
  return { identities, passphrases };
}

export const hasDecryptKeys = (k: DecryptKeys) => k.identities.length > 0 || k.passphrases.length > 0;

/**
 * The age key pair in `path` (age-keygen's format: the public key in a comment,
 * the secret key line), created with mode 0600 when there is none yet. An
 * existing key is reused, so backups encrypted to it earlier stay readable.
 */
export async function keyPairFile(path: string): Promise<{ identity: string; recipient: string; created: boolean }> {
  const text = readRegularFile(path, "the backup key");
  if (text !== null) {
    const identity = keyLines(text).find((l) => l.startsWith("AGE-SECRET-KEY-"));
    if (!identity) throw new UsageError(`${path} exists but holds no age secret key`, "move it away, or put the key (AGE-SECRET-KEY-1…) back into it");
    checkIdentity(identity);
    return { identity, recipient: await recipientOf(identity), created: false };
  }
  const { identity, recipient } = await ephemeralIdentity();
  writeFileSync(path, `# created: ${new Date().toISOString()}\n# public key: ${recipient}\n${identity}\n`, { mode: 0o600, flag: "wx" });
  return { identity, recipient, created: true };
}
