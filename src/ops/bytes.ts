// Byte progress of a backup or restore as events: at most four a second, with
// the rate since the start, and a closing `bytes-done`.

import type { Emit } from "../core/events.ts";

export interface BytesProgress {
  update(bytes: number): void;
  done(): void;
}

export function bytesProgress(emit: Emit, label: string, everyMs = 250): BytesProgress {
  const t0 = performance.now();
  let last = -Infinity;
  let sent = false;
  let held: number | null = null;
  const send = (bytes: number, now: number) => {
    last = now;
    sent = true;
    held = null;
    emit({ type: "bytes", label, bytes, bytesPerSecond: bytes / Math.max(0.001, (now - t0) / 1000) });
  };
  return {
    update(bytes) {
      const now = performance.now();
      if (now - last < everyMs) held = bytes;
      else send(bytes, now);
    },
    done() {
      // The final count, when the last update was held back.
      if (held !== null) send(held, performance.now());
      if (sent) emit({ type: "bytes-done", label });
      sent = false;
    },
  };
}
