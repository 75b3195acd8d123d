import { ChatError, ErrorCode } from '../errors.ts';
import { asBytes, type Bytes } from './bytes.ts';
import { ED25519_PUBLIC_KEY_BYTES, ED25519_SIGNATURE_BYTES } from './limits.ts';

/**
 * Ed25519 identity keys. The private key is created non-extractable: script that runs
 * later in the page (an XSS, a bad dependency) can use it while the page is open but can
 * never copy it out.
 */
export interface IdentityKeyPair {
  publicKey: Bytes;
  privateKey: CryptoKey;
}

const ED25519 = { name: 'Ed25519' } as const;

export async function generateIdentityKeyPair(): Promise<IdentityKeyPair> {
  const pair = (await globalThis.crypto.subtle.generateKey(ED25519, false, [
    'sign',
    'verify',
  ])) as CryptoKeyPair;
  // The public half of a pair is always exportable, whatever `extractable` says.
  const publicKey = new Uint8Array(await globalThis.crypto.subtle.exportKey('raw', pair.publicKey));
  return { publicKey, privateKey: pair.privateKey };
}

export async function signBytes(privateKey: CryptoKey, data: Uint8Array): Promise<Bytes> {
  return new Uint8Array(await globalThis.crypto.subtle.sign(ED25519, privateKey, asBytes(data)));
}

/** Throws ERR_MALFORMED for anything that is not a valid raw Ed25519 public key. */
export async function importIdentityPublicKey(raw: Uint8Array): Promise<CryptoKey> {
  if (!(raw instanceof Uint8Array) || raw.length !== ED25519_PUBLIC_KEY_BYTES) {
    throw new ChatError(ErrorCode.Malformed, 'identity key must be 32 bytes');
  }
  try {
    return await globalThis.crypto.subtle.importKey('raw', asBytes(raw), ED25519, true, ['verify']);
  } catch (cause) {
    throw new ChatError(ErrorCode.Malformed, 'invalid identity key', { cause });
  }
}

/**
 * Verifies an Ed25519 signature. Never throws: a wrong-length key or signature, a key
 * that is not a curve point, or any engine error is simply "not verified", so a hostile
 * input cannot turn a verification into an exception that skips the caller's checks.
 */
export async function verifyBytes(
  publicKeyRaw: Uint8Array,
  signature: Uint8Array,
  data: Uint8Array,
): Promise<boolean> {
  if (!(signature instanceof Uint8Array) || signature.length !== ED25519_SIGNATURE_BYTES) {
    return false;
  }
  if (!(data instanceof Uint8Array)) return false;
  try {
    const key = await importIdentityPublicKey(publicKeyRaw);
    return await globalThis.crypto.subtle.verify(ED25519, key, asBytes(signature), asBytes(data));
  } catch {
    return false;
  }
}
