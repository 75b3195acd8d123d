import type { StoredIdentity } from '../store/keystore.ts';
import { ChatError, ErrorCode } from '../errors.ts';

/** This browser's long-term identity: an Ed25519 key pair whose private half never leaves it. */
export interface Identity {
  /** Raw 32-byte public key. */
  publicKey: Uint8Array;
  /** Non-extractable Ed25519 private key. */
  privateKey: CryptoKey;
}

const subtle = () => globalThis.crypto.subtle;
type Bytes = Uint8Array<ArrayBuffer>;
const copy = (b: Uint8Array): Bytes => new Uint8Array(b);

/**
 * Makes a new identity. The key the app signs with is non-extractable; a PKCS#8 copy is
 * sealed under a non-extractable device key so that an encrypted backup can carry the
 * identity to another browser.
 * NOTE: script running in this page could unseal that copy, but such script could already
 * sign as the user; the copy adds no new power, and never leaves the browser unencrypted.
 */
export async function createIdentity(now: number): Promise<StoredIdentity> {
  const pair = (await subtle().generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as CryptoKeyPair;
  const pkcs8 = new Uint8Array(await subtle().exportKey('pkcs8', pair.privateKey));
  const publicKey = new Uint8Array(await subtle().exportKey('raw', pair.publicKey));
  return sealIdentity(publicKey, pkcs8, now);
}

/** Identity from a backup's PKCS#8 bytes, re-sealed for this browser. */
export async function restoreIdentity(publicKey: Uint8Array, pkcs8: Uint8Array, username: string, now: number): Promise<StoredIdentity> {
  const identity = await sealIdentity(publicKey, pkcs8, now);
  // The private key must belong to the public key the contacts pinned.
  const probe = new TextEncoder().encode('p2pchat/identity-check');
  const sig = await subtle().sign({ name: 'Ed25519' }, identity.privateKey, probe);
  const pub = await subtle().importKey('raw', copy(publicKey), { name: 'Ed25519' }, true, ['verify']);
  if (!(await subtle().verify({ name: 'Ed25519' }, pub, sig, probe))) {
    throw new ChatError(ErrorCode.Backup, 'the backup identity is inconsistent (key pair mismatch)');
  }
  return { ...identity, username };
}

async function sealIdentity(publicKey: Uint8Array, pkcs8: Uint8Array, now: number): Promise<StoredIdentity> {
  const privateKey = await subtle().importKey('pkcs8', copy(pkcs8), { name: 'Ed25519' }, false, ['sign']);
  const deviceKey = await subtle().generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const data = new Uint8Array(await subtle().encrypt({ name: 'AES-GCM', iv }, deviceKey, copy(pkcs8)));
  pkcs8.fill(0);
  return { publicKey: copy(publicKey), privateKey, createdAt: now, sealedPrivateKey: { deviceKey, iv, data } };
}

/** The PKCS#8 bytes for a backup, or null for an identity made before backups existed. */
export async function unsealPrivateKey(identity: StoredIdentity): Promise<Uint8Array | null> {
  const sealed = identity.sealedPrivateKey;
  if (!sealed) return null;
  return new Uint8Array(await subtle().decrypt({ name: 'AES-GCM', iv: copy(sealed.iv) }, sealed.deviceKey, copy(sealed.data)));
}
