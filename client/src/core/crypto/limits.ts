/**
 * Every bound the crypto layer enforces, in one place, each with the reason it exists.
 */

/** AES-GCM nonce length. 96 bits is the only size GCM handles without hashing the IV. */
export const NONCE_BYTES = 12;

/** Full 128-bit GCM tag. Shorter tags make forgeries cheaper; we never accept them. */
export const TAG_BYTES = 16;

/** AES-256 key length (the session keys and any raw key we import). */
export const AES_KEY_BYTES = 32;

/** Raw Ed25519 public key and signature lengths; anything else is refused before parsing. */
export const ED25519_PUBLIC_KEY_BYTES = 32;
export const ED25519_SIGNATURE_BYTES = 64;

/** Raw X25519 public key length. */
export const X25519_PUBLIC_KEY_BYTES = 32;

/**
 * How far behind the highest counter seen we still accept a frame we have not seen yet.
 * WebRTC data channels we open are reliable and ordered, so this only has to absorb a
 * little reordering across reconnects and relays; anything older is treated as a replay.
 */
export const REPLAY_WINDOW = 1024;

/**
 * How far ahead of the highest counter seen a frame may jump. A frame further ahead is
 * rejected (ERR_COUNTER_TOO_FAR) before decryption: otherwise one authentic-looking
 * frame from far in the future would slide the window and make every honest frame in
 * between look like a replay, and an attacker could make us do unbounded work.
 */
export const MAX_COUNTER_AHEAD = 65_536;

/**
 * Frames one direction may send under one key. Past this the session must reconnect
 * (new handshake, new keys). It stays far below the 2^64 nonce space so a counter can
 * never wrap into a nonce already used, and keeps counters exact as JS numbers in logs.
 */
export const MAX_SEND_COUNTER = 2n ** 48n;

/**
 * PBKDF2-SHA256 iterations for the room key (OWASP 2023 guidance for PBKDF2-SHA256).
 * The join token derived from it reaches the server, so a server that wants the
 * password has to brute-force it offline: every iteration is a cost we impose on that.
 */
export const ROOM_KEY_ITERATIONS = 600_000;

/** Handshake nonce length: enough that two connections never share a transcript. */
export const HELLO_NONCE_BYTES = 32;

/**
 * Longest string accepted in any hello field. A hello arrives from an unauthenticated
 * channel; bounding it keeps a hostile peer from making us hash megabytes.
 */
export const MAX_HELLO_FIELD_CHARS = 512;
