import { describe, expect, it } from 'vitest';
import type { DirectInvite, Notice, RoomSession } from '../../../client/src/core/chat/room-session.ts';
import { toB64u } from '../../../client/src/core/crypto/bytes.ts';
import { generateIdentityKeyPair } from '../../../client/src/core/crypto/sign.ts';
import { ErrorCode } from '../../../client/src/core/errors.ts';
import { DIRECT_INVITES_PER_WINDOW } from '../../../client/src/core/net/limits.ts';
import type { AppMessage } from '../../../client/src/core/net/wire.ts';
import { joinAll, MemoryHub, meshUser, until, type MeshUser } from '../../support/memory-mesh.ts';

async function threeInLobby() {
  const hub = new MemoryHub();
  const users = [await meshUser(hub, 'An'), await meshUser(hub, 'Binh'), await meshUser(hub, 'Chi')] as const;
  const sessions = await joinAll([...users], 'lobby');
  // Let the history exchange that follows every new channel settle.
  await new Promise((r) => setTimeout(r, 50));
  return { hub, users, sessions };
}

const texts = async (u: MeshUser, room: string) => (await u.storage.messages.recent(room, 100)).map((m) => m.body);
const noticesOf = (s: RoomSession) => {
  const seen: Notice[] = [];
  s.on('notice', (n) => seen.push(n));
  return seen;
};
const directRooms = (u: MeshUser) => u.client.joinedRooms.filter((s) => s.directWith !== undefined);

/** Sends an app message as the member `from` over its channel to `to`: what a modified client could send. */
async function sendRaw(from: RoomSession, to: string, m: unknown): Promise<void> {
  await from.session(to)!.sendMessage(m as AppMessage);
}

