/** This browser's long-term identity: an Ed25519 key pair whose private half never leaves it. */
export interface Identity {
  /** Raw 32-byte public key. */
  publicKey: Uint8Array;
  /** Non-extractable Ed25519 private key. */
  privateKey: CryptoKey;
}
