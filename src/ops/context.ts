// What an operation gets. Operations (src/ops/*) take this plus a typed options
// object and return a typed outcome; they never print, never read argv or flags,
// and report progress and warnings only through `emit`. The CLI (text, --json)
// and the wizard are two renderers of the same outcome and the same events.

import type { ConnectionTarget } from "../core/config.ts";
import type { Emit } from "../core/events.ts";
import type { Redactor } from "../core/redact.ts";
import type { Interrupt } from "../core/cancel.ts";
import type { Db } from "../db/connect.ts";
import type { LoadedIndex, LoadedSet } from "../source.ts";

export interface OpContext {
  /** The one event stream: progress, lock waits, warnings. */
  emit: Emit;
  /** Cancellation from SIGINT/SIGTERM (or the wizard's Ctrl-C). */
  interrupt: Interrupt;
  /** The tracking schema. */
  schema: string;
  lockTimeoutMs: number;
  waitMs: number;
  /** Secrets to scrub from anything recorded or shown. */
  secrets: Redactor;
  /** The binary's name, for the commands named in hints. */
  binary: string;
  target(): ConnectionTarget;
  migrations(opts?: { preferDisk?: boolean; withoutSnapshot?: boolean }): Promise<LoadedSet>;
  /** The migrations without their SQL (all `status` needs); the whole set when that is loaded already. */
  migrationIndex(opts?: { withoutSnapshot?: boolean }): Promise<LoadedIndex>;
  connect(command: string): Promise<Db>;
  /**
   * Asks the person running the operation. The CLI answers from --yes or a
   * terminal prompt (and fails naming --yes without one); the wizard asks on its screen.
   * `what`: what needs the answer, for that failure ("restore replaces database \"app\"").
   */
  confirm(question: string, what?: string): Promise<boolean>;
  /** The command line as recorded in the history (secrets replaced). */
  invocation: string;
}
