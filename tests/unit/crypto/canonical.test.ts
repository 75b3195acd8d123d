import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../client/src/core/errors.ts';
import { canonicalBytes } from '../../../client/src/core/crypto/canonical.ts';
import { equalBytes, toHex, utf8 } from '../../../client/src/core/crypto/bytes.ts';

const same = (a: Uint8Array, b: Uint8Array) => equalBytes(a, b);

describe('canonical encoding', () => {
  it('encodes a known layout: domain, field count, then tag + u32 length + payload', () => {
    const b = canonicalBytes('d', ['a', Uint8Array.of(1), 5, null, true, false]);
    expect(toHex(b)).toBe(
      '00000001' + '64' + '00000006' +
        '03' + '00000001' + '61' +
        '04' + '00000001' + '01' +
        '05' + '00000008' + '0000000000000005' +
        '00' + '00000000' +
        '02' + '00000000' +
        '01' + '00000000',
    );
  });

  it('does not let field boundaries move (["ab","c"] differs from ["a","bc"])', () => {
    expect(same(canonicalBytes('x', ['ab', 'c']), canonicalBytes('x', ['a', 'bc']))).toBe(false);
  });

  it('separates types: the string "1", the number 1, the bigint 1n and bytes differ', () => {
    const enc = [
      canonicalBytes('x', ['1']),
      canonicalBytes('x', [1]),
      canonicalBytes('x', [1n]),
      canonicalBytes('x', [utf8('1')]),
      canonicalBytes('x', [null]),
      canonicalBytes('x', ['']),
    ];
    for (let i = 0; i < enc.length; i++) {
      for (let j = i + 1; j < enc.length; j++) expect(same(enc[i]!, enc[j]!)).toBe(false);
    }
  });

  it('separates domains, so a signature for one purpose is not valid for another', () => {
    expect(same(canonicalBytes('p2pchat/v1/hello', ['a']), canonicalBytes('p2pchat/v1/envelope', ['a']))).toBe(false);
  });

  it('refuses values without one obvious encoding', () => {
    for (const bad of [1.5, NaN, Infinity, 2 ** 53]) {
      expect(() => canonicalBytes('x', [bad])).toThrowError(expect.objectContaining({ code: ErrorCode.Malformed }));
    }
    // A lone surrogate would encode to U+FFFD and collide with a real U+FFFD.
    expect(() => canonicalBytes('x', ['\uD800'])).toThrowError(expect.objectContaining({ code: ErrorCode.Malformed }));
    expect(() => canonicalBytes('x', [{} as unknown as string])).toThrowError(
      expect.objectContaining({ code: ErrorCode.Malformed }),
    );
  });

  it('encodes negative integers and large bigints distinctly', () => {
    expect(same(canonicalBytes('x', [-1]), canonicalBytes('x', [1]))).toBe(false);
    expect(same(canonicalBytes('x', [-1n]), canonicalBytes('x', [1n]))).toBe(false);
    expect(canonicalBytes('x', [2n ** 64n - 1n]).length).toBeGreaterThan(0);
    expect(() => canonicalBytes('x', [2n ** 64n])).toThrow();
  });
});
