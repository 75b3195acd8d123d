import { ChatError, ErrorCode } from '../errors.ts';

/**
 * Byte helpers shared by every crypto module. WebCrypto wants ArrayBuffer-backed views,
 * so everything we produce is a `Bytes`; anything we accept is copied if it is not.
 */
export type Bytes = Uint8Array<ArrayBuffer>;

const encoder = new TextEncoder();
// fatal: a peer's invalid UTF-8 is an error, not silently replaced characters.
const decoder = new TextDecoder('utf-8', { fatal: true });

export function utf8(s: string): Bytes {
  return encoder.encode(s);
}

export function fromUtf8(b: Uint8Array): string {
  try {
    return decoder.decode(b);
  } catch (cause) {
    throw new ChatError(ErrorCode.Malformed, 'invalid UTF-8', { cause });
  }
}

/** Hand WebCrypto an ArrayBuffer-backed view; copies views over shared memory. */
export function asBytes(b: Uint8Array): Bytes {
  return b.buffer instanceof ArrayBuffer ? (b as Bytes) : new Uint8Array(b);
}

const B64U = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const B64U_INDEX = new Int16Array(128).fill(-1);
for (let i = 0; i < B64U.length; i++) B64U_INDEX[B64U.charCodeAt(i)] = i;

export function toB64u(b: Uint8Array): string {
  let out = '';
  let i = 0;
  for (; i + 2 < b.length; i += 3) {
    const n = (b[i]! << 16) | (b[i + 1]! << 8) | b[i + 2]!;
    out += B64U[n >> 18]! + B64U[(n >> 12) & 63]! + B64U[(n >> 6) & 63]! + B64U[n & 63]!;
  }
  const rest = b.length - i;
  if (rest === 1) {
    const n = b[i]! << 16;
    out += B64U[n >> 18]! + B64U[(n >> 12) & 63]!;
  } else if (rest === 2) {
    const n = (b[i]! << 16) | (b[i + 1]! << 8);
    out += B64U[n >> 18]! + B64U[(n >> 12) & 63]! + B64U[(n >> 6) & 63]!;
  }
  return out;
}

/**
 * Strict base64url decoding: no padding, no whitespace, and the unused low bits of the
 * last character must be zero. NOTE: a lenient decoder maps several strings to the same
 * bytes, which lets a relay alter a signed field's text without breaking the signature.
 */
export function fromB64u(s: string): Bytes {
  if (typeof s !== 'string' || s.length % 4 === 1) {
    throw new ChatError(ErrorCode.Malformed, 'invalid base64url length');
  }
  const out = new Uint8Array(Math.floor((s.length * 3) / 4));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const v = c < 128 ? B64U_INDEX[c]! : -1;
    if (v < 0) throw new ChatError(ErrorCode.Malformed, 'invalid base64url character');
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
    acc &= (1 << bits) - 1;
  }
  if (acc !== 0) throw new ChatError(ErrorCode.Malformed, 'non-canonical base64url');
  return out;
}

export function toHex(b: Uint8Array): string {
  let out = '';
  for (const x of b) out += x.toString(16).padStart(2, '0');
  return out;
}

export function fromHex(s: string): Bytes {
  if (typeof s !== 'string' || s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) {
    throw new ChatError(ErrorCode.Malformed, 'invalid hex');
  }
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function concatBytes(...parts: readonly Uint8Array[]): Bytes {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/**
 * Compares without an early exit, so timing does not reveal how many leading bytes of a
 * secret (a MAC, a token) an attacker guessed right. Lengths are not secret.
 */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** Lexicographic byte order, used to put two parties in a fixed order. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

const U64_MAX = 2n ** 64n - 1n;

export function u64be(n: bigint): Bytes {
  if (typeof n !== 'bigint' || n < 0n || n > U64_MAX) {
    throw new RangeError('u64be: value out of range');
  }
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, n, false);
  return out;
}

export function readU64be(b: Uint8Array, offset: number): bigint {
  if (!Number.isInteger(offset) || offset < 0 || offset + 8 > b.length) {
    throw new ChatError(ErrorCode.Malformed, 'readU64be: out of bounds');
  }
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(offset, false);
}

export function u32be(n: number): Bytes {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff_ffff) {
    throw new RangeError('u32be: value out of range');
  }
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n, false);
  return out;
}

/** getRandomValues refuses more than 65536 bytes per call. */
const RANDOM_CHUNK = 65_536;

export function randomBytes(n: number): Bytes {
  if (!Number.isInteger(n) || n < 0) throw new RangeError('randomBytes: bad length');
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += RANDOM_CHUNK) {
    globalThis.crypto.getRandomValues(out.subarray(i, Math.min(n, i + RANDOM_CHUNK)));
  }
  return out;
}
