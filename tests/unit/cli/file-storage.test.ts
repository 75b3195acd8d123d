import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMemoryStorage } from '../../../client/src/core/chat/memory-storage.ts';
import type { ChatMessage, ChatStorage } from '../../../client/src/core/chat/ports.ts';
import { HISTORY_TTL_MS } from '../../../client/src/core/store/limits.ts';
import { FileChatStorage } from '../../../cli/src/file-storage.ts';
import { CliErrorCode } from '../../../cli/src/errors.ts';

const DAY = 24 * 60 * 60 * 1000;

function message(over: Partial<ChatMessage> & { id: string; sentAt: number }): ChatMessage {
  return { room: 'lobby', from: 'An', kind: 'text', body: `body of ${over.id}`, signature: 'sig', status: 'received', deliveredTo: [], receivedAt: over.sentAt, ...over };
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cli-storage-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The same behaviour from the file store as from core's memory store: both implement the ports. */
describe.each([
  ['memory storage (reference)', async () => createMemoryStorage()],
  ['file storage', async () => FileChatStorage.open(join(dir, 'chat.json'))],
])('%s keeps the chat ports', (_name, make: () => Promise<ChatStorage>) => {
  it('stores a message once: a replayed or relayed copy is refused', async () => {
    const s = await make();
    const now = Date.now();
    expect(await s.messages.add(message({ id: 'm1', sentAt: now }))).toBe(true);
    expect(await s.messages.add(message({ id: 'm1', sentAt: now, body: 'forged copy' }))).toBe(false);
    expect((await s.messages.recent('lobby', 10)).map((m) => m.body)).toEqual(['body of m1']);
  });

  it('pages history in time order and keeps other people’s private messages out', async () => {
    const s = await make();
    const t = Date.now();
    await s.messages.add(message({ id: 'a', sentAt: t }));
    await s.messages.add(message({ id: 'b', sentAt: t, to: 'Binh' }));
    await s.messages.add(message({ id: 'c', sentAt: t + 1, to: 'Chi' }));
    await s.messages.add(message({ id: 'd', sentAt: t + 2, from: 'Chi', to: 'An' }));
    await s.messages.add(message({ id: 'e', sentAt: t + 3, room: 'other' }));
    expect((await s.messages.since('lobby', t, 10, 'chi')).map((m) => m.id)).toEqual(['a', 'c', 'd']);
    expect((await s.messages.since('lobby', { sentAt: t, id: 'a' }, 10, 'chi')).map((m) => m.id)).toEqual(['c', 'd']);
    expect((await s.messages.since('lobby', t, 1, 'chi')).map((m) => m.id)).toEqual(['a']);
    expect((await s.messages.recent('lobby', 2)).map((m) => m.id)).toEqual(['c', 'd']);
  });

  it('records receipts and keeps the outbox per room and recipient, oldest first', async () => {
    const s = await make();
    await s.messages.add(message({ id: 'm', sentAt: Date.now(), status: 'sending' }));
    const updated = await s.messages.markDelivered('m', 'binh');
    expect(updated?.deliveredTo).toEqual(['binh']);
    expect((await s.messages.markDelivered('m', 'binh'))?.deliveredTo).toEqual(['binh']);
    expect(await s.messages.markDelivered('missing', 'binh')).toBeUndefined();

    const now = Date.now();
    await s.outbox.add({ room: 'lobby', to: 'binh', messageId: 'm1', payload: 'p1', createdAt: now });
    await s.outbox.add({ room: 'lobby', to: 'binh', messageId: 'm2', payload: 'p2', createdAt: now + 1 });
    await s.outbox.add({ room: 'lobby', to: 'chi', messageId: 'm1', payload: 'p1', createdAt: now });
    const pending = await s.outbox.pending('lobby', 'binh');
    expect(pending.map((e) => e.messageId)).toEqual(['m1', 'm2']);
    await s.outbox.remove(pending[0]!.seq!);
    expect((await s.outbox.pending('lobby', 'binh')).map((e) => e.messageId)).toEqual(['m2']);
    expect((await s.outbox.pending('lobby', 'chi')).length).toBe(1);
  });

  it('pins contacts and keeps a pending key change', async () => {
    const s = await make();
    await s.contacts.put({ username: 'binh', publicKey: 'K1', verified: true, firstSeenAt: 5 });
    await s.contacts.put({ username: 'binh', publicKey: 'K1', verified: true, firstSeenAt: 5, pendingKey: 'K2', keyChangedAt: 9 });
    expect(await s.contacts.get('binh')).toEqual({ username: 'binh', publicKey: 'K1', verified: true, firstSeenAt: 5, pendingKey: 'K2', keyChangedAt: 9 });
    expect(await s.contacts.get('nobody')).toBeUndefined();
  });
});

describe('the storage file', () => {
  const path = () => join(dir, 'chat.json');

  it('a restarted bot finds its pinned keys, history, queued messages and rooms again', async () => {
    const s = await FileChatStorage.open(path());
    const now = Date.now();
    await s.contacts.put({ username: 'binh', publicKey: 'KEY-B', verified: true, firstSeenAt: now });
    await s.messages.add(message({ id: 'm1', sentAt: now, status: 'sending', from: 'bot' }));
    await s.messages.markDelivered('m1', 'binh');
    await s.outbox.add({ room: 'lobby', to: 'chi', messageId: 'm1', payload: '{"t":"msg"}', createdAt: now });
    await s.rooms.save({ key: 'lobby', name: 'Lobby', locked: false });
    await s.flush();

    const again = await FileChatStorage.open(path());
    expect(await again.contacts.get('binh')).toEqual({ username: 'binh', publicKey: 'KEY-B', verified: true, firstSeenAt: now });
    const [m] = await again.messages.recent('lobby', 10);
    expect(m).toMatchObject({ id: 'm1', status: 'delivered', deliveredTo: ['binh'] });
    const [queued] = await again.outbox.pending('lobby', 'chi');
    expect(queued).toMatchObject({ messageId: 'm1', payload: '{"t":"msg"}' });
    expect(await again.rooms.list()).toEqual([{ key: 'lobby', name: 'Lobby', locked: false }]);
    // New queue entries never reuse a sequence number still in use.
    await again.outbox.add({ room: 'lobby', to: 'chi', messageId: 'm2', payload: 'x', createdAt: now });
    const seqs = (await again.outbox.pending('lobby', 'chi')).map((e) => e.seq);
    expect(new Set(seqs).size).toBe(2);
  });

  it('is written atomically, readable by its owner only, with no temporary files left', async () => {
    const s = await FileChatStorage.open(path());
    await Promise.all(Array.from({ length: 50 }, (_, i) => s.messages.add(message({ id: `m${i}`, sentAt: Date.now() }))));
    await s.flush();
    expect((await stat(path())).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(['chat.json']);
    const file = JSON.parse(await readFile(path(), 'utf8')) as { messages: unknown[] };
    expect(file.messages).toHaveLength(50);
  });

  it('a crash while writing leaves the previous file intact', async () => {
    const s = await FileChatStorage.open(path());
    await s.contacts.put({ username: 'binh', publicKey: 'KEY-B', verified: false, firstSeenAt: 1 });
    // What an interrupted write leaves behind: a half-written temporary file beside it.
    await writeFile(join(dir, `.chat.json.${process.pid + 1}.tmp`), '{"v":1,"contac');
    const again = await FileChatStorage.open(path());
    expect((await again.contacts.get('binh'))?.publicKey).toBe('KEY-B');
  });

  it('a damaged file is refused and left untouched: the pinned keys are not silently forgotten', async () => {
    await writeFile(path(), '{"v":1,"contacts":[{"username":"binh"');
    await expect(FileChatStorage.open(path())).rejects.toMatchObject({ code: CliErrorCode.Storage, message: expect.stringContaining('not valid JSON') });
    await writeFile(path(), JSON.stringify({ v: 1, contacts: [{ username: 'binh' }], messages: [], outbox: [], nextSeq: 1, rooms: [] }));
    await expect(FileChatStorage.open(path())).rejects.toMatchObject({ message: expect.stringContaining('pinned keys') });
    await writeFile(path(), JSON.stringify({ v: 99 }));
    await expect(FileChatStorage.open(path())).rejects.toMatchObject({ message: expect.stringContaining('another version') });
    expect(await readFile(path(), 'utf8')).toBe(JSON.stringify({ v: 99 }));
  });

  it('forgets messages and queued messages 7 days after they were sent', async () => {
    const t0 = Date.now();
    let now = t0;
    const s = await FileChatStorage.open(path(), { now: () => now });
    await s.messages.add(message({ id: 'old', sentAt: t0 - 6 * DAY }));
    await s.messages.add(message({ id: 'fresh', sentAt: t0 }));
    await s.outbox.add({ room: 'lobby', to: 'binh', messageId: 'old', payload: 'p', createdAt: t0 - 6 * DAY });
    // Relayed history already older than 7 days is not stored at all.
    expect(await s.messages.add(message({ id: 'ancient', sentAt: t0 - HISTORY_TTL_MS - 1 }))).toBe(false);
    // A peer claiming a date far in the future does not buy its message a longer life.
    await s.messages.add(message({ id: 'future', sentAt: t0 + 365 * DAY }));

    now = t0 + 2 * DAY;
    const later = await FileChatStorage.open(path(), { now: () => now });
    expect((await later.messages.recent('lobby', 10)).map((m) => m.id)).toEqual(['fresh', 'future']);
    expect(await later.outbox.pending('lobby', 'binh')).toEqual([]);

    now = t0 + HISTORY_TTL_MS + 6 * 60 * 1000;
    const weekLater = await FileChatStorage.open(path(), { now: () => now });
    expect(await weekLater.messages.recent('lobby', 10)).toEqual([]);
  });

  it('never writes a room password token or proof key; a password room needs the password again after a restart', async () => {
    const s = await FileChatStorage.open(path());
    const peerProofKey = await crypto.subtle.importKey('raw', new Uint8Array(32), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    await s.rooms.save({ key: 'secret', name: 'Secret', locked: true, joinToken: 'TOKEN-0123456789', peerProofKey });
    await s.rooms.save({ key: 'open', name: 'Open', locked: false });
    // In this process the room can be re-joined with its secrets...
    expect((await s.rooms.list()).find((r) => r.key === 'secret')).toMatchObject({ joinToken: 'TOKEN-0123456789', peerProofKey });
    await s.flush();
    expect(await readFile(path(), 'utf8')).not.toContain('TOKEN-0123456789');
    // ...after a restart only the open room comes back by itself.
    const again = await FileChatStorage.open(path());
    expect((await again.rooms.list()).map((r) => r.key)).toEqual(['open']);
    await again.rooms.remove('open');
    expect(await again.rooms.list()).toEqual([]);
  });

  it('deleting a chat removes its messages and queued messages, and only those', async () => {
    const s = await FileChatStorage.open(path());
    await s.messages.add(message({ id: 'a', sentAt: Date.now() }));
    await s.messages.add(message({ id: 'b', sentAt: Date.now(), room: 'other' }));
    await s.outbox.add({ room: 'lobby', to: 'binh', messageId: 'a', payload: 'p', createdAt: Date.now() });
    await s.messages.deleteRoom('lobby');
    const again = await FileChatStorage.open(path());
    expect(await again.messages.recent('lobby', 10)).toEqual([]);
    expect((await again.messages.recent('other', 10)).map((m) => m.id)).toEqual(['b']);
    expect(await again.outbox.pending('lobby', 'binh')).toEqual([]);
  });
});
