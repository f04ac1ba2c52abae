// Flags shared by backup, backups, restore and up/update --backup: where the
// pg tools are, keys, and a few helpers (repeatable flags, a progress line on
// a terminal, confirmations).

import type { ArgsDef } from "citty";
import { confirm, isCancel } from "@clack/prompts";
import { ExitCode, PgshipError, UsageError } from "../core/errors.ts";
import { looseSecretFile, type KeyFlags } from "../backup/keys.ts";
import type { ToolLocation } from "../tools/pg-tools.ts";
import { intFlag, type Args } from "../cli/flags.ts";
import type { Context } from "../cli/context.ts";
import type { RetentionPolicy } from "../backup/retention.ts";
import { argv, promptOutput, stderrIsTTY, stdinIsTTY, writeStderr } from "../runtime.ts";

export const toolArgs = {
  "pg-bin": { type: "string", description: "Directory holding pg_dump, pg_restore and psql", valueHint: "dir" },
  "docker-container": { type: "string", description: "Run the pg tools inside this container (docker exec -i)", valueHint: "name" },
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
  return { pgBin, container };
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

export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

/** "12.3 MiB, 45.6 MiB/s" redrawn in place on a terminal, a few times a second; nothing otherwise (cron mail stays clean). */
export function progressLine(ctx: Context, label: string): { update(bytes: number): void; done(): void } {
  const t0 = performance.now();
  const draw = ctx.progress;
  if (draw) {
    // The wizard draws progress itself.
    return { update: (bytes) => draw(label, bytes, bytes / Math.max(0.001, (performance.now() - t0) / 1000)), done: () => undefined };
  }
  const enabled = stderrIsTTY() && !ctx.json && !ctx.args.quiet;
  let last = 0;
  let shown = false;
  return {
    update(bytes) {
      if (!enabled) return;
      const now = performance.now();
      if (now - last < 250) return;
      last = now;
      const rate = bytes / Math.max(0.001, (now - t0) / 1000);
      writeStderr(`\r\u001b[K${label}: ${formatBytes(bytes)}, ${formatBytes(rate)}/s`);
      shown = true;
    },
    done() {
      if (shown) writeStderr("\r\u001b[K");
    },
  };
}

/**
 * Asks before something that replaces data: --yes answers, a terminal asks, and
 * without a terminal it is a usage error naming --yes (never a silent yes).
 */
export async function confirmOrFail(ctx: Context, o: { what: string; question: string; nothingChanged: string }): Promise<void> {
  if (ctx.yes) return;
  if (!stdinIsTTY()) throw new UsageError(`${o.what}: confirmation needed, and there is no terminal to ask on`, "pass --yes to confirm (see --dry-run for the plan)");
  const question = o.question;
  const nothingChanged = o.nothingChanged;
  const answer = await confirm({ message: question, initialValue: false, output: promptOutput() as never, signal: ctx.interrupt.signal });
  ctx.interrupt.check(`at the confirmation prompt, ${nothingChanged}`);
  if (isCancel(answer) || !answer) throw new PgshipError("cancelled", `cancelled, ${nothingChanged}`, { exitCode: ExitCode.interrupted });
}
