import { ChatError, ErrorCode } from '../errors.ts';
import { SendCipher, ReceiveCipher, importAesKey } from './aead.ts';
import { asBytes, equalBytes, fromB64u, randomBytes, toB64u, type Bytes } from './bytes.ts';
import { canonicalBytes, type CanonicalField } from './canonical.ts';
import { hkdfBytes, sha256 } from './kdf.ts';
import {
  ED25519_PUBLIC_KEY_BYTES,
  HELLO_NONCE_BYTES,
  MAX_HELLO_FIELD_CHARS,
  X25519_PUBLIC_KEY_BYTES,
} from './limits.ts';
import { signBytes, verifyBytes } from './sign.ts';

/**
 * The signed hello each side sends as soon as a data channel opens (DESIGN.md, "Channel
 * handshake"). DTLS already encrypts the channel, but the untrusted signaling server
 * relays the SDP that carries the DTLS fingerprints, so it could terminate DTLS itself.
 * Each hello binds, under the sender's identity key: the room, both usernames, both
 * identity keys, both DTLS fingerprints, a fresh X25519 key and a fresh nonce. Session
 * keys then come from X25519 over the fresh keys, salted with the whole transcript.
 */
export const HANDSHAKE_VERSION = 1;

export interface Hello {
  v: number;
  room: string;
  username: string;
  peerUsername: string;
  /** b64u raw Ed25519 public key of the sender. */
  identityKey: string;
  /** b64u raw Ed25519 public key the sender expects the receiver to have. */
  peerIdentityKey: string;
  /** b64u raw X25519 public key, fresh for this handshake. */
  ephemeralKey: string;
  /** b64u 32 random bytes. */
  nonce: string;
  /** Normalised DTLS fingerprints ("sha-256 AB:CD:..."), as read from the SDP in use. */
  localFingerprint: string;
  remoteFingerprint: string;
  /** b64u HMAC-SHA256 under the room's peerProofKey; present only in password rooms. */
  roomProof?: string;
}

export interface SignedHello {
  hello: Hello;
  /** b64u Ed25519 signature over helloCanonicalBytes(hello). */
  signature: string;
}

export interface HandshakeParams {
  room: string;
  username: string;
  peerUsername: string;
  identity: { publicKey: Uint8Array; privateKey: CryptoKey };
  /** The key the roster announced AND the pinned key; the caller checks pinning first. */
  expectedPeerKey: Uint8Array;
  /** Both read from the SDP actually in use, e.g. "sha-256 AB:CD:...". */
  localFingerprint: string;
  remoteFingerprint: string;
  /** Present in password rooms. */
  peerProofKey?: CryptoKey;
  initiator: boolean;
}

export interface SessionKeys {
  send: SendCipher;
  receive: ReceiveCipher;
  transcriptHash: Bytes;
}

const HELLO_DOMAIN = 'p2pchat/v1/hello';
const ROOM_PROOF_DOMAIN = 'p2pchat/v1/room-proof';
const TRANSCRIPT_DOMAIN = 'p2pchat/v1/transcript';
const KEY_INFO_I2R = 'p2pchat/v1/key/initiator->responder';
const KEY_INFO_R2I = 'p2pchat/v1/key/responder->initiator';

const X25519 = { name: 'X25519' } as const;
const HMAC = 'HMAC';

function helloFields(h: Hello): CanonicalField[] {
  return [
    h.v,
    h.room,
    h.username,
    h.peerUsername,
    h.identityKey,
    h.peerIdentityKey,
    h.ephemeralKey,
    h.nonce,
    h.localFingerprint,
    h.remoteFingerprint,
  ];
}

/** The bytes the hello signature covers: every field in a fixed order, roomProof last. */
export function helloCanonicalBytes(h: Hello): Bytes {
  return canonicalBytes(HELLO_DOMAIN, [...helloFields(h), h.roomProof ?? null]);
}

