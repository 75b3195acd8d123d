import { describe, expect, it } from 'vitest';
import type { Notice } from '../../../client/src/core/chat/room-session.ts';
import type { MemoryLink } from '../../../client/src/core/net/memory-link.ts';
import { joinAll, MemoryHub, meshUser, until } from '../../support/memory-mesh.ts';
import { mulberry32 } from '../../support/prng.ts';

const SEEDS = [1, 2, 3, 4, 5];
const MESSAGES = 80;

/**
 * TEST-CASES 19 through the whole room session (the cipher layer has its own seeded test):
 * frames on the wire between two members dropped, duplicated, held back and released
 * later (reordered) or altered, from a seed. Whatever arrives is a message that was sent,
 * intact and once; nothing throws; and once the wire behaves, the chat goes on.
 */
describe('a room session on a wire that drops, duplicates, reorders and alters frames', () => {
  for (const seed of SEEDS) {
    it(`stores only sent messages, intact and once, and recovers (seed ${seed})`, async () => {
      const hub = new MemoryHub();
      const [an, binh] = [await meshUser(hub, 'An'), await meshUser(hub, 'Binh')];
      const [a, b] = await joinAll([an, binh], 'chaos');
      // Let the history exchange that follows every new channel settle first.
      await new Promise((r) => setTimeout(r, 100));
      const notices: Notice[] = [];
      b!.on('notice', (n) => notices.push(n));
      const link = a!.session('Binh')!.link as MemoryLink;
      const rnd = mulberry32(seed);
      const held: (string | Uint8Array)[] = [];
      const counts = { dropped: 0, duplicated: 0, held: 0, altered: 0 };
      link.tap = (frame) => {
        const r = rnd();
        if (r < 0.1) return counts.dropped++, null;
        if (r < 0.2) return counts.duplicated++, [frame, frame];
        if (r < 0.3) return counts.held++, held.push(frame), null;
        if (r < 0.35 && typeof frame !== 'string') {
          counts.altered++;
          const copy = frame.slice();
          const bit = Math.floor(rnd() * copy.length * 8);
          copy[bit >> 3]! ^= 1 << (bit & 7);
          return copy;
        }
        // Frames held back go after this one: they arrive out of order.
        return [frame, ...held.splice(0)];
      };

      const sent = new Set<string>();
      for (let i = 0; i < MESSAGES; i++) {
        // (No trailing space: the composer's text is trimmed before it is sent.)
        const text = `seed ${seed} message ${i}${' x'.repeat(Math.floor(rnd() * 100))}`;
        sent.add(text);
        await a!.sendText(text).catch(() => undefined);
      }
      // The wire behaves again; what was held back goes with the next frame.
      link.tap = (frame) => [...held.splice(0), frame];
      await a!.sendText('the wire is quiet again').catch(() => undefined);
      sent.add('the wire is quiet again');
      await until(async () => (await binh.storage.messages.recent('chaos', 500)).some((m) => m.body === 'the wire is quiet again'), 15_000);

      const stored = (await binh.storage.messages.recent('chaos', 500)).map((m) => m.body);
      for (const body of stored) expect(sent.has(body), `stored but never sent: ${body.slice(0, 40)}`).toBe(true);
      expect(new Set(stored).size).toBe(stored.length);
      // The run did exercise every fault, and the altered frames were reported, not stored.
      expect(counts.dropped * counts.duplicated * counts.held * counts.altered).toBeGreaterThan(0);
      expect(notices.some((n) => n.kind === 'rejected-frame')).toBe(true);
      // Both still talk, the other way too.
      await b!.sendText('and back');
      await until(async () => (await an.storage.messages.recent('chaos', 500)).some((m) => m.body === 'and back'), 15_000);
    }, 30_000);
  }
});
