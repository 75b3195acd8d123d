import { ChatError, ErrorCode } from '../errors.ts';
import { fromB64u, toB64u } from './bytes.ts';
import { canonicalBytes } from './canonical.ts';
import { signBytes, verifyBytes } from './sign.ts';

/**
 * Author signatures on envelopes and file manifests. They outlive the channel the item
 * came over: history sync relays other people's messages, and the relaying member must
 * not be able to alter or forge them. Every field is signed, including room and
 * recipient, so a message cannot be moved to another room or re-addressed.
 */
export interface Envelope {
  id: string;
  room: string;
  from: string;
  to?: string;
  sentAt: number;
  kind: string;
  body: string;
}

export interface FileManifest {
  id: string;
  name: string;
  size: number;
  type: string;
  /** Lowercase hex SHA-256 of the whole plaintext file. */
  sha256: string;
  chunkSize: number;
  chunkCount: number;
}

export type AddressedManifest = FileManifest & { room: string; from: string; to?: string };

const ENVELOPE_DOMAIN = 'p2pchat/v1/envelope';
const MANIFEST_DOMAIN = 'p2pchat/v1/manifest';
const SHA256_HEX = /^[0-9a-f]{64}$/;

export function envelopeCanonicalBytes(e: Envelope): Uint8Array {
  return canonicalBytes(ENVELOPE_DOMAIN, [
    e.id,
    e.room,
    e.from,
    e.to ?? null,
    e.sentAt,
    e.kind,
    e.body,
  ]);
}

export function manifestCanonicalBytes(m: AddressedManifest): Uint8Array {
  if (typeof m.sha256 !== 'string' || !SHA256_HEX.test(m.sha256)) {
    throw new ChatError(ErrorCode.Malformed, 'manifest sha256 must be 64 lowercase hex digits');
  }
  for (const n of [m.size, m.chunkSize, m.chunkCount]) {
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new ChatError(ErrorCode.Malformed, 'manifest sizes must be non-negative integers');
    }
  }
  return canonicalBytes(MANIFEST_DOMAIN, [
    m.room,
    m.from,
    m.to ?? null,
    m.id,
    m.name,
    m.size,
    m.type,
    m.sha256,
    m.chunkSize,
    m.chunkCount,
  ]);
}

export async function signEnvelope(privateKey: CryptoKey, e: Envelope): Promise<string> {
  return toB64u(await signBytes(privateKey, envelopeCanonicalBytes(e)));
}

/** False, never a throw, for a malformed envelope or signature: it is just not authentic. */
export async function verifyEnvelope(
  publicKey: Uint8Array,
  e: Envelope,
  signature: string,
): Promise<boolean> {
  try {
    return await verifyBytes(publicKey, fromB64u(signature), envelopeCanonicalBytes(e));
  } catch {
    return false;
  }
}

export async function signManifest(privateKey: CryptoKey, m: AddressedManifest): Promise<string> {
  return toB64u(await signBytes(privateKey, manifestCanonicalBytes(m)));
}

export async function verifyManifest(
  publicKey: Uint8Array,
  m: AddressedManifest,
  signature: string,
): Promise<boolean> {
  try {
    return await verifyBytes(publicKey, fromB64u(signature), manifestCanonicalBytes(m));
  } catch {
    return false;
  }
}
