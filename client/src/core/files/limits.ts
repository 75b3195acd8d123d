/**
 * Every bound of the file transfer layer, each with the reason it exists. Measured
 * figures come from `npx tsx tests/unit/files/measure-chunk-size.ts` (Node 20, a shared
 * 2-core machine, fake IndexedDB: noisy, and slower than a browser's IndexedDB); the
 * browser benchmark (`file.throughput` in `npm run bench`) is the judge.
 */

/**
 * Bytes a chunk frame adds around its plaintext: version, type, 12-byte nonce, 16-byte
 * transfer id, u32 index and final flag (35 bytes, net/wire.ts), plus the 16-byte GCM tag.
 */
export const CHUNK_FRAME_OVERHEAD = 2 + 12 + 16 + 4 + 1 + 16;

/**
 * Preferred plaintext bytes per chunk. Every chunk costs a fixed amount (one AES-GCM call
 * each side, one IndexedDB transaction on the receiver, an event-loop turn) whatever its
 * size, so bigger chunks win until the frame no longer fits one SCTP message. Measured
 * end to end over two PeerSessions with IndexedDB storage, 16 MiB, median of 5 rounds:
 * 16 KiB 5 MB/s, 64 KiB 15 MB/s, 128 KiB 27 MB/s, 192 KiB 26 MB/s, 240 KiB 20 MB/s. The
 * gain stops at 128 KiB; going bigger only brings frames closer to Chromium's 256 KiB
 * SCTP maxMessageSize (a frame above it is refused). Links that announce less get the
 * largest size that fits (chooseChunkSize).
 * Measured again once chunks were stored in batches (the files bench, 128 MiB between two
 * tabs): 192 and 255 KiB moved 12-15% more, but a chat message sent during the transfer
 * waits behind bigger frames on the same channel (p95 3-4x idle instead of 1.4-2.4x), so
 * 128 KiB stays.
 */
export const PREFERRED_CHUNK_BYTES = 128 * 1024;

/**
 * The sender reads the file this many bytes at a time (whole chunks) while sending.
 * Measured in Chromium, reading a 128 MiB file took 1.0-1.1 s of CPU in 128 KiB slices,
 * 0.6 s in 1 MiB and 0.3 s in 4 MiB reads (each read is a round trip to the browser
 * process); two blocks are in memory at once, so this stays a fraction of the window.
 */
export const SEND_READ_BYTES = 2 * 1024 * 1024;

/**
 * Chunks the sender hands to its session for sealing before the oldest must be on the
 * channel, so one is sealed while another is sent. With the bulk lane's short queue
 * (BULK_HIGH_WATER), waiting for each seal let the channel run dry: files bench, 0.45-0.51
 * of the raw channel one at a time, 0.53-0.55 three at a time. The channel's queue can
 * thus pass its high-water mark by this many chunks.
 */
export const SEAL_AHEAD = 3;

/**
 * Smallest chunk a peer may announce. A manifest with 1-byte chunks would make a 4 GiB
 * file four billion IndexedDB rows: refuse it. A link whose maxMessageSize is below this
 * plus the overhead (none we know of; 64 KiB is the WebRTC default) cannot carry files.
 */
export const MIN_CHUNK_BYTES = 16 * 1024;

/**
 * Largest chunk a peer may announce: one chunk is decrypted and held in memory at a time,
 * and browsers stop delivering data-channel messages above 256 KiB anyway.
 */
export const MAX_CHUNK_BYTES = 256 * 1024;

/**
 * Default maximum file size. The transfer is streamed and stored chunk by chunk, so memory
 * does not grow with it; the bound exists because storage does (IndexedDB quota is a share
 * of the disk), and a peer must not be able to make us fill a disk with one offer.
 * Configurable per FileTransfers instance.
 */
export const DEFAULT_MAX_FILE_BYTES = 4 * 1024 * 1024 * 1024;

/**
 * Bytes the sender may have sent beyond the receiver's last acknowledgement. The data
 * channel's own backpressure (bufferedAmount, net/limits.ts) only bounds what sits in the
 * sender's queue; a receiver whose disk is slower than the network would otherwise pile
 * decrypted chunks up in memory waiting for IndexedDB. 8 MiB covers the bandwidth-delay
 * product of a fast path (50 MB/s x 100 ms = 5 MB) so the window rarely stalls a healthy
 * transfer, and bounds the receiver's queue to a few dozen chunks.
 */
export const IN_FLIGHT_WINDOW_BYTES = 8 * 1024 * 1024;

/**
 * The receiver acknowledges after this many stored bytes (rounded to whole chunks). A
 * quarter of the window keeps the sender streaming while acks travel, at one small control
 * message per 2 MiB.
 */
export const ACK_EVERY_BYTES = IN_FLIGHT_WINDOW_BYTES / 4;

/**
 * The receiver also acknowledges whatever it stored within this long, even short of
 * ACK_EVERY_BYTES. NOTE: this keeps the protocol free of deadlock whatever the two sides'
 * windows are (a sender waiting on a window smaller than the receiver's ack interval would
 * otherwise wait forever), at a cost of at most one small message per interval.
 */
export const ACK_MAX_DELAY_MS = 20;

/**
 * A receiver drops a sender whose unstored chunks exceed twice the window: an honest sender
 * never gets there, and a hostile one must not make us buffer without bound.
 */
export const RECEIVER_QUEUE_LIMIT_BYTES = 2 * IN_FLIGHT_WINDOW_BYTES;

/**
 * While waiting for 'drain' or an ack, the sender also re-checks on this timer. A drain
 * event lost in a reconnect must not stall the transfer forever (trystero does the same).
 */
export const BACKPRESSURE_RECHECK_MS = 250;

/** Progress events are emitted at most this often per transfer (a UI needs no more). */
export const PROGRESS_INTERVAL_MS = 250;

/** Speed is an exponentially weighted average with this time constant: steady, not laggy. */
export const SPEED_HALF_LIFE_MS = 2_000;

/** Longest file name we send (UTF-8 bytes); the schema accepts up to MAX_FILE_NAME_CHARS. */
export const MAX_SENT_NAME_BYTES = 255;

/** Longest name we offer for download (UTF-8 bytes): room for " (1)" under most 255-byte limits. */
export const MAX_DOWNLOAD_NAME_BYTES = 200;

/** The plaintext chunk size for a link: the preferred size unless the frame would not fit. */
export function chooseChunkSize(maxMessageSize: number, preferred: number = PREFERRED_CHUNK_BYTES): number {
  const fits = Math.floor(maxMessageSize) - CHUNK_FRAME_OVERHEAD;
  // Round down to whole KiB: keeps chunks aligned with disk and Blob slice boundaries.
  const size = Math.min(preferred, MAX_CHUNK_BYTES, Math.floor(fits / 1024) * 1024);
  if (!Number.isFinite(size) || size < MIN_CHUNK_BYTES) {
    throw new RangeError(`this connection carries messages of at most ${maxMessageSize} bytes; files need ${MIN_CHUNK_BYTES + CHUNK_FRAME_OVERHEAD}`);
  }
  return size;
}

/** Chunks of a file: at least one, so an empty file still ends with a final chunk. */
export function chunkCountFor(size: number, chunkSize: number): number {
  return Math.max(1, Math.ceil(size / chunkSize));
}

/** Bytes in chunk `index` of a file: the chunk size, or what is left for the last one. */
export function chunkLengthOf(file: { size: number; chunkSize: number; chunkCount: number }, index: number): number {
  return index === file.chunkCount - 1 ? file.size - index * file.chunkSize : file.chunkSize;
}
