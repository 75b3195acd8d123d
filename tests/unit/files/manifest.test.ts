import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../../client/src/core/crypto/bytes.ts';
import { generateIdentityKeyPair } from '../../../client/src/core/crypto/sign.ts';
import { manifestCanonicalBytes, type AddressedManifest } from '../../../client/src/core/crypto/signed.ts';
import { ErrorCode } from '../../../client/src/core/errors.ts';
import {
  CHUNK_FRAME_OVERHEAD,
  chooseChunkSize,
  chunkCountFor,
  DEFAULT_MAX_FILE_BYTES,
  MAX_CHUNK_BYTES,
  MIN_CHUNK_BYTES,
  PREFERRED_CHUNK_BYTES,
} from '../../../client/src/core/files/limits.ts';
import {
  buildManifest,
  fileMessageBody,
  hashBlob,
  HASH_READ_BYTES,
  parseFileMessageBody,
  signFileManifest,
  verifyFileMessageBody,
  verifySignedManifest,
  type SignedManifest,
} from '../../../client/src/core/files/manifest.ts';

interface Vectors {
  seedHex: string;
  publicKeyHex: string;
  vectors: { manifest: AddressedManifest; canonicalHex: string; signature: string }[];
}
const vectors = JSON.parse(readFileSync(new URL('./vectors/manifest-signature.json', import.meta.url), 'utf8')) as Vectors;

/** Ed25519 private key from a raw 32-byte seed (PKCS#8 wrapping, RFC 8410). */
async function importSeed(seedHex: string): Promise<CryptoKey> {
  const pkcs8 = fromHex(`302e020100300506032b657004220420${seedHex}`);
  return crypto.subtle.importKey('pkcs8', pkcs8, { name: 'Ed25519' }, false, ['sign']);
}

describe('manifest signing vectors', () => {
  it.each(vectors.vectors.map((v, i) => [i, v] as const))('vector %i: canonical bytes and signature match the independent computation', async (_i, v) => {
    expect(toHex(manifestCanonicalBytes(v.manifest))).toBe(v.canonicalHex);
    const key = await importSeed(vectors.seedHex);
    const signed = await signFileManifest(key, v.manifest);
    expect(signed.sig).toBe(v.signature);
    const ctx = { peerKey: fromHex(vectors.publicKeyHex), peer: v.manifest.from, room: v.manifest.room, me: v.manifest.to ?? 'someone', maxFileBytes: DEFAULT_MAX_FILE_BYTES };
    await expect(verifySignedManifest({ manifest: v.manifest, sig: v.signature }, ctx)).resolves.toEqual(v.manifest);
  });
});

describe('verifying a manifest', () => {
  const file = new Blob([new Uint8Array(100_000).fill(7)]);
  async function signed(): Promise<{ s: SignedManifest; key: Uint8Array }> {
    const an = await generateIdentityKeyPair();
    const sha256 = await hashBlob(file, MIN_CHUNK_BYTES);
    const m = buildManifest({ file, name: 'a.bin', type: 'application/octet-stream', room: 'general', from: 'An', chunkSize: MIN_CHUNK_BYTES, sha256 });
    return { s: await signFileManifest(an.privateKey, m), key: an.publicKey };
  }
  const ctx = (key: Uint8Array) => ({ peerKey: key, peer: 'an', room: 'general', me: 'binh', maxFileBytes: 1_000_000 });

  it('accepts the author’s own manifest (usernames compared case-insensitively)', async () => {
    const { s, key } = await signed();
    await expect(verifySignedManifest(s, ctx(key))).resolves.toMatchObject({ size: 100_000, chunkCount: 7 });
  });

  it.each([
    ['another room', { room: 'random' }, ErrorCode.Malformed],
    ['another recipient', { to: 'chi' }, ErrorCode.Malformed],
    ['another author', { from: 'Chi' }, ErrorCode.IdentityMismatch],
    ['chunks smaller than the minimum', { chunkSize: 1024, chunkCount: 98 }, ErrorCode.Malformed],
    ['chunks larger than the maximum', { chunkSize: MAX_CHUNK_BYTES + 1024, chunkCount: 1 }, ErrorCode.Malformed],
    ['an id that is not 16 bytes', { id: 'AAAAAAAA' }, ErrorCode.Malformed],
  ])('refuses a manifest for %s', async (_what, patch, code) => {
    const { s, key } = await signed();
    await expect(verifySignedManifest({ manifest: { ...s.manifest, ...patch }, sig: s.sig }, ctx(key))).rejects.toMatchObject({ code });
  });

  it('refuses an authentic file larger than the limit, naming both sizes', async () => {
    const { s, key } = await signed();
    await expect(verifySignedManifest(s, { ...ctx(key), maxFileBytes: 50_000 })).rejects.toMatchObject({
      code: ErrorCode.FileTooLarge,
      message: expect.stringMatching(/100 kB, more than the 50 kB limit/),
    });
  });

  it('inside a file chat message is checked against the message author and room', async () => {
    const { s, key } = await signed();
    const body = fileMessageBody(s);
    const author = { username: 'An', publicKey: key };
    await expect(verifyFileMessageBody(body, author, { room: 'general', me: 'binh' })).resolves.toEqual(s);
    await expect(verifyFileMessageBody(body, { ...author, username: 'Chi' }, { room: 'general', me: 'binh' })).resolves.toBeNull();
    await expect(verifyFileMessageBody(body, author, { room: 'random', me: 'binh' })).resolves.toBeNull();
    const other = await generateIdentityKeyPair();
    await expect(verifyFileMessageBody(body, { ...author, publicKey: other.publicKey }, { room: 'general', me: 'binh' })).resolves.toBeNull();
    await expect(verifyFileMessageBody('{}', author, { room: 'general', me: 'binh' })).resolves.toBeNull();
  });

  it('a file message body round-trips and rejects anything else', async () => {
    const { s } = await signed();
    expect(parseFileMessageBody(fileMessageBody(s))).toEqual(s);
    expect(parseFileMessageBody(JSON.stringify({ manifest: { ...s.manifest, sha256: 'XYZ' }, sig: s.sig }))).toBeNull();
    expect(parseFileMessageBody(JSON.stringify({ ...s, extra: 1 }))).toBeNull();
  });
});

