import { ChatError, ErrorCode } from '../errors.ts';
import { asBytes, readU64be, u64be, type Bytes } from './bytes.ts';
import {
  AES_KEY_BYTES,
  MAX_COUNTER_AHEAD,
  MAX_SEND_COUNTER,
  NONCE_BYTES,
  REPLAY_WINDOW,
  TAG_BYTES,
} from './limits.ts';

export { NONCE_BYTES, TAG_BYTES, REPLAY_WINDOW, MAX_COUNTER_AHEAD };

const AES_GCM = 'AES-GCM';
const NONCE_PREFIX_BYTES = NONCE_BYTES - 8;

/** Session keys are imported non-extractable: script in the page can use them, not copy them. */
export async function importAesKey(raw32: Uint8Array): Promise<CryptoKey> {
  if (!(raw32 instanceof Uint8Array) || raw32.length !== AES_KEY_BYTES) {
    throw new ChatError(ErrorCode.Malformed, 'AES key must be 32 bytes');
  }
  return globalThis.crypto.subtle.importKey('raw', asBytes(raw32), AES_GCM, false, [
    'encrypt',
    'decrypt',
  ]);
}

function checkNonceLength(iv: Uint8Array): void {
  // Any other IV length makes GCM hash the IV, and a zero-length IV leaks the hash key.
  if (!(iv instanceof Uint8Array) || iv.length !== NONCE_BYTES) {
    throw new ChatError(ErrorCode.BadNonce, `nonce must be ${NONCE_BYTES} bytes`);
  }
}

/** Low-level AES-256-GCM seal: returns ciphertext || 16-byte tag. */
export async function sealAesGcm(
  key: CryptoKey,
  iv: Uint8Array,
  aad: Uint8Array,
  plaintext: Uint8Array,
): Promise<Bytes> {
  checkNonceLength(iv);
  const sealed = await globalThis.crypto.subtle.encrypt(
    { name: AES_GCM, iv: asBytes(iv), additionalData: asBytes(aad), tagLength: TAG_BYTES * 8 },
    key,
    asBytes(plaintext),
  );
  return new Uint8Array(sealed);
}

/**
 * Low-level AES-256-GCM open. Shape is checked before any decryption is attempted
 * (wrong nonce length → ERR_BAD_NONCE, shorter than a tag → ERR_MALFORMED); a failed
 * authentication is ERR_DECRYPT and nothing of the plaintext is returned.
 */
export async function openAesGcm(
  key: CryptoKey,
  iv: Uint8Array,
  aad: Uint8Array,
  sealed: Uint8Array,
): Promise<Bytes> {
  checkNonceLength(iv);
  if (!(sealed instanceof Uint8Array) || sealed.length < TAG_BYTES) {
    throw new ChatError(ErrorCode.Malformed, 'sealed frame shorter than its tag');
  }
  try {
    const plain = await globalThis.crypto.subtle.decrypt(
      { name: AES_GCM, iv: asBytes(iv), additionalData: asBytes(aad), tagLength: TAG_BYTES * 8 },
      key,
      asBytes(sealed),
    );
    return new Uint8Array(plain);
  } catch (cause) {
    throw new ChatError(ErrorCode.Decrypt, 'frame failed authentication', { cause });
  }
}

/** Nonce layout: 4 zero bytes then the counter as u64be. */
export function nonceForCounter(counter: bigint): Bytes {
  const nonce = new Uint8Array(NONCE_BYTES);
  nonce.set(u64be(counter), NONCE_PREFIX_BYTES);
  return nonce;
}

/** The counter a nonce carries. ERR_BAD_NONCE for a wrong length or a non-zero prefix. */
export function counterOfNonce(nonce: Uint8Array): bigint {
  checkNonceLength(nonce);
  for (let i = 0; i < NONCE_PREFIX_BYTES; i++) {
    if (nonce[i] !== 0) throw new ChatError(ErrorCode.BadNonce, 'nonce prefix must be zero');
  }
  return readU64be(nonce, NONCE_PREFIX_BYTES);
}

