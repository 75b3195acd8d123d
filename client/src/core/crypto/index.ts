/** Public API of the crypto layer. Other folders import from here, not from the modules. */
export * from './limits.ts';
export {
  asBytes,
  compareBytes,
  concatBytes,
  equalBytes,
  fromB64u,
  fromHex,
  fromUtf8,
  randomBytes,
  readU64be,
  toB64u,
  toHex,
  u32be,
  u64be,
  utf8,
  type Bytes,
} from './bytes.ts';
export { canonicalBytes, type CanonicalField } from './canonical.ts';
export {
  generateIdentityKeyPair,
  importIdentityPublicKey,
  signBytes,
  verifyBytes,
  type IdentityKeyPair,
} from './sign.ts';
export {
  deriveRoomSecrets,
  hkdfBytes,
  joinTokenVerifier,
  sha256,
  type RoomSecrets,
} from './kdf.ts';
export { computeSafetyNumber, type SafetyParty } from './safety-number.ts';
export {
  ReceiveCipher,
  SendCipher,
  counterOfNonce,
  importAesKey,
  nonceForCounter,
  openAesGcm,
  sealAesGcm,
} from './aead.ts';
export {
  HANDSHAKE_VERSION,
  helloCanonicalBytes,
  normalizeFingerprint,
  startHandshake,
  transcriptHash,
  x25519SharedSecret,
  type HandshakeParams,
  type Hello,
  type SessionKeys,
  type SignedHello,
} from './handshake.ts';
export {
  envelopeCanonicalBytes,
  manifestCanonicalBytes,
  signEnvelope,
  signManifest,
  verifyEnvelope,
  verifyManifest,
  type AddressedManifest,
  type Envelope,
  type FileManifest,
} from './signed.ts';
