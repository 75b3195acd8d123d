// Must come first: Dexie picks up the global indexedDB when it is first imported.
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChatDatabase, MessageRow } from '../../../client/src/core/store/db.ts';
import { addFile, putChunk } from '../../../client/src/core/store/files.ts';
import {
  addMessage,
  addMessages,
  deleteRoom,
  markDelivered,
  markSent,
  messagesSince,
  recentMessages,
  type MessageCursor,
} from '../../../client/src/core/store/messages.ts';
import { enqueueOutbox } from '../../../client/src/core/store/outbox.ts';
import { saveRoom } from '../../../client/src/core/store/rooms.ts';
import { HISTORY_TTL_MS } from '../../../client/src/core/store/limits.ts';
import { makeFile, makeMessage, ManualClock, openFreshDb, T0 } from './helpers.ts';

const dbs: ChatDatabase[] = [];
afterEach(() => {
  for (const db of dbs.splice(0)) db.close();
});
function fresh(): ChatDatabase {
  const db = openFreshDb();
  dbs.push(db);
  return db;
}
const clock = new ManualClock(T0 + 60_000);

const cursorOf = (m: MessageRow | undefined): MessageCursor => {
  if (!m) throw new Error('empty page');
  return { sentAt: m.sentAt, id: m.id };
};

