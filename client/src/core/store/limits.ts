/**
 * Every bound the local store enforces, each with the reason it exists.
 */

/** The product promise: every message and file is forgotten 7 days after it was sent. */
export const HISTORY_TTL_MS = 7 * 24 * 60 * 60 * 1000;

/**
 * How far in the future a peer's `sentAt` may lie before we stop trusting it for expiry.
 * NOTE: without this clamp a peer (or a skewed clock) could send `sentAt = year 3000` and
 * make a message outlive the 7-day promise; expiry is computed from
 * `min(sentAt, now + MAX_FUTURE_SKEW_MS)`.
 */
export const MAX_FUTURE_SKEW_MS = 5 * 60 * 1000;

/** Purge runs at start-up and then this often; expired rows never linger more than this. */
export const PURGE_INTERVAL_MS = 10 * 60 * 1000;

/**
 * Rows deleted per purge transaction, so a purge after a long absence (say 100k rows)
 * never holds one giant transaction that blocks the chat's own writes. Measured in
 * Chromium, 30,000 expired of 100,000 messages: 500 per transaction 4.1 s, 2,000 per
 * transaction 2.8 s (about 190 ms each, which a chat write may wait: messages are shown
 * and sent before they are stored, so nobody sees it).
 */
export const PURGE_BATCH = 2000;

/** Messages shown per page when opening a room or scrolling up. */
export const HISTORY_PAGE = 50;

/** Messages per page when relaying history to a late joiner (bounded frame sizes). */
export const HISTORY_SYNC_PAGE = 200;

/** Distinct search words indexed per message: a pasted novel must not bloat the index. */
export const MAX_WORDS_PER_MESSAGE = 256;

/**
 * Indexed words are cut to this many characters. Long runs (URLs, base64) would bloat the
 * index; cutting instead of dropping keeps prefix search working for them.
 */
export const MAX_WORD_LENGTH = 40;

/** Words considered in one search query; more adds cost without narrowing much. */
export const MAX_QUERY_WORDS = 8;

/** Default number of search results. */
export const SEARCH_LIMIT = 50;

/** OWASP 2023 guidance for PBKDF2-HMAC-SHA256: a backup file may be attacked offline. */
export const BACKUP_PBKDF2_ITERATIONS = 600_000;

/**
 * Upper bound on iterations accepted from a backup header, so a crafted file cannot
 * freeze the tab for minutes deriving a key.
 */
export const BACKUP_MAX_ITERATIONS = 10_000_000;

/** The backup header is a few hundred bytes; anything bigger is not our file. */
export const BACKUP_MAX_HEADER_BYTES = 4096;