/** The bytes the room proof MACs: the hello without its proof, under its own domain. */
function roomProofInput(h: Hello): Bytes {
  return canonicalBytes(ROOM_PROOF_DOMAIN, helloFields(h));
}

const FINGERPRINT_BYTES: Readonly<Record<string, number>> = {
  'sha-256': 32,
  'sha-384': 48,
  'sha-512': 64,
};

/**
 * "SHA-256 ab:cd:..." → "sha-256 AB:CD:...". ERR_FINGERPRINT_MISMATCH for anything else,
 * including sha-1 and md5: a weak fingerprint lets a relaying server forge a certificate
 * that matches it.
 */
export function normalizeFingerprint(fp: string): string {
  const m = typeof fp === 'string' ? /^\s*(\S+)\s+([0-9A-Fa-f:]+)\s*$/.exec(fp) : null;
  const alg = m?.[1]?.toLowerCase();
  const hex = m?.[2]?.toUpperCase();
  const bytes = alg === undefined ? undefined : FINGERPRINT_BYTES[alg];
  if (alg === undefined || hex === undefined || bytes === undefined) {
    throw new ChatError(ErrorCode.FingerprintMismatch, 'missing or weak DTLS fingerprint');
  }
  if (!new RegExp(`^[0-9A-F]{2}(:[0-9A-F]{2}){${bytes - 1}}$`).test(hex)) {
    throw new ChatError(ErrorCode.FingerprintMismatch, 'malformed DTLS fingerprint');
  }
  return `${alg} ${hex}`;
}

/**
 * X25519 with the check RFC 7748 §6.1 recommends: an all-zero result means the peer sent
 * a low-order point, which would give a session key an attacker knows without any secret.
 */
export async function x25519SharedSecret(
  privateKey: CryptoKey,
  peerPublicRaw: Uint8Array,
): Promise<Bytes> {
  if (!(peerPublicRaw instanceof Uint8Array) || peerPublicRaw.length !== X25519_PUBLIC_KEY_BYTES) {
    throw new ChatError(ErrorCode.Malformed, 'X25519 public key must be 32 bytes');
  }
  let peer: CryptoKey;
  try {
    peer = await globalThis.crypto.subtle.importKey('raw', asBytes(peerPublicRaw), X25519, true, []);
  } catch (cause) {
    throw new ChatError(ErrorCode.Malformed, 'invalid X25519 public key', { cause });
  }
  let shared: Bytes;
  try {
    shared = new Uint8Array(
      await globalThis.crypto.subtle.deriveBits({ name: 'X25519', public: peer }, privateKey, 256),
    );
  } catch (cause) {
    // Engines (OpenSSL, BoringSSL) refuse the all-zero result themselves.
    throw new ChatError(ErrorCode.BadSignature, 'peer sent a low-order X25519 key', { cause });
  }
  if (equalBytes(shared, new Uint8Array(shared.length))) {
    throw new ChatError(ErrorCode.BadSignature, 'peer sent a low-order X25519 key');
  }
  return shared;
}

function decodeOr(s: string, code: ErrorCode, what: string): Bytes {
  try {
    return fromB64u(s);
  } catch (cause) {
    throw new ChatError(code, `${what} is not valid base64url`, { cause });
  }
}

/** Hash of both signed hellos, in initiator-then-responder order. */
export async function transcriptHash(initiator: SignedHello, responder: SignedHello): Promise<Bytes> {
  return sha256(
    canonicalBytes(TRANSCRIPT_DOMAIN, [
      helloCanonicalBytes(initiator.hello),
      decodeOr(initiator.signature, ErrorCode.Malformed, 'signature'),
      helloCanonicalBytes(responder.hello),
      decodeOr(responder.signature, ErrorCode.Malformed, 'signature'),
    ]),
  );
}

const HELLO_STRING_FIELDS = [
  'room',
  'username',
  'peerUsername',
  'identityKey',
  'peerIdentityKey',
  'ephemeralKey',
  'nonce',
  'localFingerprint',
  'remoteFingerprint',
] as const;

