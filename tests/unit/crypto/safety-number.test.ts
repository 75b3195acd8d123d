import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../client/src/core/errors.ts';
import { computeSafetyNumber } from '../../../client/src/core/crypto/safety-number.ts';
import { generateIdentityKeyPair } from '../../../client/src/core/crypto/sign.ts';
import { hex, loadVectors } from './helpers.ts';

interface SafetyVector {
  a: { username: string; publicKey: string };
  b: { username: string; publicKey: string };
  digits: string;
}
const { vectors } = loadVectors<{ vectors: SafetyVector[] }>('safety-number.json');
const party = (p: { username: string; publicKey: string }) => ({ username: p.username, publicKey: hex(p.publicKey) });

describe('safety numbers', () => {
  it('match the golden vectors', async () => {
    expect(vectors.length).toBeGreaterThanOrEqual(3);
    for (const v of vectors) {
      expect(await computeSafetyNumber(party(v.a), party(v.b))).toBe(v.digits);
    }
  });

  it('show 60 digits as 12 groups of 5', async () => {
    const n = await computeSafetyNumber(party(vectors[0]!.a), party(vectors[0]!.b));
    expect(n).toMatch(/^\d{5}( \d{5}){11}$/);
  });

  it('are identical on both sides whatever the argument order', async () => {
    for (const v of vectors) {
      expect(await computeSafetyNumber(party(v.b), party(v.a))).toBe(v.digits);
    }
    const a = { username: 'an', publicKey: (await generateIdentityKeyPair()).publicKey };
    const b = { username: 'bình', publicKey: (await generateIdentityKeyPair()).publicKey };
    expect(await computeSafetyNumber(a, b)).toBe(await computeSafetyNumber(b, a));
  });

  it('change when the server substitutes either key', async () => {
    const a = { username: 'an', publicKey: (await generateIdentityKeyPair()).publicKey };
    const b = { username: 'bình', publicKey: (await generateIdentityKeyPair()).publicKey };
    const m = (await generateIdentityKeyPair()).publicKey;
    const real = await computeSafetyNumber(a, b);
    expect(await computeSafetyNumber({ ...a, publicKey: m }, b)).not.toBe(real);
    expect(await computeSafetyNumber(a, { ...b, publicKey: m })).not.toBe(real);
  });

  it('change when either username is substituted', async () => {
    const v = vectors[0]!;
    expect(await computeSafetyNumber({ ...party(v.a), username: 'mallory' }, party(v.b))).not.toBe(v.digits);
    expect(await computeSafetyNumber(party(v.a), { ...party(v.b), username: 'mallory' })).not.toBe(v.digits);
  });

  it('refuse a key that is not 32 bytes', async () => {
    await expect(
      computeSafetyNumber({ username: 'a', publicKey: new Uint8Array(31) }, party(vectors[0]!.b)),
    ).rejects.toMatchObject({ code: ErrorCode.Malformed });
  });
});
