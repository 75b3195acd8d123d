import { afterEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode } from '../../../client/src/core/errors.ts';
import {
  MAX_COUNTER_AHEAD,
  NONCE_BYTES,
  REPLAY_WINDOW,
  ReceiveCipher,
  SendCipher,
  TAG_BYTES,
  counterOfNonce,
  importAesKey,
  nonceForCounter,
  sealAesGcm,
} from '../../../client/src/core/crypto/aead.ts';
import { fromUtf8, randomBytes, utf8 } from '../../../client/src/core/crypto/bytes.ts';
import { canonicalBytes } from '../../../client/src/core/crypto/canonical.ts';
import { expectCode, rejectionCode } from './helpers.ts';

/** Frame header as additional data: the room, sender, recipient and counter are bound. */
function header(room: string, from: string, to: string | null, nonce: Uint8Array): Uint8Array {
  return canonicalBytes('p2pchat/test/frame', [room, from, to, nonce]);
}

async function channel() {
  const key = await importAesKey(randomBytes(32));
  return { key, send: new SendCipher(key), receive: new ReceiveCipher(key) };
}

async function frame(send: SendCipher, text: string, aadOf = (n: Uint8Array) => header('general', 'an', 'binh', n)) {
  const nonce = send.nextNonce();
  const aad = aadOf(nonce);
  return { nonce, aad, sealed: await send.seal(nonce, aad, utf8(text)) };
}