function isShortString(x: unknown): x is string {
  return typeof x === 'string' && x.length <= MAX_HELLO_FIELD_CHARS;
}

/**
 * A hello comes off the network: check its shape and copy only the known fields, so
 * what we verify is exactly what we hash into the transcript.
 */
function readSignedHello(u: unknown): SignedHello {
  const bad = () => new ChatError(ErrorCode.Malformed, 'malformed hello');
  if (typeof u !== 'object' || u === null) throw bad();
  const { hello, signature } = u as { hello?: unknown; signature?: unknown };
  if (typeof hello !== 'object' || hello === null || !isShortString(signature)) throw bad();
  const h = hello as Record<string, unknown>;
  if (typeof h.v !== 'number' || !Number.isSafeInteger(h.v)) throw bad();
  // Version first: another version may shape its hello differently, and the user should
  // hear "incompatible version", not "malformed".
  if (h.v !== HANDSHAKE_VERSION) {
    throw new ChatError(ErrorCode.Version, `peer speaks handshake v${h.v}, we speak v${HANDSHAKE_VERSION}`);
  }
  const out: Record<string, unknown> = { v: h.v };
  for (const f of HELLO_STRING_FIELDS) {
    if (!isShortString(h[f])) throw bad();
    out[f] = h[f];
  }
  if (h.roomProof !== undefined && h.roomProof !== null) {
    if (!isShortString(h.roomProof)) throw bad();
    out.roomProof = h.roomProof;
  }
  return { hello: out as unknown as Hello, signature };
}

async function generateEphemeral(): Promise<{ privateKey: CryptoKey; publicKey: Bytes }> {
  // Non-extractable and used for one handshake only: once it is dropped, recorded
  // traffic cannot be decrypted even with the identity keys (forward secrecy).
  const pair = (await globalThis.crypto.subtle.generateKey(X25519, false, [
    'deriveBits',
  ])) as CryptoKeyPair;
  const publicKey = new Uint8Array(await globalThis.crypto.subtle.exportKey('raw', pair.publicKey));
  return { privateKey: pair.privateKey, publicKey };
}

