import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../signaling/src/log.ts';
import { RedisLink } from '../../../signaling/src/redis.ts';
import { RedisRoomDirectory } from '../../../signaling/src/redis-rooms.ts';
import { MemoryRoomDirectory, type JoinRequest, type RoomDirectory } from '../../../signaling/src/rooms.ts';
import { haveRedis, NO_REDIS_MESSAGE, RedisServer } from '../../load/redis-server.ts';

const KEY = 'A'.repeat(43);
const MAX = 4;

function req(sid: string, user: string, room = 'lop 12a', extra: Partial<JoinRequest> = {}): JoinRequest {
  return {
    key: room.toLowerCase(),
    name: room,
    member: { socketId: sid, username: user, publicKey: KEY },
    userKey: user.toLowerCase(),
    create: true,
    ...extra,
  };
}

/** The same behaviour from every implementation: the server cannot tell them apart. */
function directoryBehaviour(name: string, make: () => Promise<RoomDirectory>) {
  describe(name, () => {
    let rooms: RoomDirectory;
    beforeAll(async () => {
      rooms = await make();
    });

    it('creates a room only when asked, then lets others join it', async () => {
      expect(await rooms.join(req('s1', 'An', 'Lop 1', { create: false }))).toEqual({ ok: false, reason: 'no-such-room' });
      const created = await rooms.join(req('s1', 'An', 'Lop 1'));
      expect(created).toMatchObject({ ok: true, created: true, displaced: [], room: { name: 'Lop 1', locked: false } });
      const joined = await rooms.join(req('s2', 'Binh', 'Lop 1', { create: true }));
      expect(joined).toMatchObject({ ok: true, created: false });
      if (joined.ok) expect(joined.room.members.map((m) => m.username).sort()).toEqual(['An', 'Binh']);
      expect(await rooms.shared('lop 1', ['s1', 's2'])).toBe('Lop 1');
      expect(await rooms.shared('lop 1', ['s1', 'nobody'])).toBeNull();
      expect((await rooms.list(10)).find((r) => r.name === 'Lop 1')).toEqual({ name: 'Lop 1', members: 2, locked: false });
    });

    it('forgets an empty room, and its password with it', async () => {
      await rooms.join(req('t1', 'An', 'Tmp', { verifier: 'v1' }));
      const left = await rooms.leave('tmp', 't1');
      expect(left).toMatchObject({ name: 'Tmp', members: [] });
      expect(await rooms.leave('tmp', 't1')).toBeNull();
      expect(await rooms.get('tmp')).toBeNull();
      // Re-created open: the old verifier is gone.
      expect(await rooms.join(req('t2', 'Binh', 'Tmp'))).toMatchObject({ ok: true, created: true, room: { locked: false } });
      await rooms.leave('tmp', 't2');
    });

    it('checks the password verifier and tells an open room from a locked one', async () => {
      expect(await rooms.join(req('p1', 'An', 'Secret', { verifier: 'digest-1' }))).toMatchObject({ ok: true, room: { locked: true } });
      expect(await rooms.join(req('p2', 'Binh', 'Secret', { verifier: 'digest-2', create: false }))).toEqual({ ok: false, reason: 'bad-password' });
      expect(await rooms.join(req('p2', 'Binh', 'Secret', { create: false }))).toEqual({ ok: false, reason: 'bad-password' });
      expect(await rooms.join(req('p2', 'Binh', 'Secret', { verifier: 'digest-1', create: false }))).toMatchObject({ ok: true });
      await rooms.join(req('o1', 'An', 'Open'));
      expect(await rooms.join(req('o2', 'Binh', 'Open', { verifier: 'digest-1' }))).toEqual({ ok: false, reason: 'room-is-open' });
      expect((await rooms.list(50)).find((r) => r.name === 'Secret')).toMatchObject({ locked: true, members: 2 });
    });

    it('holds at most the member cap, counting a returning user once', async () => {
      for (let i = 0; i < MAX; i++) expect((await rooms.join(req(`f${i}`, `user${i}`, 'Full'))).ok).toBe(true);
      expect(await rooms.join(req('f-extra', 'Late', 'Full'))).toEqual({ ok: false, reason: 'room-full' });
      // user0 reloads its tab: the new socket takes the old seat even though the room is full.
      const back = await rooms.join(req('f0-new', 'user0', 'Full'));
      expect(back).toMatchObject({ ok: true, displaced: ['f0'] });
      if (back.ok) expect(back.room.members.map((m) => m.socketId).sort()).toEqual(['f0-new', 'f1', 'f2', 'f3']);
      // Joining again with the same socket is idempotent.
      expect(await rooms.join(req('f1', 'user1', 'Full'))).toMatchObject({ ok: true, displaced: [] });
      expect((await rooms.get('full'))?.members).toHaveLength(MAX);
    });

    it('gives one seat per user, case-insensitively', async () => {
      await rooms.join(req('u1', 'Chi', 'Seats'));
      const again = await rooms.join({ ...req('u2', 'CHI', 'Seats'), userKey: 'chi' });
      expect(again).toMatchObject({ ok: true, displaced: ['u1'] });
      expect((await rooms.get('seats'))?.members.map((m) => m.socketId)).toEqual(['u2']);
      expect(await rooms.leave('seats', 'u1')).toBeNull();
    });

    it('lists the busiest rooms first, at most as many as asked', async () => {
      const list = await rooms.list(2);
      expect(list).toHaveLength(2);
      expect(list[0]!.members).toBeGreaterThanOrEqual(list[1]!.members);
      expect(await rooms.count()).toBeGreaterThanOrEqual(4);
    });

    it('versions every roster: each change of members outranks the one before', async () => {
      const a = await rooms.join(req('v1', 'An', 'Versions'));
      const b = await rooms.join(req('v2', 'Binh', 'Versions'));
      const left = await rooms.leave('versions', 'v1');
      if (!a.ok || !b.ok || !left) throw new Error('join or leave refused');
      expect(b.room.version).toBeGreaterThan(a.room.version);
      expect(left.version).toBeGreaterThan(b.room.version);
      expect((await rooms.get('versions'))?.version).toBe(left.version);
      // At least the clock: a room re-created after a restart still outranks old rosters.
      expect(a.room.version).toBeGreaterThanOrEqual(Date.now() - 60_000);
      await rooms.leave('versions', 'v2');
    });

    it('admits exactly the cap when many join at once', async () => {
      const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => rooms.join(req(`c${i}`, `crowd${i}`, 'Crowd'))));
      expect(outcomes.filter((o) => o.ok)).toHaveLength(MAX);
      expect(outcomes.filter((o) => !o.ok && o.reason === 'room-full')).toHaveLength(20 - MAX);
      expect((await rooms.get('crowd'))?.members).toHaveLength(MAX);
    });

    it('keeps direct chats out of every room list, without shortening it', async () => {
      const listedBefore = await rooms.list(50);
      // Busier than any listed room, so a list that merely cut at `max` would be all direct chats.
      for (const dm of ['dm-one', 'dm-two', 'dm-three']) {
        for (let i = 0; i < MAX; i++) {
          const joined = await rooms.join(req(`${dm}-${i}`, `${dm}-user${i}`, dm, { verifier: 'digest', ...(i === 0 ? { unlisted: true as const } : {}) }));
          expect(joined).toMatchObject({ ok: true, room: { unlisted: true, locked: true } });
        }
      }
      expect(await rooms.get('dm-one')).toMatchObject({ unlisted: true });
      const all = await rooms.list(50);
      expect(all.map((r) => r.name)).not.toContain('dm-one');
      expect(all).toEqual(listedBefore);
      const top = await rooms.list(2);
      expect(top).toEqual(listedBefore.slice(0, 2));
      // Busiest first, as before.
      expect(top[0]!.members).toBeGreaterThanOrEqual(top[1]!.members);
      // Leaving says it was unlisted too (the server then pushes no room list).
      expect(await rooms.leave('dm-two', 'dm-two-0')).toMatchObject({ unlisted: true });
    });

    it('lists a room asked to be unlisted after it was created open to all', async () => {
      await rooms.join(req('l1', 'An', 'Listed'));
      expect(await rooms.join(req('l2', 'Binh', 'Listed', { unlisted: true }))).toMatchObject({ ok: true, created: false });
      expect(await rooms.get('listed')).not.toHaveProperty('unlisted');
      expect((await rooms.list(50)).map((r) => r.name)).toContain('Listed');
    });

    it('forgets that a room was unlisted once everyone left', async () => {
      await rooms.join(req('g1', 'An', 'Gone', { unlisted: true }));
      expect(await rooms.leave('gone', 'g1')).toMatchObject({ unlisted: true, members: [] });
      expect(await rooms.join(req('g2', 'Binh', 'Gone'))).toMatchObject({ ok: true, created: true });
      expect((await rooms.list(50)).map((r) => r.name)).toContain('Gone');
      await rooms.leave('gone', 'g2');
    });
  });
}

