// Must come first: Dexie picks up the global indexedDB when it is first imported.
import 'fake-indexeddb/auto';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MIN_CHUNK_BYTES } from '../../../client/src/core/files/limits.ts';
import { FileTransfers } from '../../../client/src/core/files/transfers.ts';
import { DiskFileStore } from '../../../cli/src/disk-file-store.ts';
import { cutAtChunk, freshDb, newParty, openPair, randomBlob, reconnectTransfers, ROOM, teardown, transfersFor, waitForState, type Party } from '../files/helpers.ts';

let an: Party;
let binh: Party;
beforeAll(async () => {
  [an, binh] = await Promise.all([newParty('An'), newParty('Binh')]);
});
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cli-file-restart-'));
});
afterEach(async () => {
  await teardown();
  await rm(dir, { recursive: true, force: true });
});

const CHUNK = MIN_CHUNK_BYTES;
const opts = { chunkBytes: CHUNK, windowBytes: 8 * CHUNK };

function cliTransfers(store: DiskFileStore): FileTransfers {
  return new FileTransfers({ store, identity: binh.identity, username: binh.username, room: ROOM, keepSentCopy: false, ...opts });
}

describe('a terminal peer receiving a file', () => {
  it('restarted mid-transfer resumes from what is on disk and ends with the same SHA-256', async () => {
    const ta = transfersFor(an, freshDb(), opts);
    const firstStore = await DiskFileStore.open(join(dir, 'files'));
    const tb = cliTransfers(firstStore);
    const first = await openPair(an, binh);
    ta.attach(first.sa);
    tb.attach(first.sb);
    cutAtChunk(first.la, 70);
    const file = randomBlob(2 * 1024 * 1024, 'movie.webm', 'video/webm');
    const interrupted = waitForState(tb, ['interrupted', 'failed', 'verified'], { direction: 'receive' });
    const row = await ta.send(file);
    expect((await interrupted).state).toBe('interrupted');
    await new Promise((r) => setTimeout(r, 200));
    const stored = await firstStore.countChunks(row.id);
    expect(stored).toBeGreaterThan(0);
    expect(stored).toBeLessThan(row.chunkCount);

    // The process ends: nothing in memory survives, only the home folder.
    tb.close();
    firstStore.close();
    const store = await DiskFileStore.open(join(dir, 'files'));
    expect(await store.lastContiguousChunk(row.id)).toBe(stored - 1);
    const restarted = cliTransfers(store);

    const { resent, verified, done } = await reconnectTransfers(an, binh, ta, restarted);
    expect((await verified).state).toBe('verified');
    expect((await done).state).toBe('done');
    // Only what was missing crossed the wire again.
    expect(resent[0]).toBe(stored);
    expect(resent.length).toBe(row.chunkCount - stored);
    const onDisk = await readFile(store.partPath(row.id));
    expect(createHash('sha256').update(onDisk).digest('hex')).toBe(row.sha256);
    expect((await store.get(row.id))?.state).toBe('verified');
    store.close();
  });
});