function flipBit(b: Uint8Array, bit: number): Uint8Array {
  const out = b.slice();
  out[bit >> 3]! ^= 1 << (bit & 7);
  return out;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('session AEAD', () => {
  it('delivers an intact message', async () => {
    const c = await channel();
    const f = await frame(c.send, 'xin chào');
    expect(fromUtf8(await c.receive.open(f.nonce, f.aad, f.sealed))).toBe('xin chào');
    expect(f.sealed.length).toBe(utf8('xin chào').length + TAG_BYTES);
  });

  it('imports session keys non-extractable and refuses a key that is not 32 bytes', async () => {
    const c = await channel();
    expect(c.key.extractable).toBe(false);
    await expect(importAesKey(new Uint8Array(16))).rejects.toMatchObject({ code: ErrorCode.Malformed });
  });

  it('numbers nonces from 1 as 4 zero bytes and a u64 counter', async () => {
    const c = await channel();
    const n1 = c.send.nextNonce();
    const n2 = c.send.nextNonce();
    expect(n1.length).toBe(NONCE_BYTES);
    expect([...n1.slice(0, 4)]).toEqual([0, 0, 0, 0]);
    expect(counterOfNonce(n1)).toBe(1n);
    expect(counterOfNonce(n2)).toBe(2n);
    expect(counterOfNonce(nonceForCounter(2n ** 64n - 1n))).toBe(2n ** 64n - 1n);
  });

  it('never seals two frames under one nonce', async () => {
    const c = await channel();
    const nonce = c.send.nextNonce();
    await c.send.seal(nonce, new Uint8Array(0), utf8('one'));
    await expectCode(c.send.seal(nonce, new Uint8Array(0), utf8('two')), ErrorCode.BadNonce);
    await expectCode(c.send.seal(nonceForCounter(99n), new Uint8Array(0), utf8('x')), ErrorCode.BadNonce);
  });

  it('rejects a frame whose ciphertext or tag has one flipped bit, at every bit', async () => {
    const c = await channel();
    const f = await frame(c.send, 'a short message');
    for (let bit = 0; bit < f.sealed.length * 8; bit++) {
      await expectCode(c.receive.open(f.nonce, f.aad, flipBit(f.sealed, bit)), ErrorCode.Decrypt);
    }
    // None of the forgeries burnt the counter: the genuine frame still arrives.
    expect(fromUtf8(await c.receive.open(f.nonce, f.aad, f.sealed))).toBe('a short message');
  });

  it('rejects a frame whose nonce has one flipped bit, at every bit', async () => {
    const c = await channel();
    const f = await frame(c.send, 'hello');
    for (let bit = 0; bit < NONCE_BYTES * 8; bit++) {
      const code = await rejectionCode(c.receive.open(flipBit(f.nonce, bit), f.aad, f.sealed));
      if (bit < 32) expect(code).toBe(ErrorCode.BadNonce); // the zero prefix
      else expect([ErrorCode.Decrypt, ErrorCode.CounterTooFar, ErrorCode.Replay]).toContain(code); // 1 -> 0 is a replay
    }
    expect(fromUtf8(await c.receive.open(f.nonce, f.aad, f.sealed))).toBe('hello');
  });

  it('rejects wrong-length nonces before attempting decryption', async () => {
    const c = await channel();
    const f = await frame(c.send, 'hello');
    const decrypt = vi.spyOn(globalThis.crypto.subtle, 'decrypt');
    for (const n of [new Uint8Array(0), f.nonce.slice(0, 11), new Uint8Array([...f.nonce, 0]), new Uint8Array(16)]) {
      await expectCode(c.receive.open(n, f.aad, f.sealed), ErrorCode.BadNonce);
    }
    expect(decrypt).not.toHaveBeenCalled();
  });

  it('rejects a truncated tag before attempting decryption', async () => {
    const c = await channel();
    const f = await frame(c.send, '');
    expect(f.sealed.length).toBe(TAG_BYTES);
    const decrypt = vi.spyOn(globalThis.crypto.subtle, 'decrypt');
    for (const len of [0, 1, TAG_BYTES - 1]) {
      await expectCode(c.receive.open(f.nonce, f.aad, f.sealed.slice(0, len)), ErrorCode.Malformed);
    }
    expect(decrypt).not.toHaveBeenCalled();
    decrypt.mockRestore();
    // Cut inside a longer frame: long enough to try, and then the tag fails.
    const g = await frame(c.send, 'longer message');
    await expectCode(c.receive.open(g.nonce, g.aad, g.sealed.slice(0, -1)), ErrorCode.Decrypt);
  });

  it('rejects a frame moved to another room, sender or recipient', async () => {
    const c = await channel();
    const f = await frame(c.send, 'private');
    for (const moved of [
      header('random', 'an', 'binh', f.nonce),
      header('general', 'mallory', 'binh', f.nonce),
      header('general', 'an', 'chi', f.nonce),
      header('general', 'an', null, f.nonce),
    ]) {
      await expectCode(c.receive.open(f.nonce, moved, f.sealed), ErrorCode.Decrypt);
    }
    expect(fromUtf8(await c.receive.open(f.nonce, f.aad, f.sealed))).toBe('private');
  });

  it('drops a replayed frame', async () => {
    const c = await channel();
    const f = await frame(c.send, 'once');
    await c.receive.open(f.nonce, f.aad, f.sealed);
    await expectCode(c.receive.open(f.nonce, f.aad, f.sealed), ErrorCode.Replay);
  });

  it('delivers a frame once even when two copies are opened at the same time', async () => {
    const c = await channel();
    const f = await frame(c.send, 'race');
    const results = await Promise.allSettled([
      c.receive.open(f.nonce, f.aad, f.sealed),
      c.receive.open(f.nonce, f.aad, f.sealed),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.find((r) => r.status === 'rejected');
    expect(rejected?.reason).toMatchObject({ code: ErrorCode.Replay });
  });

  it('never accepts counter 0', async () => {
    const c = await channel();
    const nonce = nonceForCounter(0n);
    const sealed = await sealAesGcm(c.key, nonce, new Uint8Array(0), utf8('zero'));
    await expectCode(c.receive.open(nonce, new Uint8Array(0), sealed), ErrorCode.Replay);
  });

  it('accepts reordering inside the window and refuses frames older than it', async () => {
    const c = await channel();
    const at = async (n: bigint) => {
      const nonce = nonceForCounter(n);
      return c.receive.open(nonce, new Uint8Array(0), await sealAesGcm(c.key, nonce, new Uint8Array(0), utf8(`#${n}`)));
    };
    const top = 2000n;
    await at(top);
    expect(fromUtf8(await at(top - 5n))).toBe(`#${top - 5n}`);
    expect(fromUtf8(await at(top - BigInt(REPLAY_WINDOW) + 1n))).toBe(`#${top - BigInt(REPLAY_WINDOW) + 1n}`);
    await expectCode(at(top - BigInt(REPLAY_WINDOW)), ErrorCode.Replay);
    await expectCode(at(1n), ErrorCode.Replay);
    await expectCode(at(top - 5n), ErrorCode.Replay);
  });

  it('rejects a counter far ahead of the expected one, above a fixed bound, without decrypting', async () => {
    const c = await channel();
    const ahead = BigInt(MAX_COUNTER_AHEAD);
    const nonce = nonceForCounter(ahead + 1n);
    const sealed = await sealAesGcm(c.key, nonce, new Uint8Array(0), utf8('far'));
    const decrypt = vi.spyOn(globalThis.crypto.subtle, 'decrypt');
    await expectCode(c.receive.open(nonce, new Uint8Array(0), sealed), ErrorCode.CounterTooFar);
    expect(decrypt).not.toHaveBeenCalled();
    decrypt.mockRestore();
    // Exactly at the bound is still fine, and the bound moves with the highest counter.
    const edge = nonceForCounter(ahead);
    await c.receive.open(edge, new Uint8Array(0), await sealAesGcm(c.key, edge, new Uint8Array(0), utf8('edge')));
    expect(fromUtf8(await c.receive.open(nonce, new Uint8Array(0), sealed))).toBe('far');
  });

  it('does not let a forged frame burn its counter or slide the window', async () => {
    const c = await channel();
    const forgedNonce = nonceForCounter(60_000n);
    await expectCode(c.receive.open(forgedNonce, new Uint8Array(0), randomBytes(40)), ErrorCode.Decrypt);
    const f = await frame(c.send, 'first');
    await expectCode(c.receive.open(f.nonce, f.aad, randomBytes(f.sealed.length)), ErrorCode.Decrypt);
    // Counter 1 is still unused and still inside the window.
    expect(fromUtf8(await c.receive.open(f.nonce, f.aad, f.sealed))).toBe('first');
  });

  it('cannot open a frame sealed under another session key', async () => {
    const a = await channel();
    const b = await channel();
    const f = await frame(a.send, 'for a only');
    await expectCode(b.receive.open(f.nonce, f.aad, f.sealed), ErrorCode.Decrypt);
  });
});