directoryBehaviour('in-memory room directory', async () => new MemoryRoomDirectory(MAX));

describe.skipIf(!haveRedis)(`Redis room directory${haveRedis ? '' : ` (${NO_REDIS_MESSAGE})`}`, () => {
  let redis: RedisServer;
  let link: RedisLink;
  const log = createLogger('silent');
  const options = (processId: string) => ({ processId, maxMembers: MAX, log, localMemberships: () => [], onRoomsChanged: () => undefined });

  beforeAll(async () => {
    redis = await RedisServer.start();
    link = await RedisLink.connect(redis.url, log);
  });
  afterAll(async () => {
    await link?.close();
    await redis?.stop();
  });

  directoryBehaviour('shared behaviour', async () => new RedisRoomDirectory(link.data, options('p1')));

  it('removes the members of a process that stopped beating, and only those', async () => {
    const changed: string[][] = [];
    const dead = new RedisRoomDirectory(link.data, { ...options('dead'), prefix: 't2:' });
    const alive = new RedisRoomDirectory(link.data, { ...options('alive'), prefix: 't2:', onRoomsChanged: (k) => changed.push(k) });
    await dead.start();
    await alive.start();
    await dead.join(req('d1', 'Dead', 'Mixed'));
    await alive.join(req('a1', 'Alive', 'Mixed'));
    await dead.join(req('d2', 'Dead2', 'Only dead'));
    // The dead process vanishes without a goodbye: its heartbeat lapses.
    await link.data.del('t2:proc:dead:alive');
    expect((await alive.sweepDeadProcesses()).sort()).toEqual(['mixed', 'only dead']);
    expect(changed.map((keys) => [...keys].sort())).toEqual([['mixed', 'only dead']]);
    expect((await alive.get('mixed'))?.members.map((m) => m.username)).toEqual(['Alive']);
    expect(await alive.get('only dead')).toBeNull();
    expect((await alive.list(10)).map((r) => r.name)).toEqual(['Mixed']);
    // A live process is never swept.
    expect(await dead.sweepDeadProcesses()).toEqual([]);
    expect((await alive.get('mixed'))?.members).toHaveLength(1);
    await alive.close();
    await dead.close();
    // Both gone, nothing of theirs is left behind in Redis.
    expect(await link.data.keys('t2:*')).toEqual([]);
  });
});
