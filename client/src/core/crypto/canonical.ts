import { ChatError, ErrorCode } from '../errors.ts';
import { concatBytes, u32be, utf8, type Bytes } from './bytes.ts';

/**
 * The one encoding for everything we sign or MAC. Each field carries a type tag and a
 * u32be length, and the whole is prefixed by a domain string and the field count.
 *
 * NOTE: never sign JSON.stringify output: key order, number formatting and escaping are
 * not unique, and without type tags and lengths ["ab","c"] and ["a","bc"] can collide,
 * letting a signature for one message be passed off as a signature for another. The
 * domain string stops a signature made for one purpose (a hello) being replayed as
 * another (an envelope).
 */
export type CanonicalField = string | Uint8Array | number | bigint | boolean | null;

const TAG_NULL = 0x00;
const TAG_FALSE = 0x01;
const TAG_TRUE = 0x02;
const TAG_STRING = 0x03;
const TAG_BYTES = 0x04;
const TAG_INT = 0x05;
const TAG_BIGINT = 0x06;

const I64_MIN = -(2n ** 63n);
const U64_MAX = 2n ** 64n - 1n;

// A lone surrogate encodes to U+FFFD, so two different strings would sign identically.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function encodeString(s: string): Bytes {
  if (LONE_SURROGATE.test(s)) {
    throw new ChatError(ErrorCode.Malformed, 'string contains a lone surrogate');
  }
  return utf8(s);
}

function tagged(tag: number, payload: Uint8Array): Bytes {
  return concatBytes(Uint8Array.of(tag), u32be(payload.length), payload);
}

function encodeField(f: CanonicalField): Bytes {
  if (f === null) return tagged(TAG_NULL, new Uint8Array(0));
  if (f === true) return tagged(TAG_TRUE, new Uint8Array(0));
  if (f === false) return tagged(TAG_FALSE, new Uint8Array(0));
  if (typeof f === 'string') return tagged(TAG_STRING, encodeString(f));
  if (f instanceof Uint8Array) return tagged(TAG_BYTES, f);
  if (typeof f === 'number') {
    // Only safe integers have one obvious encoding; floats and NaN are refused.
    if (!Number.isSafeInteger(f)) {
      throw new ChatError(ErrorCode.Malformed, 'number field is not a safe integer');
    }
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigInt64(0, BigInt(f), false);
    return tagged(TAG_INT, b);
  }
  if (typeof f === 'bigint') {
    if (f < I64_MIN || f > U64_MAX) {
      throw new ChatError(ErrorCode.Malformed, 'bigint field out of range');
    }
    // Sign byte then 8 magnitude bytes: unique for every value in range.
    const b = new Uint8Array(9);
    b[0] = f < 0n ? 1 : 0;
    new DataView(b.buffer).setBigUint64(1, f < 0n ? -f : f, false);
    return tagged(TAG_BIGINT, b);
  }
  throw new ChatError(ErrorCode.Malformed, 'unsupported canonical field type');
}

export function canonicalBytes(domain: string, fields: readonly CanonicalField[]): Bytes {
  if (typeof domain !== 'string' || domain.length === 0 || !/^[\x21-\x7e]+$/.test(domain)) {
    throw new RangeError('canonicalBytes: domain must be non-empty printable ASCII');
  }
  const d = utf8(domain);
  return concatBytes(u32be(d.length), d, u32be(fields.length), ...fields.map(encodeField));
}
