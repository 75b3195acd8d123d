import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../client/src/core/errors.ts';
import {
  signEnvelope,
  signManifest,
  verifyEnvelope,
  verifyManifest,
  type AddressedManifest,
  type Envelope,
} from '../../../client/src/core/crypto/signed.ts';
import { generateIdentityKeyPair } from '../../../client/src/core/crypto/sign.ts';
import { toB64u } from '../../../client/src/core/crypto/bytes.ts';

const envelope: Envelope = {
  id: 'm-1',
  room: 'general',
  from: 'an',
  sentAt: 1_700_000_000_000,
  kind: 'text',
  body: 'tìm kiếm <b>hi</b>',
};

const manifest: AddressedManifest = {
  id: 'f-1',
  name: 'photo.jpg',
  size: 1_048_576,
  type: 'image/jpeg',
  sha256: 'a'.repeat(64),
  chunkSize: 65_536,
  chunkCount: 16,
  room: 'general',
  from: 'an',
};

describe('signed envelopes', () => {
  it('verify under the author key, also after being relayed as plain data', async () => {
    const an = await generateIdentityKeyPair();
    const sig = await signEnvelope(an.privateKey, envelope);
    const relayed = JSON.parse(JSON.stringify({ envelope, sig })) as { envelope: Envelope; sig: string };
    expect(await verifyEnvelope(an.publicKey, relayed.envelope, relayed.sig)).toBe(true);
  });

  it('are refused when any field was changed, or a recipient added or removed', async () => {
    const an = await generateIdentityKeyPair();
    const sig = await signEnvelope(an.privateKey, envelope);
    const priv = { ...envelope, to: 'binh' };
    const privSig = await signEnvelope(an.privateKey, priv);
    for (const e of [
      { ...envelope, id: 'm-2' },
      { ...envelope, room: 'random' },
      { ...envelope, from: 'mallory' },
      { ...envelope, to: 'binh' },
      { ...envelope, sentAt: envelope.sentAt + 1 },
      { ...envelope, kind: 'file' },
      { ...envelope, body: 'tìm kiếm <b>hi</b>!' },
    ]) {
      expect(await verifyEnvelope(an.publicKey, e, sig)).toBe(false);
    }
    expect(await verifyEnvelope(an.publicKey, { ...priv, to: 'chi' }, privSig)).toBe(false);
    expect(await verifyEnvelope(an.publicKey, envelope, privSig)).toBe(false);
  });

  it('are refused with a forged signature or under another key', async () => {
    const an = await generateIdentityKeyPair();
    const mallory = await generateIdentityKeyPair();
    const sig = await signEnvelope(mallory.privateKey, envelope);
    expect(await verifyEnvelope(an.publicKey, envelope, sig)).toBe(false);
    expect(await verifyEnvelope(an.publicKey, envelope, toB64u(new Uint8Array(64)))).toBe(false);
    expect(await verifyEnvelope(an.publicKey, envelope, 'not base64url!')).toBe(false);
    expect(await verifyEnvelope(an.publicKey, { ...envelope, sentAt: 1.5 }, sig)).toBe(false);
  });
});

describe('signed file manifests', () => {
  it('verify under the sender key', async () => {
    const an = await generateIdentityKeyPair();
    expect(await verifyManifest(an.publicKey, manifest, await signManifest(an.privateKey, manifest))).toBe(true);
  });

  it('are refused when signed by another key', async () => {
    const an = await generateIdentityKeyPair();
    const mallory = await generateIdentityKeyPair();
    expect(await verifyManifest(an.publicKey, manifest, await signManifest(mallory.privateKey, manifest))).toBe(false);
  });

  it('are refused when a valid signature covers a different hash, name, size or chunking', async () => {
    const an = await generateIdentityKeyPair();
    const sig = await signManifest(an.privateKey, manifest);
    for (const m of [
      { ...manifest, sha256: 'b'.repeat(64) },
      { ...manifest, name: 'photo.html' },
      { ...manifest, size: manifest.size + 1 },
      { ...manifest, type: 'text/html' },
      { ...manifest, chunkSize: 32_768 },
      { ...manifest, chunkCount: 17 },
      { ...manifest, id: 'f-2' },
      { ...manifest, room: 'random' },
      { ...manifest, from: 'mallory' },
      { ...manifest, to: 'binh' },
    ]) {
      expect(await verifyManifest(an.publicKey, m, sig)).toBe(false);
    }
  });

  it('cannot pass an envelope signature off as a manifest signature', async () => {
    const an = await generateIdentityKeyPair();
    const sig = await signEnvelope(an.privateKey, envelope);
    expect(await verifyManifest(an.publicKey, manifest, sig)).toBe(false);
  });

  it('refuse to sign or verify a malformed manifest', async () => {
    const an = await generateIdentityKeyPair();
    const sig = await signManifest(an.privateKey, manifest);
    await expect(signManifest(an.privateKey, { ...manifest, sha256: 'A'.repeat(64) })).rejects.toMatchObject({
      code: ErrorCode.Malformed,
    });
    await expect(signManifest(an.privateKey, { ...manifest, size: -1 })).rejects.toMatchObject({
      code: ErrorCode.Malformed,
    });
    expect(await verifyManifest(an.publicKey, { ...manifest, size: 1.5 }, sig)).toBe(false);
  });
});