/**
 * One direction's sender. Nonces come from a counter, and each issued nonce can seal
 * exactly one frame. NOTE: GCM under a repeated nonce leaks the XOR of the two plaintexts
 * and the authentication key, after which anyone can forge frames.
 */
export class SendCipher {
  readonly #key: CryptoKey;
  #counter = 0n;
  readonly #unsealed = new Set<bigint>();

  constructor(key: CryptoKey) {
    this.#key = key;
  }

  /** The next nonce (counters start at 1). Put it in the frame header, then seal with it. */
  nextNonce(): Bytes {
    if (this.#counter >= MAX_SEND_COUNTER) {
      throw new ChatError(ErrorCode.CounterTooFar, 'send counter exhausted; reconnect to rekey');
    }
    this.#counter += 1n;
    this.#unsealed.add(this.#counter);
    return nonceForCounter(this.#counter);
  }

  async seal(nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Promise<Bytes> {
    const counter = counterOfNonce(nonce);
    if (!this.#unsealed.delete(counter)) {
      throw new ChatError(ErrorCode.BadNonce, 'nonce was not issued by nextNonce or is already used');
    }
    return sealAesGcm(this.#key, nonce, aad, plaintext);
  }
}

/**
 * One direction's receiver, with a sliding replay window (a bitmap of the last
 * REPLAY_WINDOW counters). Every check that needs no key runs before decryption, and the
 * counter is recorded only after the frame authenticated: a forged frame must not burn a
 * counter, or an attacker could block an honest frame by guessing its number.
 */
export class ReceiveCipher {
  readonly #key: CryptoKey;
  #highest = 0n;
  readonly #seen = new Uint8Array(REPLAY_WINDOW / 8);

  constructor(key: CryptoKey) {
    this.#key = key;
  }

  #bit(counter: bigint): [number, number] {
    const i = Number(counter % BigInt(REPLAY_WINDOW));
    return [i >> 3, 1 << (i & 7)];
  }

  #checkCounter(counter: bigint): void {
    if (counter === 0n) throw new ChatError(ErrorCode.Replay, 'counter 0 is never sent');
    if (counter > this.#highest + BigInt(MAX_COUNTER_AHEAD)) {
      throw new ChatError(ErrorCode.CounterTooFar, 'counter too far ahead');
    }
    if (counter > this.#highest) return;
    if (counter <= this.#highest - BigInt(REPLAY_WINDOW)) {
      throw new ChatError(ErrorCode.Replay, 'counter older than the replay window');
    }
    const [byte, mask] = this.#bit(counter);
    if ((this.#seen[byte]! & mask) !== 0) {
      throw new ChatError(ErrorCode.Replay, 'counter already received');
    }
  }

  #record(counter: bigint): void {
    if (counter > this.#highest) {
      const advance = counter - this.#highest;
      if (advance >= BigInt(REPLAY_WINDOW)) {
        this.#seen.fill(0);
      } else {
        // Slots of the counters we skip over now stand for newer, unseen counters.
        for (let c = this.#highest + 1n; c <= counter; c++) {
          const [byte, mask] = this.#bit(c);
          this.#seen[byte] = this.#seen[byte]! & ~mask;
        }
      }
      this.#highest = counter;
    }
    const [byte, mask] = this.#bit(counter);
    this.#seen[byte] = this.#seen[byte]! | mask;
  }

  async open(nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Promise<Bytes> {
    const counter = counterOfNonce(nonce);
    if (!(sealed instanceof Uint8Array) || sealed.length < TAG_BYTES) {
      throw new ChatError(ErrorCode.Malformed, 'sealed frame shorter than its tag');
    }
    this.#checkCounter(counter);
    const plaintext = await openAesGcm(this.#key, nonce, aad, sealed);
    // Check again: another open() of the same counter may have finished while we awaited.
    this.#checkCounter(counter);
    this.#record(counter);
    return plaintext;
  }
}
