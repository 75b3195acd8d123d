// Must come first: Dexie picks up the global indexedDB when it is first imported.
import 'fake-indexeddb/auto';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../client/src/core/errors.ts';
import { MIN_CHUNK_BYTES } from '../../../client/src/core/files/limits.ts';
import type { FileTransfers } from '../../../client/src/core/files/transfers.ts';
import { countChunks, readFileBlob } from '../../../client/src/core/store/files.ts';
import { cutAtChunk, freshDb, newParty, openPair, randomBlob, reconnectTransfers, sha256Hex, teardown, transfersFor, waitForState, waitUntil, type Party } from './helpers.ts';

let an: Party;
let binh: Party;
beforeAll(async () => {
  [an, binh] = await Promise.all([newParty('An'), newParty('Binh')]);
});
afterEach(teardown);

const CHUNK = MIN_CHUNK_BYTES;
const opts = { chunkBytes: CHUNK, windowBytes: 8 * CHUNK };

/** An sends a 2 MiB file (128 chunks) to Binh; the channel dies when chunk `cutAt` is on the wire. */
async function interruptedTransfer(cutAt: number) {
  const dbA = freshDb();
  const dbB = freshDb();
  const ta = transfersFor(an, dbA, opts);
  const tb = transfersFor(binh, dbB, opts);
  const first = await openPair(an, binh);
  ta.attach(first.sa);
  tb.attach(first.sb);
  cutAtChunk(first.la, cutAt);
  const file = randomBlob(2 * 1024 * 1024, 'movie.webm', 'video/webm');
  const interruptedB = waitForState(tb, ['interrupted', 'failed', 'verified'], { direction: 'receive' });
  const interruptedA = waitForState(ta, ['interrupted', 'failed', 'done'], { direction: 'send' });
  const row = await ta.send(file);
  expect((await interruptedB).state).toBe('interrupted');
  expect((await interruptedA).state).toBe('interrupted');
  // Chunks that arrived before the cut are still being written; let them land.
  await new Promise((r) => setTimeout(r, 200));
  // What Binh has is kept, and is a prefix of the file.
  const stored = await countChunks(dbB, row.id);
  expect(stored).toBeGreaterThan(0);
  expect(stored).toBeLessThanOrEqual(cutAt);
  expect((await dbB.files.get(row.id))?.state).toBe('receiving');
  return { dbA, dbB, ta, tb, file, row, stored };
}

const reconnect = (ta: FileTransfers, tb: FileTransfers) => reconnectTransfers(an, binh, ta, tb);

describe('a peer that disappears mid-file', () => {
  it('leaves the transfer interrupted, then it resumes from the last confirmed chunk and completes', async () => {
    const { dbB, ta, tb, file, row, stored } = await interruptedTransfer(60);
    const { resent, verified, done } = await reconnect(ta, tb);
    expect((await verified).state).toBe('verified');
    expect((await done).state).toBe('done');
    // Nothing Binh had stored was sent again.
    expect(resent[0]).toBe(stored);
    expect(new Set(resent).size).toBe(resent.length);
    expect(resent.length).toBe(row.chunkCount - stored);
    const received = await readFileBlob(dbB, row.id, 'application/octet-stream');
    expect(await sha256Hex(received)).toBe(await sha256Hex(file));
    // No orphaned data: exactly the file's chunks are stored, once each.
    expect(await dbB.chunks.count()).toBe(row.chunkCount);
    expect((await dbB.files.get(row.id))?.receivedChunks).toBe(row.chunkCount);
  });

  it('resumes after the receiver reloads the page (stored chunks hashed again)', async () => {
    const { dbB, ta, tb, file, row, stored } = await interruptedTransfer(40);
    tb.close();
    const reloaded = transfersFor(binh, dbB, opts);
    const { resent, verified } = await reconnect(ta, reloaded);
    expect((await verified).state).toBe('verified');
    expect(resent[0]).toBe(stored);
    expect(await sha256Hex(await readFileBlob(dbB, row.id, 'application/octet-stream'))).toBe(await sha256Hex(file));
    expect(await dbB.chunks.count()).toBe(row.chunkCount);
  });

  it('resumes after the sender reloads the page, from its own stored copy', async () => {
    const { dbA, dbB, ta, tb, file, row, stored } = await interruptedTransfer(50);
    ta.close();
    const reloaded = transfersFor(an, dbA, opts);
    const { resent, verified } = await reconnect(reloaded, tb);
    expect((await verified).state).toBe('verified');
    expect(resent[0]).toBe(stored);
    expect(await sha256Hex(await readFileBlob(dbB, row.id, 'application/octet-stream'))).toBe(await sha256Hex(file));
  });

  it('cannot be resumed by a sender that closed before it had signed the file: the receiver is told it is unavailable', async () => {
    const { dbA, dbB, ta, tb, row } = await interruptedTransfer(30);
    // As a page closed while hashing leaves it: the whole copy stored, no signature.
    await dbA.files.update(row.id, { signature: '' });
    ta.close();
    const { verified } = await reconnect(transfersFor(an, dbA, opts), tb);
    const info = await verified;
    expect(info.state).toBe('failed');
    expect(info.error?.code).toBe(ErrorCode.FileUnavailable);
    expect(await countChunks(dbB, row.id)).toBe(0);
  });

  it('that comes back without the file is told it is unavailable, and the partial file is discarded', async () => {
    const dbA = freshDb();
    const { dbB, tb, row } = await interruptedTransfer(30);
    // A sender on another device (or that cleared its data) cannot resume.
    const other = transfersFor(an, dbA, opts);
    const { verified } = await reconnect(other, tb);
    const info = await verified;
    expect(info.state).toBe('failed');
    expect(info.error?.code).toBe(ErrorCode.FileUnavailable);
    expect(await countChunks(dbB, row.id)).toBe(0);
  });
});

