import Dexie from 'dexie';
import { systemClock, type Clock } from './clock.ts';
import type { ChatDatabase, OutboxRow } from './db.ts';
import { wrapQuota } from './quota.ts';
import { expiresAtFor } from './retention.ts';

/**
 * Frames waiting for a member who was offline, resent when the two meet again. Entries
 * expire with their message: nothing is delivered after the sender has forgotten it.
 */

export interface NewOutboxEntry {
  room: string;
  to: string;
  messageId: string;
  payload: string;
  /** The message's sentAt, which sets the entry's expiry. */
  sentAt: number;
}

/** Queues a frame for `to`; the same message is queued at most once per recipient. */
export async function enqueueOutbox(db: ChatDatabase, entry: NewOutboxEntry, clock: Clock = systemClock): Promise<number | undefined> {
  const now = clock.now();
  const expiresAt = expiresAtFor(entry.sentAt, now);
  if (expiresAt <= now) return undefined;
  return wrapQuota(() =>
    db.transaction('rw', db.outbox, async () => {
      const queued = await db.outbox.where('messageId').equals(entry.messageId).and((o) => o.to === entry.to).first();
      if (queued) return queued.seq;
      return db.outbox.add({ room: entry.room, to: entry.to, messageId: entry.messageId, payload: entry.payload, createdAt: now, expiresAt });
    }),
  );
}

/** What waits for `to` (in one room, or everywhere), oldest first. */
export function pendingOutbox(db: ChatDatabase, to: string, room?: string): Promise<OutboxRow[]> {
  if (room !== undefined) return db.outbox.where('[to+room]').equals([to, room]).sortBy('seq');
  return db.outbox.where('[to+seq]').between([to, Dexie.minKey], [to, Dexie.maxKey], true, true).toArray();
}

/** The recipient acknowledged the message: stop resending it to them. */
export async function removeFromOutbox(db: ChatDatabase, to: string, messageId: string): Promise<number> {
  return db.outbox.where('messageId').equals(messageId).and((o) => o.to === to).delete();
}
