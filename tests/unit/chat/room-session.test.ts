import { describe, expect, it } from 'vitest';
import type { RoomSession, Notice } from '../../../client/src/core/chat/room-session.ts';
import { signEnvelope } from '../../../client/src/core/crypto/signed.ts';
import { generateIdentityKeyPair } from '../../../client/src/core/crypto/sign.ts';
import { toB64u } from '../../../client/src/core/crypto/bytes.ts';
import { ErrorCode, isChatError } from '../../../client/src/core/errors.ts';
import { joinAll, MemoryHub, meshUser, until, type MeshUser } from '../../support/memory-mesh.ts';

const texts = async (u: MeshUser, room: string) => (await u.storage.messages.recent(room, 100)).map((m) => m.body);
const notices = (s: RoomSession) => {
  const seen: Notice[] = [];
  s.on('notice', (n) => seen.push(n));
  return seen;
};

describe('room session over in-memory links', () => {
  it('every member receives every group message once, and delivery receipts come back', async () => {
    const hub = new MemoryHub();
    const users = [await meshUser(hub, 'An'), await meshUser(hub, 'Binh'), await meshUser(hub, 'Chi')];
    const [a] = await joinAll(users, 'lobby');
    const sent = await a!.sendText('hello all');
    for (const u of users) await until(async () => (await texts(u, 'lobby')).includes('hello all'));
    for (const u of users) expect((await texts(u, 'lobby')).filter((t) => t === 'hello all')).toHaveLength(1);
    await until(async () => (await users[0]!.storage.messages.recent('lobby', 1))[0]!.deliveredTo.length === 2);
    expect(a!.recipientCount(sent)).toBe(2);
  });

  it('a private message travels only over the channel to its recipient', async () => {
    const hub = new MemoryHub();
    const users = [await meshUser(hub, 'An'), await meshUser(hub, 'Binh'), await meshUser(hub, 'Chi')];
    const [a, , c] = await joinAll(users, 'lobby');
    // Let the history exchange that follows every new channel settle, then count every
    // frame An's side sends to Chi.
    await new Promise((r) => setTimeout(r, 100));
    let framesToChi = 0;
    const chiSeen = notices(c!);
    const anToChi = hub.links.find((l) => l.other !== null && l.other === c!.session('An')?.link);
    expect(anToChi).toBeDefined();
    anToChi!.tap = (d) => {
      framesToChi++;
      return d;
    };
    await a!.sendText('only for Binh', 'Binh');
    await until(async () => (await texts(users[1]!, 'lobby')).includes('only for Binh'));
    await new Promise((r) => setTimeout(r, 50));
    expect(framesToChi).toBe(0);
    expect(await texts(users[2]!, 'lobby')).not.toContain('only for Binh');
    expect(chiSeen).toHaveLength(0);
  });

  it('a late joiner receives the verified history, without duplicates, from the members present', async () => {
    const hub = new MemoryHub();
    const [an, binh, chi] = [await meshUser(hub, 'An'), await meshUser(hub, 'Binh'), await meshUser(hub, 'Chi')];
    const [a, b] = await joinAll([an, binh], 'history');
    await a!.sendText('first');
    // Two authors in the same millisecond have no order to keep; these are apart.
    await new Promise((r) => setTimeout(r, 5));
    await b!.sendText('second');
    await a!.sendText('private to Binh', 'Binh');
    await until(async () => (await texts(binh, 'history')).length === 3);
    await chi.client.joinRoom('history', { create: true });
    await until(async () => (await texts(chi, 'history')).length === 2);
    await new Promise((r) => setTimeout(r, 50));
    expect(await texts(chi, 'history')).toEqual(['first', 'second']);
  });

  it('a relayed message with a forged signature is refused and not stored', async () => {
    const hub = new MemoryHub();
    const [an, binh, chi] = [await meshUser(hub, 'An'), await meshUser(hub, 'Binh'), await meshUser(hub, 'Chi')];
    await joinAll([an, binh], 'forgery');
    // Binh's store holds a message "from An" that An never signed.
    const stranger = await generateIdentityKeyPair();
    const env = { id: 'forged-message-0001', room: 'forgery', from: 'An', sentAt: Date.now(), kind: 'text' as const, body: 'An owes me money' };
    await binh.storage.messages.add({ ...env, signature: await signEnvelope(stranger.privateKey, env), status: 'received', deliveredTo: [], receivedAt: Date.now() });
    const r = await chi.client.joinRoom('forgery', { create: true });
    if (!r.ok) throw new Error(r.message);
    const seen = notices(r.value);
    await until(() => seen.some((n) => n.kind === 'refused-message' && n.code === ErrorCode.BadSignature));
    expect(await texts(chi, 'forgery')).not.toContain('An owes me money');
  });

  it('messages for a member who left wait in the outbox and arrive once, in order, on return', async () => {
    const hub = new MemoryHub();
    const [an, binh] = [await meshUser(hub, 'An'), await meshUser(hub, 'Binh')];
    const [a] = await joinAll([an, binh], 'outbox');
    await binh.client.leaveRoom('outbox');
    await until(() => a!.member('Binh')?.online === false);
    for (const n of [1, 2, 3]) await a!.sendText(`queued ${n}`);
    expect(await an.storage.outbox.pending('outbox', 'binh')).toHaveLength(3);
    await binh.client.joinRoom('outbox', { create: true });
    await until(async () => (await texts(binh, 'outbox')).length === 3);
    await until(async () => (await an.storage.outbox.pending('outbox', 'binh')).length === 0);
    expect(await texts(binh, 'outbox')).toEqual(['queued 1', 'queued 2', 'queued 3']);
  });

  it('a roster older than one already applied is ignored: nobody is marked gone by a late push', async () => {
    const hub = new MemoryHub();
    const [an, binh] = [await meshUser(hub, 'An'), await meshUser(hub, 'Binh')];
    const [a] = await joinAll([an, binh], 'order');
    const seen = notices(a!);
    const me = { socketId: an.signaling.socketId!, username: 'An', publicKey: toB64u(an.client.identity.publicKey) };
    an.signaling.deliver('members', { room: 'order', members: [me], version: 1 });
    await new Promise((r) => setTimeout(r, 30));
    expect(a!.member('Binh')?.online).toBe(true);
    expect(seen.filter((n) => n.kind === 'left')).toHaveLength(0);
  });

  it('a roster pushed while our join is on its way is not lost', async () => {
    const hub = new MemoryHub();
    const [an, binh, chi] = [await meshUser(hub, 'An'), await meshUser(hub, 'Binh'), await meshUser(hub, 'Chi')];
    await joinAll([an, binh], 'race');
    // Chi's join is answered with a roster that predates Binh, and the roster with Binh is
    // pushed before that answer arrives: what a busy server can do.
    const realJoin = chi.signaling.joinRoom.bind(chi.signaling);
    chi.signaling.joinRoom = async (req) => {
      const r = await realJoin(req);
      if (!r.ok) return r;
      chi.signaling.deliver('members', { room: r.room, members: r.members, version: r.version });
      await new Promise((res) => setTimeout(res, 10));
      return { ...r, members: r.members.filter((m) => m.username !== 'Binh'), version: r.version - 1 };
    };
    const joined = await chi.client.joinRoom('race');
    if (!joined.ok) throw new Error(joined.message);
    await until(() => joined.value.member('Binh')?.online === true && joined.value.member('An')?.online === true);
  });

  it('a server announcing another key for a known user blocks sending to them', async () => {
    const hub = new MemoryHub();
    const [an, binh] = [await meshUser(hub, 'An'), await meshUser(hub, 'Binh')];
    const [a] = await joinAll([an, binh], 'keys');
    const impostor = toB64u((await generateIdentityKeyPair()).publicKey);
    hub.rewriteMembers = (ms) => ms.map((m) => (m.username === 'Binh' ? { ...m, publicKey: impostor } : m));
    const seen = notices(a!);
    hub.pushAll();
    await until(() => a!.member('Binh')?.trust === 'changed');
    expect(seen.some((n) => n.kind === 'key-changed')).toBe(true);
    expect(a!.member('Binh')?.connection).toBe('blocked');
    await expect(a!.sendText('secret', 'Binh')).rejects.toSatisfy((e: unknown) => isChatError(e, ErrorCode.KeyChanged));
    await a!.sendText('to the group');
    await new Promise((r) => setTimeout(r, 50));
    expect(await texts(binh, 'keys')).not.toContain('to the group');
    expect(await an.storage.outbox.pending('keys', 'binh')).toHaveLength(0);
  });

  it('a frame altered on the wire is rejected and nothing is stored', async () => {
    const hub = new MemoryHub();
    const [an, binh] = [await meshUser(hub, 'An'), await meshUser(hub, 'Binh')];
    const [a, b] = await joinAll([an, binh], 'tamper');
    const seen = notices(b!);
    const link = a!.session('Binh')!.link as unknown as { tap: ((d: string | Uint8Array) => string | Uint8Array | null) | null };
    link.tap = (d) => {
      if (typeof d === 'string') return d;
      const copy = d.slice();
      copy[copy.length - 3]! ^= 0x01;
      return copy;
    };
    await a!.sendText('will be altered');
    await until(() => seen.some((n) => n.kind === 'rejected-frame' && n.code === ErrorCode.Decrypt));
    expect(await texts(binh, 'tamper')).not.toContain('will be altered');
  });
});