export async function startHandshake(
  p: HandshakeParams,
): Promise<{ hello: SignedHello; finish(peer: SignedHello): Promise<SessionKeys> }> {
  const localFingerprint = normalizeFingerprint(p.localFingerprint);
  const remoteFingerprint = normalizeFingerprint(p.remoteFingerprint);
  if (
    p.identity.publicKey.length !== ED25519_PUBLIC_KEY_BYTES ||
    p.expectedPeerKey.length !== ED25519_PUBLIC_KEY_BYTES
  ) {
    throw new ChatError(ErrorCode.Malformed, 'identity keys must be 32 bytes');
  }
  const ephemeral = await generateEphemeral();
  const hello: Hello = {
    v: HANDSHAKE_VERSION,
    room: p.room,
    username: p.username,
    peerUsername: p.peerUsername,
    identityKey: toB64u(p.identity.publicKey),
    peerIdentityKey: toB64u(p.expectedPeerKey),
    ephemeralKey: toB64u(ephemeral.publicKey),
    nonce: toB64u(randomBytes(HELLO_NONCE_BYTES)),
    localFingerprint,
    remoteFingerprint,
  };
  if (p.peerProofKey !== undefined) {
    const mac = await globalThis.crypto.subtle.sign(HMAC, p.peerProofKey, roomProofInput(hello));
    hello.roomProof = toB64u(new Uint8Array(mac));
  }
  const signature = await signBytes(p.identity.privateKey, helloCanonicalBytes(hello));
  const ours: SignedHello = { hello, signature: toB64u(signature) };
  let used = false;

  async function finish(peerInput: SignedHello): Promise<SessionKeys> {
    // One hello per channel: a second one is a renegotiation attempt, and a failed one
    // must not leave the handshake open for an attacker to try again.
    if (used) throw new ChatError(ErrorCode.Renegotiation, 'handshake already finished');
    used = true;

    const peer = readSignedHello(peerInput);
    const h = peer.hello;
    // The key must be the one the roster announced and we pinned; checked before the
    // signature so a stranger signing with its own key is reported as who it is.
    const claimedKey = decodeOr(h.identityKey, ErrorCode.IdentityMismatch, 'identity key');
    if (!equalBytes(claimedKey, p.expectedPeerKey)) {
      throw new ChatError(ErrorCode.IdentityMismatch, 'peer identity key is not the announced key');
    }
    const sig = decodeOr(peer.signature, ErrorCode.BadSignature, 'signature');
    if (!(await verifyBytes(p.expectedPeerKey, sig, helloCanonicalBytes(h)))) {
      throw new ChatError(ErrorCode.BadSignature, 'hello signature does not verify');
    }
    // From here every field is authenticated by the peer's identity key.
    if (h.room !== p.room || h.username !== p.peerUsername || h.peerUsername !== p.username) {
      throw new ChatError(ErrorCode.IdentityMismatch, 'hello names another room or user');
    }
    const theirViewOfUs = decodeOr(h.peerIdentityKey, ErrorCode.IdentityMismatch, 'peer identity key');
    if (!equalBytes(theirViewOfUs, p.identity.publicKey)) {
      // The server told the peer a different key for us: someone is in the middle.
      throw new ChatError(ErrorCode.IdentityMismatch, 'peer was given a different key for us');
    }
    if (h.nonce === hello.nonce || h.ephemeralKey === hello.ephemeralKey) {
      throw new ChatError(ErrorCode.IdentityMismatch, 'our own hello was reflected back');
    }
    // NOTE: bind both DTLS fingerprints, or a relaying server can substitute its own
    // certificate on either leg. A hello replayed from another connection fails here.
    if (
      normalizeFingerprint(h.localFingerprint) !== remoteFingerprint ||
      normalizeFingerprint(h.remoteFingerprint) !== localFingerprint
    ) {
      throw new ChatError(ErrorCode.FingerprintMismatch, 'DTLS fingerprints do not match this connection');
    }
    if (p.peerProofKey !== undefined) {
      if (h.roomProof === undefined) {
        throw new ChatError(ErrorCode.RoomProof, 'peer did not prove it knows the room password');
      }
      const proof = decodeOr(h.roomProof, ErrorCode.RoomProof, 'room proof');
      const ok = await globalThis.crypto.subtle.verify(HMAC, p.peerProofKey, proof, roomProofInput(h));
      if (!ok) throw new ChatError(ErrorCode.RoomProof, 'peer room proof is wrong');
    } else if (h.roomProof !== undefined) {
      // The peer thinks this room has a password and we do not: not the same room.
      throw new ChatError(ErrorCode.RoomProof, 'peer sent a room proof for an open room');
    }

    const peerEphemeral = decodeOr(h.ephemeralKey, ErrorCode.Malformed, 'ephemeral key');
    const shared = await x25519SharedSecret(ephemeral.privateKey, peerEphemeral);
    const transcript = await transcriptHash(p.initiator ? ours : peer, p.initiator ? peer : ours);
    const i2r = await hkdfBytes(shared, transcript, KEY_INFO_I2R, 32);
    const r2i = await hkdfBytes(shared, transcript, KEY_INFO_R2I, 32);
    shared.fill(0);
    try {
      const sendKey = await importAesKey(p.initiator ? i2r : r2i);
      const receiveKey = await importAesKey(p.initiator ? r2i : i2r);
      return {
        send: new SendCipher(sendKey),
        receive: new ReceiveCipher(receiveKey),
        transcriptHash: transcript,
      };
    } finally {
      i2r.fill(0);
      r2i.fill(0);
    }
  }

  return { hello: ours, finish };
}
