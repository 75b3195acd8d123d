import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../client/src/core/errors.ts';
import {
  concatBytes,
  equalBytes,
  fromB64u,
  fromHex,
  fromUtf8,
  randomBytes,
  readU64be,
  toB64u,
  toHex,
  u64be,
  utf8,
} from '../../../client/src/core/crypto/bytes.ts';
import { mulberry32 } from './helpers.ts';

const codeOf = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
};

describe('bytes', () => {
  it('round-trips text including Vietnamese and emoji', () => {
    const s = 'tìm kiếm 🔐 chat';
    expect(fromUtf8(utf8(s))).toBe(s);
  });

  it('refuses invalid UTF-8 from a peer instead of showing replacement characters', () => {
    expect(codeOf(() => fromUtf8(Uint8Array.of(0xc3, 0x28)))).toBe(ErrorCode.Malformed);
  });

  it('encodes base64url without padding and round-trips every length', () => {
    expect(toB64u(utf8('hello?>'))).toBe('aGVsbG8_Pg');
    const rnd = mulberry32(7);
    for (let n = 0; n < 70; n++) {
      const b = Uint8Array.from({ length: n }, () => Math.floor(rnd() * 256));
      const s = toB64u(b);
      expect(s).not.toMatch(/[=+/]/);
      expect(equalBytes(fromB64u(s), b)).toBe(true);
    }
  });

  it('rejects padded, standard-alphabet, wrong-length or non-canonical base64url', () => {
    for (const bad of ['aGVsbG8=', 'aGVs+G8', 'aGVs/G8', 'a', 'aGVsbG8_Ph', 'ab c', 'é']) {
      expect(codeOf(() => fromB64u(bad)), bad).toBe(ErrorCode.Malformed);
    }
    // "AB" and "AA" would both decode to 0x00 under a lenient decoder.
    expect(toHex(fromB64u('AA'))).toBe('00');
    expect(codeOf(() => fromB64u('AB'))).toBe(ErrorCode.Malformed);
  });

  it('round-trips hex and refuses odd or non-hex input', () => {
    expect(toHex(fromHex('00ff10Ab'))).toBe('00ff10ab');
    expect(codeOf(() => fromHex('abc'))).toBe(ErrorCode.Malformed);
    expect(codeOf(() => fromHex('zz'))).toBe(ErrorCode.Malformed);
  });

  it('concatenates and compares', () => {
    const c = concatBytes(Uint8Array.of(1), new Uint8Array(0), Uint8Array.of(2, 3));
    expect([...c]).toEqual([1, 2, 3]);
    expect(equalBytes(c, Uint8Array.of(1, 2, 3))).toBe(true);
    expect(equalBytes(c, Uint8Array.of(1, 2, 4))).toBe(false);
    expect(equalBytes(c, Uint8Array.of(1, 2))).toBe(false);
  });

  it('writes and reads u64 big-endian at the edges', () => {
    expect(toHex(u64be(1n))).toBe('0000000000000001');
    expect(toHex(u64be(2n ** 64n - 1n))).toBe('ffffffffffffffff');
    expect(() => u64be(-1n)).toThrow(RangeError);
    expect(() => u64be(2n ** 64n)).toThrow(RangeError);
    const b = concatBytes(Uint8Array.of(9), u64be(0x0102030405060708n));
    expect(readU64be(b, 1)).toBe(0x0102030405060708n);
    expect(codeOf(() => readU64be(b, 2))).toBe(ErrorCode.Malformed);
  });

  it('gives fresh random bytes of any length, beyond the 64 KiB getRandomValues limit', () => {
    const a = randomBytes(32);
    expect(a.length).toBe(32);
    expect(equalBytes(a, randomBytes(32))).toBe(false);
    expect(randomBytes(100_000).length).toBe(100_000);
  });
});