describe('direct chats started from a member of a room', () => {
  it('opens a two-person chat on both sides, and the two can write to each other', async () => {
    const { hub, users, sessions } = await threeInLobby();
    const [an, binh, chi] = users;
    const invites: DirectInvite[] = [];
    sessions[1]!.on('directInvite', (i) => invites.push(i));
    const startedForBinh: { withUser: string; byMe: boolean }[] = [];
    binh.client.on('direct', (_room, withUser, byMe) => startedForBinh.push({ withUser, byMe }));
    // Nothing of the invitation may travel to Chi.
    let framesToChi = 0;
    const anToChi = hub.links.find((l) => l.other !== null && l.other === sessions[2]!.session('An')?.link);
    anToChi!.tap = (d) => {
      framesToChi++;
      return d;
    };

    const started = await an.client.startDirect('lobby', 'Binh');
    if (!started.ok) throw new Error(started.message);
    const dm = started.value;
    expect(dm.directWith).toBe('Binh');
    expect(dm.name).toMatch(/^dm-[a-z2-7]{16}$/);

    await until(() => directRooms(binh).length === 1);
    const binhDm = directRooms(binh)[0]!;
    expect(binhDm.key).toBe(dm.key);
    expect(binhDm.directWith).toBe('An');
    expect(startedForBinh).toEqual([{ withUser: 'An', byMe: false }]);
    expect((await binh.storage.rooms.list()).find((r) => r.key === dm.key)).toMatchObject({ direct: 'An', locked: false });
    expect((await an.storage.rooms.list()).find((r) => r.key === dm.key)).toMatchObject({ direct: 'Binh' });

    await until(() => dm.member('Binh')?.connection === 'open' && binhDm.member('An')?.connection === 'open');
    await dm.sendText('chào Bình');
    await binhDm.sendText('chào An');
    await until(async () => (await texts(binh, dm.key)).includes('chào Bình') && (await texts(an, dm.key)).includes('chào An'));

    expect(framesToChi).toBe(0);
    expect(chi.client.joinedRooms.map((s) => s.key)).toEqual(['lobby']);
    // What the server was asked: an unlisted room and a join token, never the password.
    const dmJoins = hub.joinRequests.filter((j) => j.req.room === dm.name);
    expect(dmJoins.map((j) => j.username).sort()).toEqual(['An', 'Binh']);
    for (const j of dmJoins) expect(j.req).toMatchObject({ unlisted: true, create: true, joinToken: expect.any(String) });
    expect(invites).toHaveLength(1);
    expect(invites[0]!.password.length).toBeGreaterThanOrEqual(43);
    expect(JSON.stringify(hub.joinRequests)).not.toContain(invites[0]!.password);
  });

  it('starting a direct chat with the same person again opens the one that exists', async () => {
    const { users } = await threeInLobby();
    const [an, binh] = users;
    const first = await an.client.startDirect('lobby', 'Binh');
    await until(() => directRooms(binh).length === 1);
    const again = await an.client.startDirect('lobby', 'binh');
    expect(first.ok && again.ok && again.value).toBe(first.ok && first.value);
    await new Promise((r) => setTimeout(r, 50));
    expect(directRooms(an)).toHaveLength(1);
    expect(directRooms(binh)).toHaveLength(1);
  });

  it('a member cannot flood someone with direct chats: invitations past the cap are refused and reported', async () => {
    const { users, sessions } = await threeInLobby();
    const [, binh] = users;
    const seen = noticesOf(sessions[1]!);
    const opened: string[] = [];
    binh.client.on('direct', (room) => opened.push(room.key));
    const rooms = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map((c) => `dm-${c.repeat(16)}`);
    for (const room of rooms) await sendRaw(sessions[2]!, 'Binh', { t: 'direct-invite', room, password: toB64u(crypto.getRandomValues(new Uint8Array(32))) });
    await until(() => seen.filter((n) => n.kind === 'refused-invite').length === rooms.length - DIRECT_INVITES_PER_WINDOW);
    await until(() => opened.length === DIRECT_INVITES_PER_WINDOW);
    await new Promise((r) => setTimeout(r, 50));
    expect(opened).toEqual(rooms.slice(0, DIRECT_INVITES_PER_WINDOW));
    // One direct chat per person: each accepted invitation replaced the one before.
    expect(directRooms(binh).map((s) => s.key)).toEqual([rooms[DIRECT_INVITES_PER_WINDOW - 1]]);
    expect(directRooms(binh).every((s) => s.directWith === 'Chi')).toBe(true);
    expect(seen.filter((n) => n.kind === 'refused-invite').every((n) => n.user === 'Chi' && n.code === ErrorCode.InviteRefused)).toBe(true);
  });

  it('an invitation to an ordinary room, or with a weak password, is rejected and joins nothing', async () => {
    const { users, sessions } = await threeInLobby();
    const [, binh] = users;
    const seen = noticesOf(sessions[1]!);
    const strong = toB64u(crypto.getRandomValues(new Uint8Array(32)));
    await sendRaw(sessions[2]!, 'Binh', { t: 'direct-invite', room: 'lobby', password: strong });
    await sendRaw(sessions[2]!, 'Binh', { t: 'direct-invite', room: 'secret plans', password: strong });
    await sendRaw(sessions[2]!, 'Binh', { t: 'direct-invite', room: `dm-${'a'.repeat(16)}`, password: 'hunter2' });
    await sendRaw(sessions[2]!, 'Binh', { t: 'direct-invite', room: `dm-${'a'.repeat(16)}`, password: strong, from: 'An' });
    await until(() => seen.filter((n) => n.kind === 'rejected-frame').length === 4);
    await new Promise((r) => setTimeout(r, 50));
    expect(binh.client.joinedRooms.map((s) => s.key)).toEqual(['lobby']);
  });

  it('an invitation naming the room it came through is refused', async () => {
    const { users, sessions } = await threeInLobby();
    const [an, binh] = users;
    const r = await an.client.joinRoom(`dm-${'q'.repeat(16)}`, { create: true });
    if (!r.ok) throw new Error(r.message);
    await binh.client.joinRoom(`dm-${'q'.repeat(16)}`, { create: true });
    const there = binh.client.room(`dm-${'q'.repeat(16)}`)!;
    await until(() => there.member('An')?.connection === 'open' && r.value.member('Binh')?.connection === 'open');
    const seen = noticesOf(there);
    await sendRaw(r.value, 'Binh', { t: 'direct-invite', room: `dm-${'q'.repeat(16)}`, password: toB64u(crypto.getRandomValues(new Uint8Array(32))) });
    await until(() => seen.some((n) => n.kind === 'refused-invite'));
    expect(there.directWith).toBeUndefined();
    expect(sessions).toHaveLength(3);
  });

  it('no direct chat starts with a member whose key changed', async () => {
    const { hub, users, sessions } = await threeInLobby();
    const [an] = users;
    const impostor = toB64u((await generateIdentityKeyPair()).publicKey);
    hub.rewriteMembers = (ms) => ms.map((m) => (m.username === 'Binh' ? { ...m, publicKey: impostor } : m));
    hub.pushAll();
    await until(() => sessions[0]!.member('Binh')?.trust === 'changed');
    const r = await an.client.startDirect('lobby', 'Binh');
    expect(r).toMatchObject({ ok: false, error: 'key-changed' });
    expect(directRooms(an)).toHaveLength(0);
  });

  it('a direct chat is left and deleted like any room, and can then be started afresh', async () => {
    const { users } = await threeInLobby();
    const [an, binh] = users;
    const first = await an.client.startDirect('lobby', 'Binh');
    if (!first.ok) throw new Error(first.message);
    await until(() => directRooms(binh).length === 1);
    await an.client.deleteChat(first.value.key, false);
    expect(directRooms(an)).toHaveLength(0);
    expect((await an.storage.rooms.list()).map((r) => r.key)).toEqual(['lobby']);
    const second = await an.client.startDirect('lobby', 'Binh');
    if (!second.ok) throw new Error(second.message);
    expect(second.value.key).not.toBe(first.value.key);
    // Binh's chat with An is replaced by the new one, not doubled.
    await until(() => directRooms(binh).some((s) => s.key === second.value.key));
    await until(() => directRooms(binh).length === 1);
  });

  it('two people starting a direct chat with each other at once end up in one chat', async () => {
    const { users } = await threeInLobby();
    const [an, binh] = users;
    const [fromAn, fromBinh] = await Promise.all([an.client.startDirect('lobby', 'Binh'), binh.client.startDirect('lobby', 'An')]);
    if (!fromAn.ok || !fromBinh.ok) throw new Error('could not start');
    expect(fromAn.value.key).not.toBe(fromBinh.value.key);
    const kept = [fromAn.value.key, fromBinh.value.key].sort()[0]!;
    await until(() => directRooms(an).length === 1 && directRooms(binh).length === 1 && directRooms(an)[0]!.key === kept && directRooms(binh)[0]!.key === kept);
    const [anDm, binhDm] = [directRooms(an)[0]!, directRooms(binh)[0]!];
    await until(() => anDm.member('Binh')?.connection === 'open' && binhDm.member('An')?.connection === 'open');
    await anDm.sendText('one chat, not two');
    await until(async () => (await texts(binh, kept)).includes('one chat, not two'));
  });
});