describe('building a manifest', () => {
  it('sanitises the name and drops a type that is not a plain token', () => {
    const file = new Blob([new Uint8Array(10)]);
    const base = { file, room: 'general', from: 'An', chunkSize: MIN_CHUNK_BYTES, sha256: '0'.repeat(64) };
    expect(buildManifest({ ...base, name: '../evil\u202Egnp.exe', type: 'IMAGE/PNG' })).toMatchObject({ name: 'evilgnp.exe', type: 'image/png', chunkCount: 1 });
    expect(buildManifest({ ...base, name: 'a.png', type: 'text/html\n<script>' }).type).toBe('');
  });

  it('hashes a file across several reads, the last one partial, to the one-shot SHA-256', async () => {
    const bytes = new Uint8Array(2 * HASH_READ_BYTES + 3 * MIN_CHUNK_BYTES + 123);
    for (let i = 0; i < bytes.length; i += 65536) crypto.getRandomValues(bytes.subarray(i, i + 65536));
    const expected = toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)));
    expect(await hashBlob(new Blob([bytes]), MIN_CHUNK_BYTES)).toBe(expected);
    expect(await hashBlob(new Blob([]), MIN_CHUNK_BYTES)).toBe(toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', new Uint8Array(0)))));
  });
});

describe('chunk size', () => {
  it('is the preferred size when the link carries it, else the largest whole KiB that fits', () => {
    expect(chooseChunkSize(256 * 1024)).toBe(PREFERRED_CHUNK_BYTES);
    expect(chooseChunkSize(1024 * 1024 * 1024)).toBe(PREFERRED_CHUNK_BYTES);
    // WebRTC's default 64 KiB: 63 KiB of plaintext plus the 51-byte frame overhead fit.
    expect(chooseChunkSize(64 * 1024)).toBe(63 * 1024);
    expect(chooseChunkSize(64 * 1024) + CHUNK_FRAME_OVERHEAD).toBeLessThanOrEqual(64 * 1024);
    expect(chooseChunkSize(256 * 1024, MAX_CHUNK_BYTES)).toBe(255 * 1024);
    expect(() => chooseChunkSize(8 * 1024)).toThrow(RangeError);
  });

  it('gives at least one chunk, so an empty file still ends with a final chunk', () => {
    expect(chunkCountFor(0, MIN_CHUNK_BYTES)).toBe(1);
    expect(chunkCountFor(MIN_CHUNK_BYTES, MIN_CHUNK_BYTES)).toBe(1);
    expect(chunkCountFor(MIN_CHUNK_BYTES + 1, MIN_CHUNK_BYTES)).toBe(2);
    // 4 GiB at the preferred size fits the u32 chunk index many times over.
    expect(chunkCountFor(DEFAULT_MAX_FILE_BYTES, PREFERRED_CHUNK_BYTES)).toBe(32_768);
  });
});
