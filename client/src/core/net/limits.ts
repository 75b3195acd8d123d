/** Every bound of the peer-to-peer side, with why. */

/**
 * Send-queue high-water mark: above it, senders wait for 'bufferedamountlow'. Chromium
 * closes a channel whose queue passes 16 MB, so stay far below; a few MB keeps the pipe full.
 */
export const BUFFER_HIGH_WATER = 4 * 1024 * 1024;
/** Resume sending once the queue drains to this. */
export const BUFFER_LOW_WATER = 1 * 1024 * 1024;
/** A peer that has not completed the signed hello by then is dropped. */
export const HANDSHAKE_TIMEOUT_MS = 20_000;
/**
 * Largest application frame (a chat message, a history page); files go in chunks. Below
 * 256 KiB so that, sealed (header and tag), it still fits the 262,144-byte maxMessageSize
 * Chromium negotiates.
 */
export const MAX_APP_FRAME_BYTES = 255 * 1024;
/** Longest message text a person may send. */
export const MAX_MESSAGE_CHARS = 16_000;
/** Reconnect back-off to the signaling server (socket.io's own, tuned). */
export const SIGNALING_RECONNECT_MIN_MS = 500;
export const SIGNALING_RECONNECT_MAX_MS = 10_000;
/** A peer whose channel died is retried after this while both are still in the room. */
export const PEER_RETRY_MS = 3_000;
/**
 * Direct-chat invitations accepted from one member per window, across all shared rooms:
 * each one makes this browser join a room, so a member must not be able to flood us.
 */
export const DIRECT_INVITES_PER_WINDOW = 3;
export const DIRECT_INVITE_WINDOW_MS = 60_000;
/**
 * Two people who press "Direct chat" on each other within this time each get the other's
 * invitation while theirs is on its way: both then keep the room whose name sorts first.
 */
export const DIRECT_CROSSING_MS = 60_000;
/** Random bytes in a direct room's password: 256 bits, far past guessing or brute force. */
export const DIRECT_PASSWORD_BYTES = 32;

/**
 * Stream id of the bulk lane (PeerLink.bulk): a negotiated channel both sides create with
 * this id, so no signaling is needed. Channels opened in-band take ids from 0 up (simple-peer's
 * one channel gets 0 or 1); Firefox's association has 256 streams, so stay below that.
 */
export const BULK_CHANNEL_ID = 200;

/**
 * The bulk lane's send-queue marks, far below the main channel's. Measured with the files
 * bench (128 MiB, 2 cores): with 4 MiB queued, a chat message sent during a transfer took
 * 45-80 ms p95 (6-9x idle), and the first transfer on a new connection stalled for 1.3-2.1 s
 * about 200 ms in: nothing arrived meanwhile, chat included (by the look of it, the first
 * burst lost on loopback and SCTP waiting on its retransmission timer). With 256 KiB:
 * 25-34 ms p95 and no stall in 7 runs, for 0.45-0.51 of
 * the raw channel instead of 0.50-0.59 (0.53-0.55 again once the sender sealed a few
 * chunks ahead, SEAL_AHEAD). 1 MiB still stalled 1 run in 3; 128 KiB lost more throughput.
 * The low mark leaves half the queue to send while the page refills it.
 */
export const BULK_HIGH_WATER = 256 * 1024;
export const BULK_LOW_WATER = BULK_HIGH_WATER / 2;
