// Must come first: Dexie picks up the global indexedDB when it is first imported.
import 'fake-indexeddb/auto';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PeerSession } from '../../../client/src/core/chat/peer-session.ts';
import { ErrorCode, type ChatError } from '../../../client/src/core/errors.ts';
import { MIN_CHUNK_BYTES } from '../../../client/src/core/files/limits.ts';
import { buildManifest, hashBlob, signFileManifest, transferIdOf, type SignedManifest } from '../../../client/src/core/files/manifest.ts';
import { ALTERED_MESSAGE } from '../../../client/src/core/files/receiver.ts';
import type { FileTransfers } from '../../../client/src/core/files/transfers.ts';
import type { MemoryLink } from '../../../client/src/core/net/memory-link.ts';
import type { AppMessage } from '../../../client/src/core/net/wire.ts';
import type { ChatDatabase } from '../../../client/src/core/store/db.ts';
import { countChunks } from '../../../client/src/core/store/files.ts';
import {
  chunkIndexOf,
  freshDb,
  newParty,
  openPair,
  randomBlob,
  ROOM,
  teardown,
  transfersFor,
  waitForState,
  waitUntil,
  type Party,
} from './helpers.ts';

let an: Party;
let binh: Party;
let mallory: Party;
beforeAll(async () => {
  [an, binh, mallory] = await Promise.all([newParty('An'), newParty('Binh'), newParty('Mallory')]);
});
afterEach(teardown);

const CHUNK = MIN_CHUNK_BYTES;

/** An (honest key, hand-driven channel) and Binh (the real receiver). */
async function setup(deps: Parameters<typeof transfersFor>[2] = {}) {
  const dbB = freshDb();
  const tb = transfersFor(binh, dbB, deps);
  const { sa, sb, la } = await openPair(an, binh);
  tb.attach(sb);
  const fromBinh: AppMessage[] = [];
  sa.on('message', (m) => fromBinh.push(m));
  const rejected: ChatError[] = [];
  sb.on('rejected', (e) => rejected.push(e));
  return { dbB, tb, sa, sb, la: la as MemoryLink, fromBinh, rejected };
}

async function signedFor(file: Blob, signer: Party = an, patch: Partial<SignedManifest['manifest']> = {}): Promise<SignedManifest> {
  const sha256 = await hashBlob(file, CHUNK);
  const manifest = { ...buildManifest({ file, name: 'data.bin', type: 'application/octet-stream', room: ROOM, from: 'An', chunkSize: CHUNK, sha256 }), ...patch };
  return signFileManifest(signer.identity.privateKey, manifest);
}

async function offer(sa: PeerSession, signed: SignedManifest): Promise<void> {
  await sa.sendMessage({ t: 'file-offer', manifest: signed.manifest, sig: signed.sig, sentAt: Date.now() });
}

function chunkOf(bytes: Uint8Array, i: number): Uint8Array {
  return bytes.slice(i * CHUNK, (i + 1) * CHUNK);
}

async function refusedOffer(tb: FileTransfers, dbB: ChatDatabase, fromBinh: AppMessage[], id: string) {
  const info = await waitForState(tb, ['failed'], { id, direction: 'receive' });
  await waitUntil(() => fromBinh.some((m) => m.t === 'file-cancel' && m.id === id), 5_000, 'refusal sent back');
  // Nothing was offered to the user: no file row, no chunk.
  expect(await dbB.files.get(id)).toBeUndefined();
  expect(await dbB.chunks.count()).toBe(0);
  return info.error!;
}

