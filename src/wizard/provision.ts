// Pieces of "create the database and role for me": a strong password, a SCRAM
// verifier (so the plain password never reaches the server's logs), and an .env
// update that keeps every other line as it was, written atomically at 0600.

import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";
import { closeSync, fchmodSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { readRegularFile } from "../core/files.ts";

/** 32 characters from 24 random bytes, URL-safe so it needs no escaping in a URL. */
export function generatePassword(): string {
  return randomBytes(24).toString("base64url");
}

/** The verifier PostgreSQL stores for SCRAM-SHA-256 (RFC 5802, 4096 iterations as the server uses). */
export function scramVerifier(password: string, salt = randomBytes(16), iterations = 4096): string {
  const salted = pbkdf2Sync(password.normalize("NFKC"), salt, iterations, 32, "sha256");
  const clientKey = createHmac("sha256", salted).update("Client Key").digest();
  const storedKey = createHash("sha256").update(clientKey).digest();
  const serverKey = createHmac("sha256", salted).update("Server Key").digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}

/** Sets KEY=value in .env text: replaces the first assignment of KEY, or appends one. */
export function upsertDotenv(text: string, key: string, value: string): string {
  const line = `${key}=${/^[A-Za-z0-9_@%:/.?&=+-]*$/.test(value) ? value : `"${value.replace(/(["\\$`])/g, "\\$1")}"`}`;
  const lines = text === "" ? [] : text.replace(/\r\n/g, "\n").replace(/\n$/, "").split("\n");
  const at = lines.findIndex((l) => new RegExp(`^\\s*(export\\s+)?${key}\\s*=`).test(l));
  if (at >= 0) lines[at] = line;
  else lines.push(line);
  return `${lines.join("\n")}\n`;
}

export function databaseUrl(t: { user: string; password: string; host: string; port: number; database: string; socketDir?: string }): string {
  const auth = `${encodeURIComponent(t.user)}${t.password ? `:${encodeURIComponent(t.password)}` : ""}`;
  const host = t.socketDir ? "" : t.host.includes(":") ? `[${t.host}]` : t.host;
  return `postgres://${auth}@${host}:${t.port}/${encodeURIComponent(t.database)}${t.socketDir ? `?host=${encodeURIComponent(t.socketDir)}` : ""}`;
}

/**
 * Sets KEY=value in the .env file at `path`, keeping its other lines. The new
 * text goes to a temporary file created 0600 in the same directory, then is
 * renamed over the old one: no reader ever sees a half-written file, and the
 * password is never in a file other users can read, not even briefly.
 */
export function saveDotenv(path: string, key: string, value: string): void {
  const before = readRegularFile(path, "./.env") ?? "";
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  const fd = openSync(tmp, "wx", 0o600);
  try {
    fchmodSync(fd, 0o600);
    writeSync(fd, upsertDotenv(before, key, value));
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, path);
  } catch (e) {
    try {
      closeSync(fd);
    } catch {
      // Already closed.
    }
    rmSync(tmp, { force: true });
    throw e;
  }
}
