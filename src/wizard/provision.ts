// Pieces of "create the database and role for me": a strong password, a SCRAM
// verifier (so the plain password never reaches the server's logs), and an .env
// update that keeps every other line as it was, written atomically at 0600.

import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";

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

export { saveDotenv, upsertDotenv } from "../core/env-file.ts";

export function databaseUrl(t: { user: string; password: string; host: string; port: number; database: string; socketDir?: string }): string {
  const auth = `${encodeURIComponent(t.user)}${t.password ? `:${encodeURIComponent(t.password)}` : ""}`;
  const host = t.socketDir ? "" : t.host.includes(":") ? `[${t.host}]` : t.host;
  return `postgres://${auth}@${host}:${t.port}/${encodeURIComponent(t.database)}${t.socketDir ? `?host=${encodeURIComponent(t.socketDir)}` : ""}`;
}