describe('a received manifest', () => {
  it('signed by another key is refused and the user warned', async () => {
    const { tb, sa, dbB, fromBinh } = await setup();
    const signed = await signedFor(randomBlob(40_000, 'a.bin', ''), mallory);
    await offer(sa, signed);
    const error = await refusedOffer(tb, dbB, fromBinh, signed.manifest.id);
    expect(error.code).toBe(ErrorCode.BadSignature);
    expect(error.message).toMatch(/signature does not match An's key/);
  });

  it.each([
    ['a different hash', { sha256: 'f'.repeat(64) }],
    ['a different name', { name: 'invoice.pdf.exe' }],
    ['a different size', { size: 39_999 }],
    ['a different type', { type: 'text/html' }],
    ['a different recipient', { to: 'Binh' }],
  ])('with a valid signature over %s is refused', async (_what, patch) => {
    const { tb, sa, dbB, fromBinh } = await setup();
    const signed = await signedFor(randomBlob(40_000, 'a.bin', ''));
    const altered = { manifest: { ...signed.manifest, ...patch }, sig: signed.sig };
    await offer(sa, altered);
    const error = await refusedOffer(tb, dbB, fromBinh, signed.manifest.id);
    expect(error.code).toBe(ErrorCode.BadSignature);
  });

  it('claiming another author is refused, even when that author signed it', async () => {
    const { tb, sa, dbB, fromBinh } = await setup();
    // Mallory's genuine manifest, relayed by An: the channel proves An sent it.
    const signed = await signedFor(randomBlob(40_000, 'a.bin', ''), mallory, { from: 'Mallory' });
    await offer(sa, signed);
    expect((await refusedOffer(tb, dbB, fromBinh, signed.manifest.id)).code).toBe(ErrorCode.IdentityMismatch);
  });

  it('for a file over the size limit is refused with a clear error', async () => {
    const { tb, sa, dbB, fromBinh } = await setup({ maxFileBytes: 30_000 });
    const signed = await signedFor(randomBlob(40_000, 'a.bin', ''));
    await offer(sa, signed);
    const error = await refusedOffer(tb, dbB, fromBinh, signed.manifest.id);
    expect(error.code).toBe(ErrorCode.FileTooLarge);
    expect(error.message).toMatch(/it is 40 kB, more than the 30 kB limit/);
    expect(fromBinh).toContainEqual({ t: 'file-cancel', id: signed.manifest.id, reason: 'too-large' });
  });

  it('whose chunk count does not match its size is refused', async () => {
    const { tb, sa, dbB, fromBinh } = await setup();
    const signed = await signedFor(randomBlob(40_000, 'a.bin', ''), an, { chunkCount: 2 });
    await offer(sa, signed);
    expect((await refusedOffer(tb, dbB, fromBinh, signed.manifest.id)).code).toBe(ErrorCode.Malformed);
  });
});

/**
 * A sender with An's real key that sends chunks by hand: what a buggy or hostile client,
 * or frames dropped on the wire, would produce. The file is 40,000 bytes: chunks of
 * 16,384, 16,384 and 7,232.
 */
async function hostileTransfer(send: (sa: PeerSession, bytes: Uint8Array, tid: Uint8Array) => Promise<void>) {
  const ctx = await setup();
  const file = randomBlob(40_000, 'a.bin', '');
  const bytes = new Uint8Array(await file.arrayBuffer());
  const signed = await signedFor(file);
  const id = signed.manifest.id;
  const failed = waitForState(ctx.tb, ['failed', 'verified'], { id });
  await offer(ctx.sa, signed);
  await waitUntil(() => ctx.fromBinh.some((m) => m.t === 'file-resume' && m.id === id), 5_000, 'file-resume');
  await send(ctx.sa, bytes, transferIdOf(id));
  const info = await failed;
  await waitUntil(() => ctx.fromBinh.some((m) => m.t === 'file-cancel' && m.id === id), 5_000, 'cancel sent back');
  const row = await ctx.dbB.files.get(id);
  expect(row?.state).toBe('failed');
  expect(await countChunks(ctx.dbB, id)).toBe(0);
  return { ...ctx, info, row: row!, id };
}

describe('a received chunk stream', () => {
  it('is received when every chunk is in order and intact (control)', async () => {
    const ctx = await setup();
    const file = randomBlob(40_000, 'a.bin', '');
    const bytes = new Uint8Array(await file.arrayBuffer());
    const signed = await signedFor(file);
    const tid = transferIdOf(signed.manifest.id);
    const verified = waitForState(ctx.tb, ['failed', 'verified']);
    await offer(ctx.sa, signed);
    await waitUntil(() => ctx.fromBinh.some((m) => m.t === 'file-resume'));
    for (let i = 0; i < 3; i++) await ctx.sa.sendChunk({ transferId: tid, index: i, final: i === 2 }, chunkOf(bytes, i));
    expect((await verified).state).toBe('verified');
  });

  it('truncated (final flag on an early chunk) is refused', async () => {
    const { info } = await hostileTransfer(async (sa, bytes, tid) => {
      await sa.sendChunk({ transferId: tid, index: 0, final: false }, chunkOf(bytes, 0));
      await sa.sendChunk({ transferId: tid, index: 1, final: true }, chunkOf(bytes, 1));
    });
    expect(info.error?.code).toBe(ErrorCode.FileOrder);
    expect(info.error?.message).toMatch(/truncated/);
  });

  it('with a short chunk is refused', async () => {
    const { info } = await hostileTransfer(async (sa, bytes, tid) => {
      await sa.sendChunk({ transferId: tid, index: 0, final: false }, chunkOf(bytes, 0).slice(0, 1000));
    });
    expect(info.error?.code).toBe(ErrorCode.FileSize);
  });

  it('reordered is refused', async () => {
    const { info } = await hostileTransfer(async (sa, bytes, tid) => {
      await sa.sendChunk({ transferId: tid, index: 1, final: false }, chunkOf(bytes, 1));
      await sa.sendChunk({ transferId: tid, index: 0, final: false }, chunkOf(bytes, 0));
    });
    expect(info.error?.code).toBe(ErrorCode.FileOrder);
  });

  it('with a duplicated chunk is refused', async () => {
    const { info } = await hostileTransfer(async (sa, bytes, tid) => {
      await sa.sendChunk({ transferId: tid, index: 0, final: false }, chunkOf(bytes, 0));
      await sa.sendChunk({ transferId: tid, index: 0, final: false }, chunkOf(bytes, 0));
    });
    expect(info.error?.code).toBe(ErrorCode.FileOrder);
    expect(info.error?.message).toMatch(/arrived twice/);
  });

  it('missing its final chunk is refused as incomplete', async () => {
    const { info } = await hostileTransfer(async (sa, bytes, tid) => {
      await sa.sendChunk({ transferId: tid, index: 0, final: false }, chunkOf(bytes, 0));
      await sa.sendChunk({ transferId: tid, index: 1, final: false }, chunkOf(bytes, 1));
      await sa.sendMessage({ t: 'file-end', id: toId(tid) });
    });
    expect(info.error?.code).toBe(ErrorCode.FileOrder);
    expect(info.error?.message).toMatch(/final chunk never arrived/);
  });

  it('with more bytes than declared is aborted as soon as the size is exceeded', async () => {
    const { info, dbB, id } = await hostileTransfer(async (sa, bytes, tid) => {
      await sa.sendChunk({ transferId: tid, index: 0, final: false }, chunkOf(bytes, 0));
      await sa.sendChunk({ transferId: tid, index: 1, final: false }, chunkOf(bytes, 1));
      // The last chunk should be 7,232 bytes; this one is a full 16,384.
      await sa.sendChunk({ transferId: tid, index: 2, final: true }, new Uint8Array(CHUNK));
    });
    expect(info.error?.code).toBe(ErrorCode.FileSize);
    expect(info.error?.message).toMatch(/more data arrived than its announced 40000 bytes/);
    // Not one byte of the oversized chunk was stored, and the earlier chunks were removed.
    expect(await countChunks(dbB, id)).toBe(0);
  });

  it('going on past the last chunk is aborted at the last chunk, and later chunks ignored', async () => {
    const { info } = await hostileTransfer(async (sa, bytes, tid) => {
      for (let i = 0; i < 3; i++) await sa.sendChunk({ transferId: tid, index: i, final: false }, chunkOf(bytes, i));
      for (let i = 3; i < 6; i++) await sa.sendChunk({ transferId: tid, index: i, final: i === 5 }, new Uint8Array(CHUNK));
    });
    expect(info.error?.code).toBe(ErrorCode.FileSize);
    expect(info.error?.message).toMatch(/went on past its announced 40000 bytes/);
  });
});

describe('a chunk tampered with on the wire', () => {
  it('is rejected by the channel, and the file is discarded and never offered', async () => {
    const dbA = freshDb();
    const dbB = freshDb();
    const ta = transfersFor(an, dbA, { chunkBytes: CHUNK });
    const tb = transfersFor(binh, dbB, { chunkBytes: CHUNK });
    const { sa, sb, la } = await openPair(an, binh);
    ta.attach(sa);
    tb.attach(sb);
    const rejected: ChatError[] = [];
    sb.on('rejected', (e) => rejected.push(e));
    // Flip one bit in the ciphertext of chunk 3.
    (la as MemoryLink).tap = (frame) => {
      if (chunkIndexOf(frame) !== 3 || typeof frame === 'string') return frame;
      const copy = frame.slice();
      copy[copy.length - 40]! ^= 0x01;
      return copy;
    };
    const atB = waitForState(tb, ['failed', 'verified'], { direction: 'receive' });
    const atA = waitForState(ta, ['failed', 'done'], { direction: 'send' });
    const row = await ta.send(randomBlob(200_000, 'photo.jpg', 'image/jpeg'));
    const info = await atB;
    expect(info.state).toBe('failed');
    expect(rejected.map((e) => e.code)).toEqual([ErrorCode.Decrypt]);
    expect((await atA).state).toBe('failed');
    const stored = await dbB.files.get(row.id);
    expect(stored?.state).toBe('failed');
    expect(await countChunks(dbB, row.id)).toBe(0);
  });

  it('in its final chunk is rejected, and the file discarded as incomplete', async () => {
    const dbB = freshDb();
    const ta = transfersFor(an, freshDb(), { chunkBytes: CHUNK });
    const tb = transfersFor(binh, dbB, { chunkBytes: CHUNK });
    const { sa, sb, la } = await openPair(an, binh);
    ta.attach(sa);
    tb.attach(sb);
    (la as MemoryLink).tap = (frame) => {
      if (typeof frame === 'string' || chunkIndexOf(frame) !== 2) return frame;
      const copy = frame.slice();
      copy[50]! ^= 0x80;
      return copy;
    };
    const atB = waitForState(tb, ['failed', 'verified'], { direction: 'receive' });
    const row = await ta.send(randomBlob(40_000, 'a.bin', ''));
    const info = await atB;
    expect(info.error?.code).toBe(ErrorCode.FileOrder);
    expect(await countChunks(dbB, row.id)).toBe(0);
  });

  it('whose plaintext was altered before sealing fails the hash check with a clear message', async () => {
    // The sender's own bytes differ from what it signed (a bug, or a file changed on disk
    // between hashing and sending): the receiver notices at the end, by the hash.
    const { dbB, tb, sa, fromBinh } = await setup();
    const file = randomBlob(40_000, 'a.bin', '');
    const bytes = new Uint8Array(await file.arrayBuffer());
    const signed = await signedFor(file);
    const tid = transferIdOf(signed.manifest.id);
    const done = waitForState(tb, ['failed', 'verified']);
    await offer(sa, signed);
    await waitUntil(() => fromBinh.some((m) => m.t === 'file-resume'));
    const altered = chunkOf(bytes, 1);
    altered[100]! ^= 0x04;
    await sa.sendChunk({ transferId: tid, index: 0, final: false }, chunkOf(bytes, 0));
    await sa.sendChunk({ transferId: tid, index: 1, final: false }, altered);
    await sa.sendChunk({ transferId: tid, index: 2, final: true }, chunkOf(bytes, 2));
    const info = await done;
    expect(info.error?.code).toBe(ErrorCode.FileHash);
    expect(info.error?.message).toBe(ALTERED_MESSAGE);
    expect((await dbB.files.get(signed.manifest.id))?.error).toBe(ALTERED_MESSAGE);
    expect(await countChunks(dbB, signed.manifest.id)).toBe(0);
    await waitUntil(() => fromBinh.some((m) => m.t === 'file-cancel' && m.reason === 'altered'));
  });
});

describe('chunk frames', () => {
  it('carry index and final flag through sealing and opening', async () => {
    const { sa, sb } = await openPair(an, binh);
    const got: { index: number; final: boolean; tid: Uint8Array; data: Uint8Array }[] = [];
    sb.on('chunk', (h, data) => got.push({ index: h.index, final: h.final, tid: h.transferId, data }));
    const tid = crypto.getRandomValues(new Uint8Array(16));
    const data = crypto.getRandomValues(new Uint8Array(1000));
    await sa.sendChunk({ transferId: tid, index: 0, final: false }, data);
    await sa.sendChunk({ transferId: tid, index: 0xffff_fffe, final: true }, new Uint8Array(0));
    await waitUntil(() => got.length === 2);
    expect(got[0]).toEqual({ index: 0, final: false, tid, data });
    expect(got[1]).toMatchObject({ index: 0xffff_fffe, final: true });
    expect(got[1]!.data.length).toBe(0);
  });

  it.each([
    ['the index', 2 + 12 + 16 + 3, 0x01],
    ['the final flag', 2 + 12 + 16 + 4, 0x01],
    ['the transfer id', 2 + 12, 0x01],
  ])('with %s changed on the wire are rejected (the header is authenticated)', async (_what, offset, mask) => {
    const { sa, sb, la } = await openPair(an, binh);
    const got: number[] = [];
    const rejected: ChatError[] = [];
    sb.on('chunk', (h) => got.push(h.index));
    sb.on('rejected', (e) => rejected.push(e));
    (la as MemoryLink).tap = (frame) => {
      if (chunkIndexOf(frame) === null || typeof frame === 'string') return frame;
      const copy = frame.slice();
      copy[offset]! ^= mask;
      return copy;
    };
    await sa.sendChunk({ transferId: new Uint8Array(16), index: 4, final: false }, new Uint8Array(100));
    await waitUntil(() => rejected.length === 1);
    expect(rejected[0]!.code).toBe(ErrorCode.Decrypt);
    expect(got).toEqual([]);
  });
});

function toId(tid: Uint8Array): string {
  return Buffer.from(tid).toString('base64url');
}

/** The file-begin of a file whose signed manifest will be `signed`: the same fields, no hash yet. */
async function begin(sa: PeerSession, signed: SignedManifest): Promise<void> {
  const { sha256: _later, ...manifest } = signed.manifest;
  await sa.sendMessage({ t: 'file-begin', manifest, sentAt: Date.now() });
}

async function sendManifest(sa: PeerSession, signed: SignedManifest): Promise<void> {
  await sa.sendMessage({ t: 'file-manifest', manifest: signed.manifest, sig: signed.sig });
}

/** Begins a 40,000-byte file and sends all three chunks; resolves once Binh holds them all. */
async function begunAndStreamed(ctx: Awaited<ReturnType<typeof setup>>, file: Blob, signed: SignedManifest) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  const id = signed.manifest.id;
  const tid = transferIdOf(id);
  await begin(ctx.sa, signed);
  await waitUntil(() => ctx.fromBinh.some((m) => m.t === 'file-resume' && m.id === id), 5_000, 'file-resume');
  for (let i = 0; i < 3; i++) await ctx.sa.sendChunk({ transferId: tid, index: i, final: i === 2 }, chunkOf(bytes, i));
  await ctx.sa.sendMessage({ t: 'file-end', id });
}

