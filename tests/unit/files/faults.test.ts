// Must come first: Dexie picks up the global indexedDB when it is first imported.
import 'fake-indexeddb/auto';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MIN_CHUNK_BYTES } from '../../../client/src/core/files/limits.ts';
import type { MemoryLink } from '../../../client/src/core/net/memory-link.ts';
import { countChunks, readFileBlob } from '../../../client/src/core/store/files.ts';
import { mulberry32 } from '../crypto/helpers.ts';
import { chunkIndexOf, freshDb, newParty, openPair, randomBlob, sha256Hex, teardown, transfersFor, waitForState, type Party } from './helpers.ts';

let an: Party;
let binh: Party;
beforeAll(async () => {
  [an, binh] = await Promise.all([newParty('An'), newParty('Binh')]);
});
afterEach(teardown);

type Fault = 'drop' | 'flip' | 'cut';
const FAULTS: Fault[] = ['drop', 'flip', 'cut'];
const opts = { chunkBytes: MIN_CHUNK_BYTES, windowBytes: 4 * MIN_CHUNK_BYTES };

/**
 * Seeded: one fault at a random chunk of a random-sized file. Whatever happens, the
 * receiver ends with either the exact file, verified, or nothing at all: never a wrong
 * file marked verified, never leftover chunks. A cut channel resumes and completes.
 */
describe('a transfer hit by one random fault on the wire', () => {
  it.each(Array.from({ length: 9 }, (_, seed) => [seed + 1]))('ends with the exact file or nothing (seed %i)', async (seed) => {
    const rand = mulberry32(seed * 7919);
    const fault = FAULTS[seed % FAULTS.length]!;
    const size = 20_000 + Math.floor(rand() * 300_000);
    const chunkCount = Math.ceil(size / MIN_CHUNK_BYTES);
    const target = Math.floor(rand() * chunkCount);
    const dbB = freshDb();
    const ta = transfersFor(an, freshDb(), opts);
    const tb = transfersFor(binh, dbB, opts);
    const first = await openPair(an, binh);
    ta.attach(first.sa);
    tb.attach(first.sb);
    let hit = false;
    (first.la as MemoryLink).tap = (frame) => {
      if (fault === 'cut' && hit) return null;
      if (hit || chunkIndexOf(frame) !== target || typeof frame === 'string') return frame;
      hit = true;
      if (fault === 'drop') return null;
      if (fault === 'cut') {
        setTimeout(() => first.la.close(), 0);
        return null;
      }
      const copy = frame.slice();
      const at = 35 + Math.floor(rand() * (copy.length - 35));
      copy[at]! ^= 1 << Math.floor(rand() * 8);
      return copy;
    };
    const file = randomBlob(size, 'f.bin', '');
    const settled = waitForState(tb, ['verified', 'failed', 'interrupted'], { direction: 'receive' });
    const row = await ta.send(file);
    let outcome = await settled;
    if (fault === 'cut') {
      expect(outcome.state).toBe('interrupted');
      const again = waitForState(tb, ['verified', 'failed'], { direction: 'receive' });
      const second = await openPair(an, binh);
      ta.attach(second.sa);
      tb.attach(second.sb);
      outcome = await again;
      expect(outcome.state).toBe('verified');
    }
    if (outcome.state === 'verified') {
      expect(await sha256Hex(await readFileBlob(dbB, row.id, 'application/octet-stream'))).toBe(await sha256Hex(file));
      expect(await dbB.chunks.count()).toBe(chunkCount);
    } else {
      expect(fault).not.toBe('cut');
      expect(await countChunks(dbB, row.id)).toBe(0);
      expect((await dbB.files.get(row.id))?.state).toBe('failed');
    }
  });
});
