// Cancellation: the one primitive SIGINT/SIGTERM (or the wizard's Ctrl-C)
// fire. The query in flight is cancelled so its transaction rolls back; every
// wait (connect retries, the migration lock, lock_timeout retries, child
// processes, prompts) watches `signal` and stops at once.

import { ExitCode, PgshipError } from "./errors.ts";

export function interrupted(what: string): PgshipError {
  return new PgshipError("interrupted", `interrupted ${what}`, { exitCode: ExitCode.interrupted });
}

export class Interrupt {
  private readonly controller = new AbortController();
  private current: { cancel(): unknown } | null = null;

  /** Aborted once the interrupt fires. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get interrupted(): boolean {
    return this.controller.signal.aborted;
  }

  /** Cancels `q` (a query) if the interrupt fires while it runs. */
  track<T>(q: Promise<T> & { cancel(): unknown }): Promise<T> {
    this.current = q;
    return q.finally(() => {
      if (this.current === q) this.current = null;
    });
  }

  fire(): void {
    if (this.interrupted) return;
    this.controller.abort();
    try {
      this.current?.cancel();
    } catch {
      // The query already finished; nothing to cancel.
    }
  }

  check(what = "before the next step started"): void {
    if (this.interrupted) throw interrupted(what);
  }

  /** Runs `fn` when the interrupt fires (at once if it already has); returns the unsubscribe. */
  onAbort(fn: () => void): () => void {
    if (this.interrupted) {
      fn();
      return () => undefined;
    }
    this.signal.addEventListener("abort", fn, { once: true });
    return () => this.signal.removeEventListener("abort", fn);
  }

  /** Waits `ms`; rejects with the interrupted error as soon as the interrupt fires. */
  sleep(ms: number, what = "while waiting"): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.interrupted) return reject(interrupted(what));
      const off = this.onAbort(() => {
        clearTimeout(timer);
        reject(interrupted(what));
      });
      const timer = setTimeout(() => {
        off();
        resolve();
      }, ms);
    });
  }

  /** Settles like `p`, or rejects with the interrupted error as soon as the interrupt fires. */
  race<T>(p: Promise<T>, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const off = this.onAbort(() => reject(interrupted(what)));
      p.then(
        (v) => {
          off();
          resolve(v);
        },
        (e) => {
          off();
          reject(e);
        },
      );
    });
  }
}

/**
 * The delay before retry number `attempt` (1, 2, ...) of a retry loop: `first` ms,
 * times `factor` each time, capped at `max`, spread by ±`jitter` (a fraction) when given.
 * Every waiting loop (connect, the migration lock, lock_timeout retries) uses it.
 */
export function backoff(attempt: number, o: { first: number; factor: number; max: number; jitter?: number }): number {
  const base = Math.min(o.first * o.factor ** (attempt - 1), o.max);
  return Math.round(o.jitter ? base * (1 - o.jitter + Math.random() * 2 * o.jitter) : base);
}
