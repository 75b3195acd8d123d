import { PROGRESS_INTERVAL_MS, SPEED_HALF_LIFE_MS } from './limits.ts';

export type TransferDirection = 'send' | 'receive';

/**
 * Where a transfer stands. Sender: waiting (recipient offline) -> offered -> sending ->
 * done. Receiver: receiving -> verifying -> verified. Either side may
 * become interrupted (channel lost; resumes when it is back), failed or cancelled.
 */
export type TransferState =
  | 'waiting'
  | 'offered'
  | 'sending'
  | 'receiving'
  | 'interrupted'
  | 'verifying'
  | 'verified'
  | 'done'
  | 'failed'
  | 'cancelled';

/**
 * Time left as people read it: "45 s", "12 min", "1 h 5 min". Minutes round up, so the
 * last minute never reads "0 min".
 */
export function formatTimeLeft(ms: number): string {
  const seconds = Math.max(1, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.ceil(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return minutes % 60 === 0 ? `${hours} h` : `${hours} h ${minutes % 60} min`;
}

/** States a transfer never leaves. */
export const FINAL_STATES: ReadonlySet<TransferState> = new Set(['verified', 'done', 'failed', 'cancelled']);

export interface TransferProgress {
  id: string;
  /** The other side: recipient when sending, sender when receiving (case-folded). */
  peer: string;
  direction: TransferDirection;
  /** Bytes handed to the channel (sending) or stored (receiving). */
  bytes: number;
  total: number;
  /** Smoothed over the last few seconds; 0 until measurable. */
  bytesPerSecond: number;
  /** Estimated time left, or null while the speed is unknown. */
  etaMs: number | null;
}

/**
 * Speed and time-left for one transfer: an exponentially weighted moving average, so a
 * stall shows as slowing down rather than a jumpy number; reports at most every
 * PROGRESS_INTERVAL_MS unless forced (first and last report).
 */
export class ProgressMeter {
  readonly #total: number;
  readonly #now: () => number;
  #lastAt: number;
  #lastBytes: number;
  #reportedAt = -Infinity;
  #speed = 0;
  #bytes = 0;

  constructor(total: number, startBytes: number, now: () => number) {
    this.#total = total;
    this.#now = now;
    this.#lastAt = now();
    this.#lastBytes = startBytes;
    this.#bytes = startBytes;
  }

  /** Restart the clock (after a resume) without forgetting the bytes already moved. */
  restart(bytes: number): void {
    this.#lastAt = this.#now();
    this.#lastBytes = bytes;
    this.#bytes = bytes;
  }

  /** Records the byte count; returns a snapshot when one is due. */
  update(bytes: number, force = false): { bytes: number; total: number; bytesPerSecond: number; etaMs: number | null } | null {
    const now = this.#now();
    this.#bytes = bytes;
    const dt = now - this.#lastAt;
    if (dt > 0) {
      const instant = ((bytes - this.#lastBytes) * 1000) / dt;
      const alpha = 1 - Math.pow(0.5, dt / SPEED_HALF_LIFE_MS);
      this.#speed = this.#speed === 0 ? instant : this.#speed + alpha * (instant - this.#speed);
      this.#lastAt = now;
      this.#lastBytes = bytes;
    }
    if (!force && now - this.#reportedAt < PROGRESS_INTERVAL_MS) return null;
    this.#reportedAt = now;
    return this.snapshot();
  }

  snapshot(): { bytes: number; total: number; bytesPerSecond: number; etaMs: number | null } {
    const left = Math.max(0, this.#total - this.#bytes);
    const speed = Math.max(0, this.#speed);
    return {
      bytes: this.#bytes,
      total: this.#total,
      bytesPerSecond: Math.round(speed),
      etaMs: left === 0 ? 0 : speed > 0 ? Math.round((left / speed) * 1000) : null,
    };
  }
}

/** Where one transfer of a file stands, as a view shows it. */
export interface TransferLine {
  state: TransferState;
  bytes: number;
  total: number;
  bytesPerSecond: number;
  etaMs: number | null;
  error?: string;
}

/** Among recipients still being sent to, the state worth showing first. */
const MOVING_ORDER: readonly TransferState[] = ['sending', 'interrupted', 'offered', 'waiting'];

/**
 * One line for a file sent to several recipients (one transfer each): moving while any
 * transfer is (its most telling state: sending, else interrupted, offered, waiting), the
 * bytes of all of them together over all their sizes, the speed of those sending and the
 * time left of the slowest of them; once none moves, done if any recipient has it, else
 * the first failure. A recipient that failed or cancelled leaves the bar: its bytes will
 * not be sent.
 */
export function combineSendLines(lines: readonly TransferLine[]): TransferLine {
  const moving = MOVING_ORDER.find((s) => lines.some((l) => l.state === s));
  const counted = lines.filter((l) => l.state !== 'failed' && l.state !== 'cancelled');
  const bytes = counted.reduce((n, l) => n + (l.state === 'done' ? l.total : l.bytes), 0);
  const total = counted.reduce((n, l) => n + l.total, 0);
  const sending = lines.filter((l) => l.state === 'sending');
  const etas = sending.map((l) => l.etaMs);
  const base = {
    bytes,
    total,
    bytesPerSecond: sending.reduce((n, l) => n + l.bytesPerSecond, 0),
    etaMs: moving === undefined ? 0 : etas.length === 0 || etas.includes(null) ? null : Math.max(...(etas as number[])),
  };
  if (moving) return { ...base, state: moving };
  if (lines.some((l) => l.state === 'done')) return { ...base, state: 'done' };
  const failed = lines.find((l) => l.state === 'failed') ?? lines[0];
  if (!failed) return { ...base, state: 'waiting' };
  return { ...base, state: failed.state, ...(failed.error ? { error: failed.error } : {}) };
}