describe('a file begun before its sender hashed it (file-begin, then file-manifest)', () => {
  it('is stored as it comes, waits in verifying for its signed manifest, then is verified', async () => {
    const ctx = await setup();
    const file = randomBlob(40_000, 'a.bin', '');
    const signed = await signedFor(file);
    const id = signed.manifest.id;
    const states: string[] = [];
    ctx.tb.on('state', (t) => t.id === id && states.push(t.state));
    const verifying = waitForState(ctx.tb, ['verifying', 'failed'], { id });
    await begunAndStreamed(ctx, file, signed);
    expect((await verifying).state).toBe('verifying');
    await new Promise((r) => setTimeout(r, 100));
    // Every chunk is in, but nothing proves who made the file yet.
    expect(states).not.toContain('verified');
    expect(await ctx.dbB.files.get(id)).toMatchObject({ state: 'verifying', signature: '', sha256: '' });
    expect(ctx.fromBinh.some((m) => m.t === 'file-verified')).toBe(false);

    const verified = waitForState(ctx.tb, ['verified', 'failed'], { id });
    await sendManifest(ctx.sa, signed);
    expect((await verified).state).toBe('verified');
    expect(await ctx.dbB.files.get(id)).toMatchObject({ state: 'verified', signature: signed.sig, sha256: signed.manifest.sha256 });
    await waitUntil(() => ctx.fromBinh.some((m) => m.t === 'file-verified' && m.id === id), 5_000, 'file-verified');
  });

  it('whose manifest comes before its last chunk is verified as soon as the last chunk is stored', async () => {
    const ctx = await setup();
    const file = randomBlob(40_000, 'a.bin', '');
    const bytes = new Uint8Array(await file.arrayBuffer());
    const signed = await signedFor(file);
    const tid = transferIdOf(signed.manifest.id);
    const verified = waitForState(ctx.tb, ['verified', 'failed'], { id: signed.manifest.id });
    await begin(ctx.sa, signed);
    await waitUntil(() => ctx.fromBinh.some((m) => m.t === 'file-resume'), 5_000, 'file-resume');
    await ctx.sa.sendChunk({ transferId: tid, index: 0, final: false }, chunkOf(bytes, 0));
    await sendManifest(ctx.sa, signed);
    for (let i = 1; i < 3; i++) await ctx.sa.sendChunk({ transferId: tid, index: i, final: i === 2 }, chunkOf(bytes, i));
    expect((await verified).state).toBe('verified');
  });

  it.each([
    ['signed by another key', async (file: Blob, id: string) => signedFor(file, mallory, { id }), ErrorCode.BadSignature, 'refused'],
    ['describing another file', async (file: Blob, id: string) => signedFor(file, an, { id, name: 'other.bin' }), ErrorCode.BadSignature, 'refused'],
    ['signed over another hash', async (file: Blob, id: string) => signedFor(file, an, { id, sha256: 'f'.repeat(64) }), ErrorCode.FileHash, 'altered'],
  ] as const)('with a manifest %s is discarded, and its sender told', async (_what, makeManifest, code, reason) => {
    const ctx = await setup();
    const file = randomBlob(40_000, 'a.bin', '');
    const signed = await signedFor(file);
    const id = signed.manifest.id;
    const verifying = waitForState(ctx.tb, ['verifying', 'failed'], { id });
    await begunAndStreamed(ctx, file, signed);
    expect((await verifying).state).toBe('verifying');
    const failed = waitForState(ctx.tb, ['verified', 'failed'], { id });
    await sendManifest(ctx.sa, await makeManifest(file, id));
    const info = await failed;
    expect(info.state).toBe('failed');
    expect(info.error?.code).toBe(code);
    await waitUntil(() => ctx.fromBinh.some((m) => m.t === 'file-cancel' && m.id === id && m.reason === reason), 5_000, `file-cancel ${reason}`);
    expect((await ctx.dbB.files.get(id))?.state).toBe('failed');
    expect(await countChunks(ctx.dbB, id)).toBe(0);
  });

  it('over the size limit is refused before anything is stored', async () => {
    const { tb, sa, dbB, fromBinh } = await setup({ maxFileBytes: 30_000 });
    const signed = await signedFor(randomBlob(40_000, 'a.bin', ''));
    await begin(sa, signed);
    const error = await refusedOffer(tb, dbB, fromBinh, signed.manifest.id);
    expect(error.code).toBe(ErrorCode.FileTooLarge);
    expect(fromBinh).toContainEqual({ t: 'file-cancel', id: signed.manifest.id, reason: 'too-large' });
  });
});
