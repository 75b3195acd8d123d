import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../client/src/core/errors.ts';
import {
  generateIdentityKeyPair,
  importIdentityPublicKey,
  signBytes,
  verifyBytes,
} from '../../../client/src/core/crypto/sign.ts';
import { utf8 } from '../../../client/src/core/crypto/bytes.ts';

describe('identity signatures', () => {
  it('creates a non-extractable private key and a raw 32-byte public key', async () => {
    const id = await generateIdentityKeyPair();
    expect(id.publicKey.length).toBe(32);
    expect(id.privateKey.extractable).toBe(false);
    await expect(globalThis.crypto.subtle.exportKey('pkcs8', id.privateKey)).rejects.toThrow();
  });

  it('verifies its own signature and nothing else', async () => {
    const a = await generateIdentityKeyPair();
    const b = await generateIdentityKeyPair();
    const msg = utf8('hello room');
    const sig = await signBytes(a.privateKey, msg);
    expect(sig.length).toBe(64);
    expect(await verifyBytes(a.publicKey, sig, msg)).toBe(true);
    expect(await verifyBytes(b.publicKey, sig, msg)).toBe(false);
    expect(await verifyBytes(a.publicKey, sig, utf8('hello room!'))).toBe(false);
    const flipped = sig.slice();
    flipped[10]! ^= 1;
    expect(await verifyBytes(a.publicKey, flipped, msg)).toBe(false);
  });

  it('returns false, never throws, for wrong-length or invalid keys and signatures', async () => {
    const a = await generateIdentityKeyPair();
    const msg = utf8('x');
    const sig = await signBytes(a.privateKey, msg);
    expect(await verifyBytes(a.publicKey.slice(0, 31), sig, msg)).toBe(false);
    expect(await verifyBytes(new Uint8Array(33), sig, msg)).toBe(false);
    expect(await verifyBytes(a.publicKey, sig.slice(0, 63), msg)).toBe(false);
    expect(await verifyBytes(a.publicKey, new Uint8Array([...sig, 0]), msg)).toBe(false);
    // y = 2 is not the encoding of any curve point.
    const notAPoint = new Uint8Array(32);
    notAPoint[0] = 2;
    expect(await verifyBytes(notAPoint, sig, msg)).toBe(false);
    expect(await verifyBytes(null as unknown as Uint8Array, sig, msg)).toBe(false);
  });

  it('imports a raw public key, refusing the wrong length with ERR_MALFORMED', async () => {
    const a = await generateIdentityKeyPair();
    expect((await importIdentityPublicKey(a.publicKey)).type).toBe('public');
    await expect(importIdentityPublicKey(new Uint8Array(31))).rejects.toMatchObject({ code: ErrorCode.Malformed });
  });
});
