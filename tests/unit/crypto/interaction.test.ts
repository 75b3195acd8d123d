import { describe, expect, it } from 'vitest';
import { ErrorCode, isChatError } from '../../../client/src/core/errors.ts';
import { MAX_COUNTER_AHEAD, REPLAY_WINDOW, TAG_BYTES, nonceForCounter } from '../../../client/src/core/crypto/aead.ts';
import { fromUtf8, utf8 } from '../../../client/src/core/crypto/bytes.ts';
import { canonicalBytes } from '../../../client/src/core/crypto/canonical.ts';
import { startHandshake, type SessionKeys } from '../../../client/src/core/crypto/handshake.ts';
import { fingerprint, mulberry32, newParty, paramsFor } from './helpers.ts';

// A seeded random "interaction" test in the spirit of libsignal's: two sessions from a
// real handshake exchange thousands of frames through a hostile network that drops,
// reorders (within and beyond the replay window), duplicates, replays, truncates, bit-
// flips and forges far-ahead counters. An independent reference model (a plain Set of
// accepted counters) predicts the outcome of every delivery; the receiver must agree.

const FRAMES_PER_DIRECTION = 1500;
const SEEDS = [1, 2, 3];

interface Delivery {
  at: number;
  nonce: Uint8Array;
  aad: Uint8Array;
  sealed: Uint8Array;
  /** Bytes differ from what the sender produced (not authentic). */
  tampered: boolean;
  text: string;
}

type Outcome = 'delivered' | ErrorCode;

function header(from: string, to: string, nonce: Uint8Array): Uint8Array {
  return canonicalBytes('p2pchat/test/frame', ['general', from, to, nonce]);
}

function flipRandomBit(b: Uint8Array, rnd: () => number, from = 0): Uint8Array {
  const out = b.slice();
  const bit = from * 8 + Math.floor(rnd() * (b.length - from) * 8);
  out[bit >> 3]! ^= 1 << (bit & 7);
  return out;
}

/** The reference model: what must happen to each delivery, given what was accepted so far. */
class ReferenceReceiver {
  readonly accepted = new Set<bigint>();
  highest = 0n;

  predict(d: Delivery): Outcome {
    if (d.nonce.length !== 12 || d.nonce.slice(0, 4).some((x) => x !== 0)) return ErrorCode.BadNonce;
    const c = new DataView(d.nonce.buffer, d.nonce.byteOffset).getBigUint64(4);
    if (d.sealed.length < TAG_BYTES) return ErrorCode.Malformed;
    if (c === 0n) return ErrorCode.Replay;
    if (c > this.highest + BigInt(MAX_COUNTER_AHEAD)) return ErrorCode.CounterTooFar;
    if (c <= this.highest - BigInt(REPLAY_WINDOW)) return ErrorCode.Replay;
    if (this.accepted.has(c)) return ErrorCode.Replay;
    if (d.tampered) return ErrorCode.Decrypt;
    this.accepted.add(c);
    if (c > this.highest) this.highest = c;
    return 'delivered';
  }
}

