// wait: block until the database accepts connections (container entrypoints).

import type { ArgsDef } from "citty";
import { describeTarget } from "../core/config.ts";
import { formatDuration } from "../core/duration.ts";
import { ExitCode } from "../core/errors.ts";
import { connect } from "../db/connect.ts";
import { brand, type Context } from "../cli/context.ts";
import { durationFlag, type Args } from "../cli/flags.ts";

export const args = {
  timeout: { type: "string", description: "Give up after this long", default: "60s", valueHint: "duration" },
} as const satisfies ArgsDef;

export const usage = `Examples:
  ${brand.binary} wait --timeout 2min && ${brand.binary} up`;

export async function run(ctx: Context, a: Args): Promise<number> {
  const timeout = durationFlag(a.timeout, "timeout") ?? 60_000;
  const t0 = performance.now();
  const db = await connect(ctx.target(), {
    applicationName: `${brand.binary} wait`,
    waitMs: timeout,
    interrupt: ctx.interrupt,
    connectTimeoutSec: Math.max(1, Math.min(10, Math.ceil(timeout / 1000))),
    onRetry: (reason, delayMs) => ctx.emit({ type: "connect-retry", reason, delayMs }),
  });
  await db.close();
  const ms = performance.now() - t0;
  ctx.result({ ok: true, database: describeTarget(db.target), serverVersion: db.serverVersion, waitedMs: Math.round(ms) }, () =>
    `Ready: ${describeTarget(db.target)} (PostgreSQL ${db.serverVersion}) after ${formatDuration(ms)}.`,
  );
  return ExitCode.ok;
}
