import type { Dexie, IndexableType, Table } from 'dexie';
import { systemClock, type Clock } from './clock.ts';
import type { ChatDatabase } from './db.ts';
import { HISTORY_TTL_MS, MAX_FUTURE_SKEW_MS, PURGE_BATCH, PURGE_INTERVAL_MS } from './limits.ts';

/**
 * The 7-day promise: when a row sent at `sentAt` must be gone. A `sentAt` further in the
 * future than clock skew explains is not trusted, so nobody can make a message outlive
 * the promise by lying about when it was sent.
 */
export function expiresAtFor(sentAt: number, now: number): number {
  return Math.min(sentAt, now + MAX_FUTURE_SKEW_MS) + HISTORY_TTL_MS;
}

export interface PurgeCounts {
  messages: number;
  files: number;
  chunks: number;
  outbox: number;
}

/** Deletes expired rows of one table, `batch` per transaction, until none are left. */
async function purgeTable<T extends { expiresAt: number }, K extends IndexableType, I>(
  db: Dexie,
  table: Table<T, K, I>,
  now: number,
  batch: number,
): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted = await db.transaction('rw', table, async () => {
      const keys = await table.where('expiresAt').belowOrEqual(now).limit(batch).primaryKeys();
      await table.bulkDelete(keys);
      return keys.length;
    });
    total += deleted;
    if (deleted < batch) return total;
  }
}

/**
 * Deletes everything whose time is up, by the `expiresAt` index, in small transactions so
 * a purge after weeks away never blocks the chat's own writes for long.
 * Chunks go first: if the purge is interrupted, no manifest is left pointing at chunks
 * that are half gone without also being expired itself.
 */
export async function purgeExpired(
  db: ChatDatabase,
  clock: Clock = systemClock,
  batch: number = PURGE_BATCH,
): Promise<PurgeCounts> {
  if (!Number.isInteger(batch) || batch < 1) throw new RangeError('purge batch must be a positive integer');
  const now = clock.now();
  const chunks = await purgeTable(db, db.chunks, now, batch);
  const files = await purgeTable(db, db.files, now, batch);
  const messages = await purgeTable(db, db.messages, now, batch);
  const outbox = await purgeTable(db, db.outbox, now, batch);
  return { messages, files, chunks, outbox };
}

export interface RetentionHooks {
  onPurged?: (counts: PurgeCounts) => void;
  /** A failed purge is reported here and retried on the next tick; it never throws. */
  onError?: (error: unknown) => void;
}

/**
 * Purges at once (start-up) and then every `intervalMs`. Returns a stop function.
 * Runs never overlap: a slow purge simply makes the next tick a no-op.
 */
export function startRetention(
  db: ChatDatabase,
  clock: Clock = systemClock,
  intervalMs: number = PURGE_INTERVAL_MS,
  hooks: RetentionHooks = {},
): () => void {
  let running = false;
  let stopped = false;
  const run = async (): Promise<void> => {
    if (running || stopped) return;
    running = true;
    try {
      const counts = await purgeExpired(db, clock);
      if (!stopped) hooks.onPurged?.(counts);
    } catch (e) {
      if (!stopped) hooks.onError?.(e);
    } finally {
      running = false;
    }
  };
  void run();
  const timer = setInterval(() => void run(), intervalMs);
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
