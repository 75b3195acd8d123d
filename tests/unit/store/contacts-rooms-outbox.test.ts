// Must come first: Dexie picks up the global indexedDB when it is first imported.
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from 'vitest';
import { acceptContactKey, pinContactKey, setContactVerified } from '../../../client/src/core/store/contacts.ts';
import type { ChatDatabase } from '../../../client/src/core/store/db.ts';
import { addMessages } from '../../../client/src/core/store/messages.ts';
import { enqueueOutbox, pendingOutbox, removeFromOutbox } from '../../../client/src/core/store/outbox.ts';
import { countUnread, listRooms, markRoomRead, saveRoom } from '../../../client/src/core/store/rooms.ts';
import { DAY_MS, makeMessage, ManualClock, openFreshDb, T0 } from './helpers.ts';
import { purgeExpired } from '../../../client/src/core/store/retention.ts';

const dbs: ChatDatabase[] = [];
afterEach(() => {
  for (const db of dbs.splice(0)) db.close();
});
function fresh(): ChatDatabase {
  const db = openFreshDb();
  dbs.push(db);
  return db;
}
const clock = new ManualClock(T0);

describe('contacts', () => {
  it('pins the first key seen and reports a changed key without replacing it', async () => {
    const db = fresh();
    expect((await pinContactKey(db, 'binh', 'a2V5MQ', clock)).status).toBe('new');
    expect((await pinContactKey(db, 'binh', 'a2V5MQ', clock)).status).toBe('same');
    expect(await setContactVerified(db, 'binh', 'a2V5MQ', true)).toBe(true);

    const changed = await pinContactKey(db, 'binh', 'a2V5Mg', clock);
    expect(changed).toMatchObject({ status: 'changed', offeredKey: 'a2V5Mg', contact: { publicKey: 'a2V5MQ' } });
    expect((await db.contacts.get('binh'))?.publicKey).toBe('a2V5MQ');
    // Verifying must name the key that was compared.
    expect(await setContactVerified(db, 'binh', 'a2V5Mg', true)).toBe(false);

    const accepted = await acceptContactKey(db, 'binh', 'a2V5Mg', new ManualClock(T0 + 5));
    expect(accepted).toMatchObject({ publicKey: 'a2V5Mg', previousKey: 'a2V5MQ', keyChangedAt: T0 + 5, verified: false });
  });

  it('two tabs pinning at once keep one key', async () => {
    const db = fresh();
    const results = await Promise.all([pinContactKey(db, 'chi', 'Zmlyc3Q', clock), pinContactKey(db, 'chi', 'c2Vjb25k', clock)]);
    expect(results.map((r) => r.status).sort()).toEqual(['changed', 'new']);
    expect(await db.contacts.count()).toBe(1);
  });
});

describe('rooms', () => {
  it('lists rooms by latest activity and counts unread messages', async () => {
    const db = fresh();
    await saveRoom(db, { name: 'general', locked: false }, clock);
    await saveRoom(db, { name: 'family', locked: true }, clock);
    await addMessages(db, [1, 2, 3].map((i) => makeMessage({ room: 'family', sentAt: T0 + i })), clock);
    expect((await listRooms(db)).map((r) => r.name)).toEqual(['family', 'general']);
    expect(await countUnread(db, 'family')).toBe(3);
    await markRoomRead(db, 'family', T0 + 2);
    expect(await countUnread(db, 'family')).toBe(1);
    // Joining again keeps the read position.
    await saveRoom(db, { name: 'family', locked: true }, new ManualClock(T0 + 100));
    expect(await countUnread(db, 'family')).toBe(1);
  });
});

describe('outbox', () => {
  it('keeps frames for an offline member, once each, in order, until acknowledged or expired', async () => {
    const db = fresh();
    const entry = (messageId: string, room = 'general') => ({ room, to: 'binh', messageId, payload: `{"id":"${messageId}"}`, sentAt: T0 });
    const first = await enqueueOutbox(db, entry('m1'), clock);
    expect(await enqueueOutbox(db, entry('m1'), clock)).toBe(first);
    await enqueueOutbox(db, entry('m2', 'family'), clock);
    await enqueueOutbox(db, entry('m3'), clock);
    await enqueueOutbox(db, { ...entry('m1'), to: 'chi' }, clock);

    expect((await pendingOutbox(db, 'binh')).map((o) => o.messageId)).toEqual(['m1', 'm2', 'm3']);
    expect((await pendingOutbox(db, 'binh', 'general')).map((o) => o.messageId)).toEqual(['m1', 'm3']);

    expect(await removeFromOutbox(db, 'binh', 'm1')).toBe(1);
    expect((await pendingOutbox(db, 'binh')).map((o) => o.messageId)).toEqual(['m2', 'm3']);
    expect((await pendingOutbox(db, 'chi')).map((o) => o.messageId)).toEqual(['m1']);

    await purgeExpired(db, new ManualClock(T0 + 7 * DAY_MS));
    expect(await db.outbox.count()).toBe(0);
  });
});
