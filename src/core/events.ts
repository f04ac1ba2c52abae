// What the core reports while it works. Renderers (plain log lines, the wizard,
// JSON) subscribe; the core never prints.

import type { LockHolder } from "../db/lock.ts";

export type StepLabel = { kind: "snapshot" | "up" | "down" | "baseline"; version: string; name: string; resume?: boolean };

export type RunEvent =
  | { type: "connected"; target: string; serverVersion: string }
  | { type: "connect-retry"; reason: string; delayMs: number }
  | { type: "lock-wait"; holder: LockHolder | null }
  | { type: "plan"; action: string; steps: StepLabel[] }
  | { type: "step-start"; step: StepLabel }
  | { type: "step-done"; step: StepLabel; durationMs: number }
  | { type: "step-retry"; step: StepLabel; attempt: number; delayMs: number; reason: string }
  | { type: "invalid-index-dropped"; index: string }
  | { type: "notice"; message: string }
  /** Bytes written or read so far by a backup or restore (a few times a second at most). */
  | { type: "bytes"; label: string; bytes: number; bytesPerSecond: number }
  /** The byte count of `label` is finished (a progress line drawn for it goes away). */
  | { type: "bytes-done"; label: string }
  | { type: "debug"; message: string }
  | { type: "info"; message: string }
  | { type: "warn"; message: string };

export type Emit = (e: RunEvent) => void;
