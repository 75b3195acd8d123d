import { createHash, verify } from 'node:crypto';

/** DER prefix of an Ed25519 SubjectPublicKeyInfo; the 32 raw key bytes follow it. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** Verifies an Ed25519 signature over a login challenge with the claimed raw public key. */
export function verifyLogin(publicKeyB64u: string, text: string, signatureB64u: string): boolean {
  const raw = Buffer.from(publicKeyB64u, 'base64url');
  if (raw.length !== 32) return false;
  try {
    // A key given inline (not a KeyObject) is freed when verify returns, not at some later GC.
    const key = { key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der' as const, type: 'spki' as const };
    return verify(null, Buffer.from(text, 'utf8'), key, Buffer.from(signatureB64u, 'base64url'));
  } catch {
    return false;
  }
}

/** What the server stores for a password room: SHA-256 of the client's join token, never the token. */
export function joinTokenVerifier(joinTokenB64u: string): string {
  return createHash('sha256').update(Buffer.from(joinTokenB64u, 'base64url')).digest('base64url');
}
