// Flags shared by backup, backups, restore and up/update --backup: where the
// pg tools are, keys, retention, repeatable flags; and the command that
// restores the backup `up --backup` took.

import type { ArgsDef } from "citty";
import { PgshipError, UsageError } from "../core/errors.ts";
import { encryptKeys, looseSecretFile, type KeyFlags } from "../backup/keys.ts";
import type { TakenBackup } from "../backup/create.ts";
import type { PreBackupOptions } from "../ops/backup.ts";
import type { ToolLocation } from "../tools/pg-tools.ts";
import { intFlag, type Args } from "./flags.ts";
import { brand, type Context } from "./context.ts";
import type { RetentionPolicy } from "../backup/retention.ts";
import { argv } from "../runtime.ts";
import { s3Config, setS3Endpoint } from "../backup/s3.ts";
import { parseLocation } from "../backup/location.ts";

export const toolArgs = {
  "pg-bin": { type: "string", description: "Directory holding pg_dump, pg_restore and psql", valueHint: "dir" },
  "docker-container": { type: "string", description: "Run the pg tools inside this container (docker exec -i)", valueHint: "name" },
  "s3-endpoint": { type: "string", description: "S3-compatible server for s3:// locations (else AWS_ENDPOINT_URL, else AWS); credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY only", valueHint: "url" },
} as const satisfies ArgsDef;

export const encryptArgs = {
  "encrypt-to": { type: "string", description: "Encrypt to this age recipient (age1…); repeatable", valueHint: "recipient" },
  "recipients-file": { type: "string", description: "Encrypt to the age recipients listed in this file; repeatable", valueHint: "file" },
  "passphrase-file": { type: "string", description: "Encrypt with the passphrase in this file (age scrypt)", valueHint: "file" },
} as const satisfies ArgsDef;

export const decryptArgs = {
  identity: { type: "string", alias: "i", description: "age identity file to decrypt with (AGE-SECRET-KEY-1…); repeatable", valueHint: "file" },
  "passphrase-file": { type: "string", description: "File holding the passphrase the backup was encrypted with", valueHint: "file" },
} as const satisfies ArgsDef;

export const retentionArgs = {
  "keep-last": { type: "string", description: "After a verified backup, keep the N newest", valueHint: "n" },
  "keep-daily": { type: "string", description: "… and the newest of each of the last N days (UTC)", valueHint: "n" },
  "keep-weekly": { type: "string", description: "… and of each of the last N ISO weeks", valueHint: "n" },
  "keep-monthly": { type: "string", description: "… and of each of the last N months", valueHint: "n" },
} as const satisfies ArgsDef;

/** Every value of a repeatable flag (citty keeps only the last): --name V and --name=V, in order. */
export function repeated(name: string, aliases: string[] = []): string[] {
  const raw = argv();
  const names = [name, ...aliases].map((n) => (n.length === 1 ? `-${n}` : `--${n}`));
  const out: string[] = [];
  for (let i = 0; i < raw.length; i++) {
    const a = raw[i]!;
    if (a === "--") break;
    const eq = names.find((n) => a.startsWith(`${n}=`));
    if (eq) out.push(a.slice(eq.length + 1));
    else if (names.includes(a) && raw[i + 1] !== undefined) out.push(raw[++i]!);
  }
  return out;
}

export function toolLocation(a: Args): ToolLocation {
  const pgBin = a["pg-bin"] ? String(a["pg-bin"]) : undefined;
  const container = a["docker-container"] ? String(a["docker-container"]) : undefined;
  if (pgBin && container) throw new UsageError("--pg-bin and --docker-container cannot be combined", "use local tools (--pg-bin) or the container's, not both");
  s3EndpointFlag(a);
  return { pgBin, container };
}

/** --s3-endpoint, for every s3:// location of this run. */
export function s3EndpointFlag(a: Args): void {
  if (a["s3-endpoint"]) setS3Endpoint(String(a["s3-endpoint"]));
}

export function keyFlags(ctx: Context, a: Args): KeyFlags {
  const f: KeyFlags = {
    encryptTo: repeated("encrypt-to"),
    recipientsFiles: repeated("recipients-file"),
    passphraseFile: a["passphrase-file"] ? String(a["passphrase-file"]) : undefined,
    identityFiles: repeated("identity", ["i"]),
  };
  for (const file of [f.passphraseFile, ...f.identityFiles]) {
    if (file && looseSecretFile(file)) ctx.log.warn(`${file} can be read by other users: chmod 600 ${file}`);
  }
  return f;
}

export function retentionPolicy(a: Args): RetentionPolicy {
  return {
    last: intFlag(a["keep-last"], "keep-last", 1),
    daily: intFlag(a["keep-daily"], "keep-daily", 1),
    weekly: intFlag(a["keep-weekly"], "keep-weekly", 1),
    monthly: intFlag(a["keep-monthly"], "keep-monthly", 1),
  };
}

export const preBackupArgs = {
  backup: { type: "string", description: "Back up to this directory first (only when there is something to apply)", valueHint: "dir" },
  ...encryptArgs,
  ...toolArgs,
} as const satisfies ArgsDef;

const shellQuote = (s: string) => (/^[A-Za-z0-9_./:@=+-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`);

/** Checks the flags before anything runs, so a typo fails before the lock and the plan. */
export function preBackupFlags(ctx: Context, a: Args): PreBackupOptions | null {
  if (!a.backup) return null;
  const tools = toolLocation(a);
  // An S3 location and its credentials are checked here too, before the lock and the plan.
  if (parseLocation(String(a.backup), "--backup").kind === "s3") s3Config();
  return { dir: String(a.backup), keys: encryptKeys(keyFlags(ctx, a), ctx.secrets), tools };
}

/** The command that puts the database back as it was backed up. */
export function restoreCommand(out: TakenBackup, a: Args): string {
  const parts = [brand.binary, "restore", shellQuote(out.archivePath)];
  const enc = out.manifest.encryption;
  if (enc?.mode === "passphrase" && a["passphrase-file"]) parts.push("--passphrase-file", shellQuote(String(a["passphrase-file"])));
  if (enc?.mode === "recipients") parts.push("--identity", "<your age identity file>");
  if (a["docker-container"]) parts.push("--docker-container", shellQuote(String(a["docker-container"])));
  if (a["pg-bin"]) parts.push("--pg-bin", shellQuote(String(a["pg-bin"])));
  parts.push("--yes");
  return parts.join(" ");
}

/** A failed migration's error, with the way back appended to its hint. */
export function withRestoreHint(e: unknown, out: TakenBackup, a: Args): unknown {
  if (!(e instanceof PgshipError)) return e;
  const back = `to return to the backup taken before this run: ${restoreCommand(out, a)}`;
  return new PgshipError(e.code, e.message, { exitCode: e.exitCode, hint: e.hint ? `${e.hint}\n  ${back}` : back, cause: e.cause ?? e });
}