describe('cancelling a transfer', () => {
  it('by the sender stops it on both sides and removes the stored chunks', async () => {
    const dbB = freshDb();
    const ta = transfersFor(an, freshDb(), opts);
    const tb = transfersFor(binh, dbB, opts);
    const { sa, sb } = await openPair(an, binh);
    ta.attach(sa);
    tb.attach(sb);
    const receiving = waitForState(tb, ['receiving']);
    const cancelledB = waitForState(tb, ['cancelled', 'verified', 'failed']);
    const row = await ta.send(randomBlob(4 * 1024 * 1024, 'big.bin', ''));
    await receiving;
    await waitUntil(async () => (await countChunks(dbB, row.id)) > 0);
    const cancelledA = waitForState(ta, ['cancelled']);
    await ta.cancel(row.id);
    expect((await cancelledA).error?.code).toBe(ErrorCode.FileCancelled);
    const info = await cancelledB;
    expect(info.state).toBe('cancelled');
    expect(info.error?.message).toMatch(/an cancelled/i);
    await waitUntil(async () => (await countChunks(dbB, row.id)) === 0);
    expect((await dbB.files.get(row.id))?.state).toBe('failed');
  });

  it('by the sender before the file is hashed: send() says so, nothing is kept or offered', async () => {
    const dbA = freshDb();
    const dbB = freshDb();
    const ta = transfersFor(an, dbA, opts);
    const tb = transfersFor(binh, dbB, opts);
    const { sa, sb } = await openPair(an, binh);
    ta.attach(sa);
    tb.attach(sb);
    const heard: string[] = [];
    tb.on('state', (t) => heard.push(t.state));
    // Cancelled the moment it is offered: before its hash (and signed manifest) exists.
    const off = ta.on('state', (t) => {
      if (t.direction !== 'send' || t.state !== 'offered') return;
      off();
      void ta.cancel(t.id);
    });
    await expect(ta.send(randomBlob(8 * 1024 * 1024, 'big.bin', ''))).rejects.toMatchObject({ code: ErrorCode.FileCancelled, message: 'You cancelled this file.' });
    expect(await dbA.files.count()).toBe(0);
    expect(await dbA.chunks.count()).toBe(0);
    await new Promise((r) => setTimeout(r, 200));
    expect(heard).toEqual([]);
    expect(await dbB.files.count()).toBe(0);
  });

  it('by the receiver stops the sender', async () => {
    const dbB = freshDb();
    const ta = transfersFor(an, freshDb(), opts);
    const tb = transfersFor(binh, dbB, opts);
    const { sa, sb } = await openPair(an, binh);
    ta.attach(sa);
    tb.attach(sb);
    const receiving = waitForState(tb, ['receiving']);
    const stoppedA = waitForState(ta, ['cancelled', 'done', 'failed'], { direction: 'send' });
    const row = await ta.send(randomBlob(4 * 1024 * 1024, 'big.bin', ''));
    await receiving;
    await tb.cancel(row.id);
    const info = await stoppedA;
    expect(info.state).toBe('cancelled');
    expect(info.error?.message).toMatch(/binh cancelled/i);
    expect(await countChunks(dbB, row.id)).toBe(0);
  });
});
