// Must come first: Dexie picks up the global indexedDB when it is first imported.
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { addFile, putChunk } from '../../../client/src/core/store/files.ts';
import { HISTORY_TTL_MS, MAX_FUTURE_SKEW_MS } from '../../../client/src/core/store/limits.ts';
import { addMessage, addMessages } from '../../../client/src/core/store/messages.ts';
import { enqueueOutbox } from '../../../client/src/core/store/outbox.ts';
import { purgeExpired, startRetention, type PurgeCounts } from '../../../client/src/core/store/retention.ts';
import { DAY_MS, makeFile, makeMessage, ManualClock, openFreshDb, T0 } from './helpers.ts';

const dbs: { close(): void }[] = [];
afterEach(() => {
  for (const db of dbs.splice(0)) db.close();
});

function track<T extends { close(): void }>(db: T): T {
  dbs.push(db);
  return db;
}

describe('retention', () => {
  it('forgets messages and file data 7 days after they were sent, and keeps the rest', async () => {
    const db = track(openFreshDb());
    const clock = new ManualClock(T0 + 3 * DAY_MS);

    const oldMsg = makeMessage({ sentAt: T0 });
    const newMsg = makeMessage({ sentAt: T0 + 3 * DAY_MS });
    await addMessage(db, oldMsg, clock);
    await addMessage(db, newMsg, clock);

    const oldFile = makeFile({ sentAt: T0 });
    const newFile = makeFile({ sentAt: T0 + 3 * DAY_MS });
    for (const file of [oldFile, newFile]) {
      await addFile(db, file, clock);
      for (let i = 0; i < 3; i++) await putChunk(db, file.id, i, new Uint8Array([i, i, i]));
    }
    await enqueueOutbox(db, { room: 'general', to: 'binh', messageId: oldMsg.id, payload: '{}', sentAt: oldMsg.sentAt }, clock);
    await enqueueOutbox(db, { room: 'general', to: 'binh', messageId: newMsg.id, payload: '{}', sentAt: newMsg.sentAt }, clock);

    // Nothing is due yet.
    expect(await purgeExpired(db, clock)).toEqual({ messages: 0, files: 0, chunks: 0, outbox: 0 });

    clock.time = T0 + 7 * DAY_MS;
    expect(await purgeExpired(db, clock)).toEqual({ messages: 1, files: 1, chunks: 3, outbox: 1 });

    expect(await db.messages.toCollection().primaryKeys()).toEqual([newMsg.id]);
    expect(await db.files.toCollection().primaryKeys()).toEqual([newFile.id]);
    expect(await db.chunks.where('fileId').equals(oldFile.id).count()).toBe(0);
    expect(await db.chunks.where('fileId').equals(newFile.id).count()).toBe(3);
    expect((await db.outbox.toArray()).map((o) => o.messageId)).toEqual([newMsg.id]);
    // Search words go with the row.
    expect(await db.messages.where('words').equals('hello').count()).toBe(1);

    clock.time = T0 + 10 * DAY_MS;
    expect(await purgeExpired(db, clock)).toEqual({ messages: 1, files: 1, chunks: 3, outbox: 1 });
    expect(await db.messages.count()).toBe(0);
    expect(await db.chunks.count()).toBe(0);
  });

  it('clears a large backlog in small transactions of 500 rows', async () => {
    const db = track(openFreshDb());
    const clock = new ManualClock(T0);
    const expired = Array.from({ length: 1200 }, (_, i) => makeMessage({ sentAt: T0 - 8 * DAY_MS + i }));
    const fresh = Array.from({ length: 30 }, (_, i) => makeMessage({ sentAt: T0 - DAY_MS + i }));
    expect(await addMessages(db, expired, new ManualClock(T0 - 8 * DAY_MS + 2000))).toBe(1200);
    expect(await addMessages(db, fresh, clock)).toBe(30);

    const transaction = vi.spyOn(db, 'transaction');
    const counts = await purgeExpired(db, clock, 500);
    expect(counts.messages).toBe(1200);
    expect(await db.messages.count()).toBe(30);
    // 500 + 500 + 200: three transactions on messages, never one holding all 1,200.
    const onMessages = transaction.mock.calls.filter((args) => (args as unknown[])[1] === db.messages);
    expect(onMessages).toHaveLength(3);
  });

  it('purges at start-up and again on a timer, until stopped', async () => {
    const db = track(openFreshDb());
    const clock = new ManualClock(T0);
    await addMessage(db, makeMessage({ sentAt: T0 - 6 * DAY_MS }), new ManualClock(T0 - 6 * DAY_MS));
    await addMessage(db, makeMessage({ sentAt: T0 }), clock);
    clock.time = T0 + DAY_MS + 1; // the first message is now past its 7 days

    const purged: PurgeCounts[] = [];
    const errors: unknown[] = [];
    const stop = startRetention(db, clock, 25, { onPurged: (c) => purged.push(c), onError: (e) => errors.push(e) });
    await vi.waitFor(() => expect(purged[0]?.messages).toBe(1));
    expect(await db.messages.count()).toBe(1);

    clock.time = T0 + 8 * DAY_MS;
    await vi.waitFor(() => expect(purged.some((c) => c.messages === 1 && c !== purged[0])).toBe(true));
    expect(await db.messages.count()).toBe(0);

    stop();
    const runs = purged.length;
    await new Promise((r) => setTimeout(r, 100));
    expect(purged.length).toBe(runs);
    expect(errors).toEqual([]);
  });

  it('does not let a claimed future send time outlive the 7-day promise', async () => {
    const db = track(openFreshDb());
    const clock = new ManualClock(T0);
    const liar = makeMessage({ sentAt: T0 + 365 * DAY_MS });
    await addMessage(db, liar, clock);
    const row = await db.messages.get(liar.id);
    expect(row?.expiresAt).toBe(T0 + MAX_FUTURE_SKEW_MS + HISTORY_TTL_MS);

    clock.time = T0 + 8 * DAY_MS;
    await purgeExpired(db, clock);
    expect(await db.messages.get(liar.id)).toBeUndefined();
  });

  it('refuses to store relayed history that is already older than 7 days', async () => {
    const db = track(openFreshDb());
    const clock = new ManualClock(T0);
    expect(await addMessage(db, makeMessage({ sentAt: T0 - 7 * DAY_MS }), clock)).toBe(false);
    expect(await addFile(db, makeFile({ sentAt: T0 - 8 * DAY_MS }), clock)).toBe(false);
    expect(await db.messages.count()).toBe(0);
  });
});
