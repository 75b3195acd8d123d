import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../client/src/core/errors.ts';
import {
  ROOM_KEY_ITERATIONS,
  deriveRoomSecrets,
  hkdfBytes,
  joinTokenVerifier,
  sha256,
} from '../../../client/src/core/crypto/kdf.ts';
import { asBytes, equalBytes, toB64u, toHex, utf8 } from '../../../client/src/core/crypto/bytes.ts';
import { hex, loadVectors } from './helpers.ts';

const FAST = 1_000; // PBKDF2 iterations for tests that are not about the iteration count

async function proofOf(key: CryptoKey, data: Uint8Array): Promise<string> {
  return toHex(new Uint8Array(await globalThis.crypto.subtle.sign('HMAC', key, asBytes(data))));
}

describe('hashes and HKDF', () => {
  it('computes SHA-256 of "abc" (FIPS 180-2 vector)', async () => {
    expect(toHex(await sha256(utf8('abc')))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('matches RFC 5869 test case 3 (empty salt and info, as the room secrets use)', async () => {
    const okm = await hkdfBytes(hex('0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b'), new Uint8Array(0), '', 42);
    expect(toHex(okm)).toBe(
      '8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8',
    );
  });

  it('derives unrelated keys for different info labels', async () => {
    const ikm = new Uint8Array(32).fill(1);
    const a = await hkdfBytes(ikm, new Uint8Array(0), 'p2pchat/v1/join-token', 32);
    const b = await hkdfBytes(ikm, new Uint8Array(0), 'p2pchat/v1/peer-proof', 32);
    expect(equalBytes(a, b)).toBe(false);
  });
});

describe('password room secrets', () => {
  it('uses at least 600k PBKDF2 iterations by default', () => {
    expect(ROOM_KEY_ITERATIONS).toBeGreaterThanOrEqual(600_000);
  });

  it('gives the same join token and peer proof to two members with the same password', async () => {
    const a = await deriveRoomSecrets('s3cret', 'general', FAST);
    const b = await deriveRoomSecrets('s3cret', 'general', FAST);
    expect(a.joinTokenB64u).toBe(b.joinTokenB64u);
    expect(a.joinToken.length).toBe(32);
    expect(await proofOf(a.peerProofKey, utf8('x'))).toBe(await proofOf(b.peerProofKey, utf8('x')));
  });

  it('gives different secrets for another password or another room', async () => {
    const base = await deriveRoomSecrets('s3cret', 'general', FAST);
    const otherPw = await deriveRoomSecrets('s3cret!', 'general', FAST);
    const otherRoom = await deriveRoomSecrets('s3cret', 'random', FAST);
    expect(otherPw.joinTokenB64u).not.toBe(base.joinTokenB64u);
    expect(otherRoom.joinTokenB64u).not.toBe(base.joinTokenB64u);
  });

  it('never hands the server anything the peer proof key can be computed from', async () => {
    const s = await deriveRoomSecrets('s3cret', 'general', FAST);
    expect(s.peerProofKey.extractable).toBe(false);
    expect(s.peerProofKey.algorithm).toMatchObject({ name: 'HMAC' });
    // The proof key is not the join token (HKDF separates them by label).
    const tokenAsKey = await globalThis.crypto.subtle.importKey('raw', s.joinToken, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    expect(await proofOf(tokenAsKey, utf8('x'))).not.toBe(await proofOf(s.peerProofKey, utf8('x')));
  });

  it('treats NFKC-equivalent passwords as the same password', async () => {
    const a = await deriveRoomSecrets('ｐａｓｓ', 'general', FAST);
    const b = await deriveRoomSecrets('pass', 'general', FAST);
    expect(a.joinTokenB64u).toBe(b.joinTokenB64u);
  });

  it('lets the server store only a hash of the join token', async () => {
    const s = await deriveRoomSecrets('s3cret', 'general', FAST);
    const v = await joinTokenVerifier(s.joinToken);
    expect(v).toBe(toB64u(await sha256(s.joinToken)));
    expect(v).not.toBe(s.joinTokenB64u);
  });

  it('refuses an empty password or room name', async () => {
    await expect(deriveRoomSecrets('', 'general', FAST)).rejects.toMatchObject({ code: ErrorCode.Malformed });
    await expect(deriveRoomSecrets('x', '', FAST)).rejects.toMatchObject({ code: ErrorCode.Malformed });
  });

  it('matches the golden vector at the real iteration count', async () => {
    const { vectors } = loadVectors<{
      vectors: {
        password: string;
        room: string;
        iterations: number;
        joinToken: string;
        verifier: string;
        peerProofHmacOfEmpty: string;
      }[];
    }>('room-secrets.json');
    for (const v of vectors) {
      expect(v.iterations).toBe(ROOM_KEY_ITERATIONS);
      const s = await deriveRoomSecrets(v.password, v.room);
      expect(s.joinTokenB64u).toBe(v.joinToken);
      expect(equalBytes(s.joinToken, Uint8Array.from(Buffer.from(v.joinToken, 'base64url')))).toBe(true);
      expect(await joinTokenVerifier(s.joinToken)).toBe(v.verifier);
      expect(await proofOf(s.peerProofKey, new Uint8Array(0))).toBe(v.peerProofHmacOfEmpty);
    }
  });
});
