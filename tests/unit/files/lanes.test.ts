// Must come first: Dexie picks up the global indexedDB when it is first imported.
import 'fake-indexeddb/auto';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AppMessage } from '../../../client/src/core/net/wire.ts';
import { MemoryLink } from '../../../client/src/core/net/memory-link.ts';
import type { Lane } from '../../../client/src/core/net/peer-link.ts';
import { readFileBlob } from '../../../client/src/core/store/files.ts';
import { chunkIndexOf, freshDb, newParty, openPair, randomBlob, sha256Hex, teardown, transfersFor, waitForState, waitUntil, type Party } from './helpers.ts';

let an: Party;
let binh: Party;
beforeAll(async () => {
  [an, binh] = await Promise.all([newParty('An'), newParty('Binh')]);
});
afterEach(teardown);

/** Sends a 2 MiB file a → b over `links`, chatting meanwhile; returns what went on which lane. */
async function transferOver(links: [MemoryLink, MemoryLink], bothHaveBulk: boolean) {
  const [dbA, dbB] = [freshDb(), freshDb()];
  const ta = transfersFor(an, dbA);
  const tb = transfersFor(binh, dbB);
  const [la] = links;
  const wire: { lane: Lane; chunk: number | null }[] = [];
  la.tap = (frame, lane) => {
    wire.push({ lane, chunk: chunkIndexOf(frame) });
    return frame;
  };
  const { sa, sb } = await openPair(an, binh, links);
  ta.attach(sa);
  tb.attach(sb);
  // Each end announces its lane once its session is open; a transfer started before the
  // announcements arrive stays on the main channel (tested below).
  if (bothHaveBulk) await waitUntil(() => sa.bulkReady && sb.bulkReady, 2_000, 'both lanes announced');
  const chats: AppMessage[] = [];
  sb.on('message', (m) => m.t === 'typing' && chats.push(m));
  const file = randomBlob(2 * 1024 * 1024 + 77, 'lanes.bin', 'application/octet-stream');
  const verified = waitForState(tb, ['verified', 'failed'], { direction: 'receive' });
  const sending = waitForState(ta, ['sending'], { direction: 'send' });
  const row = await ta.send(file);
  await sending;
  await sa.sendMessage({ t: 'typing', active: true });
  const got = await verified;
  expect(got.error).toBeUndefined();
  expect(await sha256Hex(await readFileBlob(dbB, row.id, 'application/octet-stream'))).toBe(await sha256Hex(file));
  expect(chats).toHaveLength(1);
  return { wire, sa, sb };
}

describe('the bulk lane', () => {
  it('carries a file’s chunks and its end marker when both ends have one; chat stays on the main channel', async () => {
    const { wire, sa, sb } = await transferOver(MemoryLink.pair({ bulk: true }), true);
    expect(sa.bulkReady).toBe(true);
    expect(sb.bulkReady).toBe(true);
    const chunks = wire.filter((w) => w.chunk !== null);
    expect(chunks.length).toBeGreaterThan(10);
    expect(chunks.every((w) => w.lane === 'bulk')).toBe(true);
    // Besides the chunks, only the end marker goes on the bulk lane; offers, the lanes
    // announcement and the chat message go on the main channel.
    expect(wire.filter((w) => w.lane === 'bulk' && w.chunk === null)).toHaveLength(1);
    expect(wire.filter((w) => w.lane === 'main').length).toBeGreaterThanOrEqual(3);
  });

  it('is not used when the other end has none: everything goes on the main channel and still arrives', async () => {
    const { wire, sa, sb } = await transferOver(MemoryLink.pair({ bulk: [true, false] }), false);
    expect(sa.bulkReady).toBe(false);
    expect(sb.bulkReady).toBe(false);
    expect(wire.filter((w) => w.chunk !== null).length).toBeGreaterThan(10);
    expect(wire.every((w) => w.lane === 'main')).toBe(true);
  });
});