async function buildSchedule(
  from: SessionKeys,
  names: [string, string],
  rnd: () => number,
): Promise<Delivery[]> {
  const out: Delivery[] = [];
  let tie = 0;
  const push = (at: number, d: Omit<Delivery, 'at'>) => out.push({ ...d, at: at + (tie++ % 1000) / 1000 });
  for (let i = 1; i <= FRAMES_PER_DIRECTION; i++) {
    const text = `${names[0]}#${i}`;
    const nonce = from.send.nextNonce();
    const aad = header(names[0], names[1], nonce);
    const sealed = await from.send.seal(nonce, aad, utf8(text));
    const frame = { nonce, aad, sealed, tampered: false, text };
    const r = rnd();
    if (r < 0.08) continue; // dropped
    if (r < 0.16) {
      // tampered copy: flip a bit in ciphertext/tag, nonce or additional data, or truncate
      const which = Math.floor(rnd() * 4);
      const bad =
        which === 0
          ? { ...frame, sealed: flipRandomBit(sealed, rnd) }
          : which === 1
            ? { ...frame, nonce: flipRandomBit(nonce, rnd) }
            : which === 2
              ? { ...frame, aad: flipRandomBit(aad, rnd) }
              : { ...frame, sealed: sealed.slice(0, Math.floor(rnd() * sealed.length)) };
      push(i, { ...bad, tampered: true });
      if (rnd() < 0.5) push(i + 1 + Math.floor(rnd() * 5), frame);
      continue;
    }
    if (r < 0.24) {
      // duplicated by the network
      push(i, frame);
      push(i + Math.floor(rnd() * 20), frame);
      continue;
    }
    if (r < 0.34) {
      push(i + 1 + Math.floor(rnd() * 60), frame); // reordered inside the window
      continue;
    }
    if (r < 0.37) {
      push(i + REPLAY_WINDOW + 1 + Math.floor(rnd() * 300), frame); // held beyond the window
      continue;
    }
    if (r < 0.41) {
      // replayed much later by an attacker who recorded it
      push(i, frame);
      push(i + Math.floor(rnd() * 3 * REPLAY_WINDOW), frame);
      continue;
    }
    if (r < 0.43) {
      // forged frame claiming a counter far ahead
      const far = BigInt(i) + BigInt(MAX_COUNTER_AHEAD) + 1n + BigInt(Math.floor(rnd() * 1e6));
      const forgedNonce = nonceForCounter(far);
      push(i, { nonce: forgedNonce, aad: header(names[0], names[1], forgedNonce), sealed, tampered: true, text });
    }
    push(i, frame);
  }
  return out.sort((a, b) => a.at - b.at);
}

async function runDirection(from: SessionKeys, to: SessionKeys, names: [string, string], rnd: () => number) {
  const schedule = await buildSchedule(from, names, rnd);
  const model = new ReferenceReceiver();
  const delivered = new Set<string>();
  const counts = new Map<Outcome, number>();
  const disagreements: string[] = [];
  for (const d of schedule) {
    const expected = model.predict(d);
    let actual: Outcome;
    try {
      const text = fromUtf8(await to.receive.open(d.nonce, d.aad, d.sealed));
      if (text !== d.text) disagreements.push(`corrupted plaintext for ${d.text}: ${text}`);
      if (delivered.has(text)) disagreements.push(`delivered twice: ${text}`);
      delivered.add(text);
      actual = 'delivered';
    } catch (e) {
      if (!isChatError(e)) throw e; // no unexpected exception types
      actual = e.code;
    }
    counts.set(actual, (counts.get(actual) ?? 0) + 1);
    if (actual !== expected) disagreements.push(`${d.text} (tampered=${d.tampered}): expected ${expected}, got ${actual}`);
  }
  return { delivered, counts, disagreements, accepted: model.accepted.size };
}

describe('seeded random interaction', () => {
  for (const seed of SEEDS) {
    it(`delivers every intact in-bounds frame exactly once under drop/reorder/duplicate/replay/tamper (seed ${seed})`, async () => {
      const rnd = mulberry32(seed);
      const alice = await newParty('alice');
      const bob = await newParty('bob');
      const fa = fingerprint(seed);
      const fb = fingerprint(seed + 100);
      const a = await startHandshake(paramsFor(alice, bob, fa, fb, true));
      const b = await startHandshake(paramsFor(bob, alice, fb, fa, false));
      const [ka, kb] = await Promise.all([a.finish(b.hello), b.finish(a.hello)]);

      for (const [from, to, names] of [
        [ka, kb, ['alice', 'bob']],
        [kb, ka, ['bob', 'alice']],
      ] as const) {
        const r = await runDirection(from, to, [...names], rnd);
        expect(r.disagreements).toEqual([]);
        expect(r.delivered.size).toBe(r.accepted);
        // The run really exercised every path.
        expect(r.counts.get('delivered') ?? 0).toBeGreaterThan(FRAMES_PER_DIRECTION * 0.7);
        for (const code of [ErrorCode.Replay, ErrorCode.Decrypt, ErrorCode.CounterTooFar]) {
          expect(r.counts.get(code) ?? 0, code).toBeGreaterThan(0);
        }
      }
    });
  }
});
