import { ChatError, ErrorCode } from '../errors.ts';
import { asBytes, toB64u, utf8, type Bytes } from './bytes.ts';
import { ROOM_KEY_ITERATIONS } from './limits.ts';

export { ROOM_KEY_ITERATIONS };

export async function sha256(data: Uint8Array): Promise<Bytes> {
  return new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', asBytes(data)));
}

/** HKDF-SHA256. `info` names the purpose, so keys derived for different uses never coincide. */
export async function hkdfBytes(
  ikm: Uint8Array,
  salt: Uint8Array,
  info: string,
  length: number,
): Promise<Bytes> {
  if (!Number.isInteger(length) || length < 1 || length > 255 * 32) {
    throw new RangeError('hkdfBytes: bad length');
  }
  const key = await globalThis.crypto.subtle.importKey('raw', asBytes(ikm), 'HKDF', false, [
    'deriveBits',
  ]);
  const bits = await globalThis.crypto.subtle.deriveBits(
    { name: 'HKDF', hash: 'SHA-256', salt: asBytes(salt), info: utf8(info) },
    key,
    length * 8,
  );
  return new Uint8Array(bits);
}

export const JOIN_TOKEN_INFO = 'p2pchat/v1/join-token';
export const PEER_PROOF_INFO = 'p2pchat/v1/peer-proof';

export interface RoomSecrets {
  /** Sent to the server to create or join the room. Reveals nothing about peerProofKey. */
  joinToken: Bytes;
  joinTokenB64u: string;
  /** HMAC-SHA256 key members use to prove membership to each other; never leaves the browser. */
  peerProofKey: CryptoKey;
}

/**
 * Password room secrets. The password is stretched with PBKDF2 (salted by the room name so
 * one precomputed table cannot attack every room), then split with HKDF into a join
 * token for the server and a peer-proof key the server never sees.
 *
 * NOTE: the server can still brute-force weak passwords offline from the join token;
 * the iteration count is what makes that expensive. `normalizedRoom` must already be the
 * room's canonical name, or two members typing it differently derive different secrets.
 */
export async function deriveRoomSecrets(
  password: string,
  normalizedRoom: string,
  iterations: number = ROOM_KEY_ITERATIONS,
): Promise<RoomSecrets> {
  if (typeof password !== 'string' || password.length === 0) {
    throw new ChatError(ErrorCode.Malformed, 'room password must not be empty');
  }
  if (typeof normalizedRoom !== 'string' || normalizedRoom.length === 0) {
    throw new ChatError(ErrorCode.Malformed, 'room name must not be empty');
  }
  if (!Number.isSafeInteger(iterations) || iterations < 1) {
    throw new RangeError('deriveRoomSecrets: bad iteration count');
  }
  // NFKC so the same password typed on two keyboards/OSes gives the same key.
  const passwordKey = await globalThis.crypto.subtle.importKey(
    'raw',
    utf8(password.normalize('NFKC')),
    'PBKDF2',
    false,
    ['deriveBits'],
  );
  const roomKey = new Uint8Array(
    await globalThis.crypto.subtle.deriveBits(
      { name: 'PBKDF2', hash: 'SHA-256', salt: utf8('room:' + normalizedRoom), iterations },
      passwordKey,
      256,
    ),
  );
  try {
    const empty = new Uint8Array(0);
    const joinToken = await hkdfBytes(roomKey, empty, JOIN_TOKEN_INFO, 32);
    const proofRaw = await hkdfBytes(roomKey, empty, PEER_PROOF_INFO, 32);
    const peerProofKey = await globalThis.crypto.subtle.importKey(
      'raw',
      proofRaw,
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['sign', 'verify'],
    );
    proofRaw.fill(0);
    return { joinToken, joinTokenB64u: toB64u(joinToken), peerProofKey };
  } finally {
    roomKey.fill(0);
  }
}

/**
 * What the server stores for a password room: a hash of the join token, so a leaked
 * server database does not hand out tokens that open the room.
 */
export async function joinTokenVerifier(joinToken: Uint8Array): Promise<string> {
  return toB64u(await sha256(joinToken));
}
