// Must come first: Dexie picks up the global indexedDB when it is first imported.
import 'fake-indexeddb/auto';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../client/src/core/errors.ts';
import { MIN_CHUNK_BYTES } from '../../../client/src/core/files/limits.ts';
import { countChunks } from '../../../client/src/core/store/files.ts';
import { addMessage } from '../../../client/src/core/store/messages.ts';
import { QUOTA_MESSAGE } from '../../../client/src/core/store/quota.ts';
import { freshDb, newParty, openPair, randomBlob, simulateFullDisk, teardown, transfersFor, waitForState, waitUntil, watchChunkWrites, type Party } from './helpers.ts';

let an: Party;
let binh: Party;
beforeAll(async () => {
  [an, binh] = await Promise.all([newParty('An'), newParty('Binh')]);
});
afterEach(teardown);

describe('a disk that fills up mid-transfer', () => {
  it('fails the file with a clear error, frees its chunks and keeps earlier history', async () => {
    const dbB = freshDb();
    let written = 0;
    watchChunkWrites(dbB, () => written++);
    simulateFullDisk(dbB, () => written >= 20);
    await addMessage(dbB, { id: 'earlier-1', room: 'general', from: 'An', sentAt: Date.now(), kind: 'text', body: 'earlier history', signature: 'c2ln' });

    const ta = transfersFor(an, freshDb(), { chunkBytes: MIN_CHUNK_BYTES });
    const tb = transfersFor(binh, dbB);
    const { sa, sb } = await openPair(an, binh);
    ta.attach(sa);
    tb.attach(sb);
    const atB = waitForState(tb, ['failed', 'verified'], { direction: 'receive' });
    const atA = waitForState(ta, ['failed', 'done'], { direction: 'send' });
    const row = await ta.send(randomBlob(1024 * 1024, 'big.bin', ''));

    const info = await atB;
    expect(info.state).toBe('failed');
    expect(info.error?.code).toBe(ErrorCode.Quota);
    expect(info.error?.message).toBe(QUOTA_MESSAGE);
    const sender = await atA;
    expect(sender.error?.code).toBe(ErrorCode.Quota);
    expect(sender.error?.message).toMatch(/no more room/);

    expect((await dbB.messages.get('earlier-1'))?.body).toBe('earlier history');
    expect(await countChunks(dbB, row.id)).toBe(0);
    expect((await dbB.files.get(row.id))?.state).toBe('failed');
  });

  it('on the sender fails the send with a clear error; the recipient is told and keeps nothing', async () => {
    const dbA = freshDb();
    const dbB = freshDb();
    simulateFullDisk(dbA, () => true);
    const ta = transfersFor(an, dbA);
    const tb = transfersFor(binh, dbB);
    const { sa, sb } = await openPair(an, binh);
    ta.attach(sa);
    tb.attach(sb);
    const states: string[] = [];
    tb.on('state', (t) => states.push(t.state));
    await expect(ta.send(randomBlob(300_000, 'a.png', 'image/png'))).rejects.toMatchObject({ code: ErrorCode.Quota, message: QUOTA_MESSAGE });
    // The file was begun (chunks go out while it is hashed): the recipient hears it is unavailable.
    await waitUntil(() => states.includes('failed'), 5_000, 'the recipient to give up');
    expect(await dbB.chunks.count()).toBe(0);
    expect(await dbA.files.count()).toBe(0);
    expect(await dbA.chunks.count()).toBe(0);
  });
});