describe('messages', () => {
  it('stores a replayed or twice-relayed message only once', async () => {
    const db = fresh();
    const m = makeMessage({ body: 'xin chào' });
    expect(await addMessage(db, m, clock)).toBe(true);
    expect(await addMessage(db, { ...m, body: 'tampered copy' }, clock)).toBe(false);
    expect(await addMessages(db, [m, makeMessage(), makeMessage()].map((x) => ({ ...x })), clock)).toBe(2);
    const twice = makeMessage();
    expect(await addMessages(db, [twice, twice], clock)).toBe(1);
    expect(await db.messages.count()).toBe(4);
    expect((await db.messages.get(m.id))?.body).toBe('xin chào');
  });

  it('derives search words and expiry itself', async () => {
    const db = fresh();
    const m = makeMessage({ body: 'Chào Bạn', sentAt: T0 });
    await addMessage(db, m, clock);
    const row = await db.messages.get(m.id);
    expect(row?.words).toEqual(['chao', 'ban']);
    expect(row?.expiresAt).toBe(T0 + HISTORY_TTL_MS);
    expect(row?.receivedAt).toBe(clock.now());
  });

  it('opens a room on its latest messages, oldest first, and scrolls back without gaps', async () => {
    const db = fresh();
    // 120 messages, many sharing a timestamp, to exercise the tie-break.
    const rows = Array.from({ length: 120 }, (_, i) => makeMessage({ sentAt: T0 + Math.floor(i / 7) }));
    await addMessages(db, [...rows, makeMessage({ room: 'other', sentAt: T0 + 1000 })], clock);

    const page = await recentMessages(db, 'general', 50);
    expect(page).toHaveLength(50);
    const times = page.map((m) => m.sentAt);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(page.at(-1)?.sentAt).toBe(T0 + Math.floor(119 / 7));
    expect(page.every((m) => m.room === 'general')).toBe(true);

    const seen = [...page];
    let before = cursorOf(page[0]);
    for (;;) {
      const older = await recentMessages(db, 'general', 50, before);
      if (older.length === 0) break;
      seen.unshift(...older);
      before = cursorOf(older[0]);
    }
    expect(seen).toHaveLength(120);
    expect(new Set(seen.map((m) => m.id)).size).toBe(120);
    expect(new Set(seen.map((m) => m.id))).toEqual(new Set(rows.map((m) => m.id)));
  });

  it('pages history for a late joiner without gaps, repeats or others’ private messages', async () => {
    const db = fresh();
    const rows = Array.from({ length: 45 }, (_, i) => makeMessage({ sentAt: T0 + Math.floor(i / 4), from: 'an' }));
    const toBinh = makeMessage({ sentAt: T0 + 1, from: 'an', to: 'binh', body: 'for binh' });
    const fromBinh = makeMessage({ sentAt: T0 + 2, from: 'binh', to: 'an', body: 'from binh' });
    const toChi = makeMessage({ sentAt: T0 + 3, from: 'an', to: 'chi', body: 'secret for chi' });
    await addMessages(db, [...rows, toBinh, fromBinh, toChi], clock);

    const synced: MessageRow[] = [];
    let page = await messagesSince(db, 'general', T0, 10, { visibleTo: 'binh' });
    while (page.length > 0) {
      synced.push(...page);
      page = await messagesSince(db, 'general', cursorOf(page.at(-1)), 10, { visibleTo: 'binh' });
    }
    const ids = synced.map((m) => m.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(47);
    expect(ids).toContain(toBinh.id);
    expect(ids).toContain(fromBinh.id);
    expect(ids).not.toContain(toChi.id);
    const times = synced.map((m) => m.sentAt);
    expect(times).toEqual([...times].sort((a, b) => a - b));

    // Usernames are case-insensitive: asked for as 'Binh', the same messages.
    const cased = await messagesSince(db, 'general', T0, 100, { visibleTo: 'Binh' });
    expect(cased.map((m) => m.id).sort()).toEqual([...ids].sort());

    // From a later time only.
    const late = await messagesSince(db, 'general', T0 + 10, 100);
    expect(late.every((m) => m.sentAt >= T0 + 10)).toBe(true);
    expect(late).toHaveLength(rows.filter((m) => m.sentAt >= T0 + 10).length);
  });

  it('shows who received a message, each person once', async () => {
    const db = fresh();
    const m = makeMessage({ status: 'sending' });
    await addMessage(db, m, clock);
    expect(await markSent(db, m.id)).toBe(true);
    expect((await db.messages.get(m.id))?.status).toBe('sent');
    await markDelivered(db, m.id, 'binh');
    await markDelivered(db, m.id, 'binh');
    await markDelivered(db, m.id, 'chi');
    // A late "sent" never downgrades "delivered".
    await markSent(db, m.id);
    const row = await db.messages.get(m.id);
    expect(row?.status).toBe('delivered');
    expect(row?.deliveredTo).toEqual(['binh', 'chi']);
    expect(await markDelivered(db, 'no-such-id', 'binh')).toBe(false);
  });

  it('moves a room up the list when a message arrives', async () => {
    const db = fresh();
    await saveRoom(db, { name: 'general', locked: false }, clock);
    await addMessage(db, makeMessage({ sentAt: T0 + 5 }), clock);
    await addMessage(db, makeMessage({ sentAt: T0 + 2 }), clock);
    expect((await db.rooms.get('general'))?.lastMessageAt).toBe(T0 + 5);
  });

  it('deleting a chat removes its messages, files, chunks and queued frames, and nothing else', async () => {
    const db = fresh();
    await saveRoom(db, { name: 'general', locked: false }, clock);
    await saveRoom(db, { name: 'family', locked: true }, clock);
    const mine = makeMessage({ room: 'general' });
    const theirs = makeMessage({ room: 'family' });
    await addMessages(db, [mine, theirs, makeMessage({ room: 'general' })], clock);
    const f1 = makeFile({ room: 'general' });
    const f2 = makeFile({ room: 'family' });
    for (const f of [f1, f2]) {
      await addFile(db, f, clock);
      await putChunk(db, f.id, 0, new Uint8Array([1, 2]));
    }
    await enqueueOutbox(db, { room: 'general', to: 'binh', messageId: mine.id, payload: 'x', sentAt: mine.sentAt }, clock);
    await enqueueOutbox(db, { room: 'family', to: 'binh', messageId: theirs.id, payload: 'y', sentAt: theirs.sentAt }, clock);

    await deleteRoom(db, 'general');

    expect(await db.rooms.toCollection().primaryKeys()).toEqual(['family']);
    expect((await db.messages.toArray()).map((m) => m.id)).toEqual([theirs.id]);
    expect(await db.files.toCollection().primaryKeys()).toEqual([f2.id]);
    expect((await db.chunks.toArray()).map((c) => c.fileId)).toEqual([f2.id]);
    expect((await db.outbox.toArray()).map((o) => o.messageId)).toEqual([theirs.id]);
  });
});
