import { createSHA256, type IHasher } from 'hash-wasm';
import { ChatError, ErrorCode } from '../errors.ts';
import type { FileStore } from './file-store.ts';
import { chunkCountFor } from './limits.ts';
import { HASH_READ_BYTES } from './manifest.ts';

/**
 * How long the pass waits for a recipient's stream to start reading before it reads the
 * file itself: a round trip and the recipient storing the offer, well under a second.
 */
export const STREAM_START_GRACE_MS = 1_000;

/**
 * How long a stream may keep the hash waiting between two reads (its recipient is slow
 * to store, its channel stalled) before the pass reads on by itself: at the ~2 MB/s
 * measured on a busy 2-core machine, one 2 MiB read block takes about a second to send.
 */
export const STREAM_STALL_MS = 3_000;

/** Chunks of our own copy per transaction: one transaction per chunk cost more than hashing. */
const OWN_COPY_BATCH = 32;

/** What our own copy is written to: a FileStore. */
export type OwnCopyStore = Pick<FileStore, 'putChunks' | 'ownCopyFrom'>;

/** A sender's stream sharing what it reads with the hash pass (HashPass.open). */
export interface ReadTap {
  /**
   * The stream read chunks `first`.. into `bytes` (whole chunks but the file's last), which
   * it goes on using: resolves when it may read on (our copy's writes keep up).
   */
  read(first: number, bytes: Uint8Array): Promise<void>;
  /** The stream stopped (file sent, channel closed, cancelled). */
  close(): void;
}

/**
 * The sender's one pass over a file it sends: SHA-256 (for the signed manifest) and our
 * own copy, both from the bytes a recipient's stream has just read, so the file is read
 * once rather than once more for the hash. Measured with the files bench (128 MiB, 2
 * cores, where the transfer is CPU-bound; one run each), against hashing in a read of its
 * own: 0.61 of the raw channel's throughput instead of 0.54, renderer growth 64 MiB
 * instead of 79.
 * When no stream reads where the hash stands (no recipient connected, all of them gone
 * or stalled), the pass reads the file itself. The same bytes are hashed, stored and
 * sent, so copy, hash and chunks cannot disagree.
 */
export class HashPass {
  readonly #file: Blob;
  readonly #chunkSize: number;
  readonly #count: number;
  readonly #hasher: IHasher;
  readonly #copy: OwnCopyWriter | null;
  /** Chunks hashed (and handed to our copy) so far: the next one to hash. */
  #next = 0;
  /** Open streams: each reads the file in order from where it started, at or before #next. */
  readonly #taps = new Set<object>();
  /** Reads the streams shared so far: a stream that shares none for a while has stalled. */
  #reads = 0;
  #failure: unknown = null;
  #wake: (() => void) | null = null;

  private constructor(file: Blob, chunkSize: number, hasher: IHasher, copy: OwnCopyWriter | null) {
    this.#file = file;
    this.#chunkSize = chunkSize;
    this.#count = chunkCountFor(file.size, chunkSize);
    this.#hasher = hasher;
    this.#copy = copy;
  }

  /** `copyTo`: the store to keep our own copy of the file in, under `id`. */
  static async create(file: Blob, chunkSize: number, copyTo?: { store: OwnCopyStore; id: string }): Promise<HashPass> {
    const hasher = await createSHA256();
    hasher.init();
    const copy = copyTo ? new OwnCopyWriter(copyTo.store, copyTo.id, file, chunkSize) : null;
    return new HashPass(file, chunkSize, hasher, copy);
  }

  /**
   * A stream starts reading at chunk `from`: a tap to share its reads, or null when
   * nothing it reads is needed (it starts past the hash, or the pass is over).
   */
  open(from: number): ReadTap | null {
    if (this.#failure !== null || from > this.#next || this.#next >= this.#count) return null;
    const tap = {};
    this.#taps.add(tap);
    this.#wakeUp();
    return {
      read: (first, bytes) => {
        if (!this.#taps.has(tap)) return Promise.resolve();
        this.#reads++;
        const taken = this.#take(first, bytes);
        this.#wakeUp();
        return taken;
      },
      close: () => {
        if (this.#taps.delete(tap)) this.#wakeUp();
      },
    };
  }

  /**
   * Hashes (and copies) the file to its end: from the streams' reads while any stream is
   * reading, else (no stream started, all stopped, or none read for STREAM_STALL_MS) by
   * reading the rest itself. `streamExpected`: a recipient is connected and should start
   * reading shortly. Resolves with the lowercase hex SHA-256; rejects with the first read
   * or write error, or the reason given to stop().
   */
  async run(streamExpected: boolean): Promise<string> {
    if (streamExpected && this.#taps.size === 0) await this.#waitForChange(STREAM_START_GRACE_MS);
    const perRead = Math.max(1, Math.floor(HASH_READ_BYTES / this.#chunkSize));
    // Once it has read by itself, the pass reads on alone: waiting for a stream that is
    // behind it (or stalled) would only hold the hash back.
    let alone = false;
    while (this.#next < this.#count) {
      this.#throwIfFailed();
      if (!alone && this.#taps.size > 0) {
        const reads = this.#reads;
        const timedOut = await this.#waitForChange(STREAM_STALL_MS);
        if (!timedOut || this.#reads !== reads) continue;
      }
      alone = true;
      const first = this.#next;
      const start = first * this.#chunkSize;
      const end = Math.min(this.#file.size, start + perRead * this.#chunkSize);
      const bytes = new Uint8Array(await this.#file.slice(start, end).arrayBuffer());
      await this.#take(first, bytes);
    }
    this.#throwIfFailed();
    await this.#copy?.finish();
    return this.#hasher.digest('hex');
  }

  /** Stops the pass (the file was cancelled): run() rejects with `reason`. */
  stop(reason: ChatError): void {
    this.#failure ??= reason;
    this.#wakeUp();
  }

  /** Chunks `first`.. were read: hash and copy those the pass has not had yet. */
  #take(first: number, bytes: Uint8Array): Promise<void> {
    // Whole chunks but the file's last; an empty file is one empty chunk.
    const chunks = chunkCountFor(bytes.byteLength, this.#chunkSize);
    if (this.#failure !== null || first > this.#next || first + chunks <= this.#next) return Promise.resolve();
    const from = this.#next;
    this.#hasher.update(from === first ? bytes : bytes.subarray((from - first) * this.#chunkSize));
    this.#next = first + chunks;
    const copy = this.#copy;
    if (!copy) return Promise.resolve();
    for (let i = from; i < this.#next; i++) {
      const offset = (i - first) * this.#chunkSize;
      copy.add(i, bytes.subarray(offset, Math.min(bytes.byteLength, offset + this.#chunkSize)));
    }
    return copy.flushIfFull().catch((e: unknown) => {
      this.#failure ??= e;
      this.#wakeUp();
    });
  }

  #throwIfFailed(): void {
    if (this.#failure === null) return;
    if (this.#failure instanceof Error) throw this.#failure;
    throw new ChatError(ErrorCode.FileUnavailable, `The file could not be read: ${String(this.#failure)}`);
  }

  /**
   * Until a stream opens, closes or brings chunks, or the pass is stopped (false), or
   * `timeoutMs` passed (true).
   */
  #waitForChange(timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const finish = (timedOut: boolean) => {
        clearTimeout(timer);
        if (this.#wake === woken) this.#wake = null;
        resolve(timedOut);
      };
      const woken = () => finish(false);
      const timer = setTimeout(() => finish(true), timeoutMs);
      this.#wake = woken;
    });
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }
}

/**
 * Stores the sender's copy of a file while it is hashed, in batches, one write in flight
 * at a time. What is stored is what the store asks for (FileStore.ownCopyFrom): the bytes
 * just read, or slices of the file.
 */
class OwnCopyWriter {
  readonly #store: OwnCopyStore;
  readonly #id: string;
  readonly #file: Blob;
  readonly #chunkSize: number;
  #batch: { index: number; data: Uint8Array | Blob }[] = [];
  #writing: Promise<unknown> = Promise.resolve();

  constructor(store: OwnCopyStore, id: string, file: Blob, chunkSize: number) {
    this.#store = store;
    this.#id = id;
    this.#file = file;
    this.#chunkSize = chunkSize;
  }

  /** Chunk `index`, just read into `bytes`, a view its reader goes on using. */
  add(index: number, bytes: Uint8Array): void {
    if (this.#store.ownCopyFrom !== 'bytes') {
      const start = index * this.#chunkSize;
      this.#batch.push({ index, data: this.#file.slice(start, Math.min(this.#file.size, start + this.#chunkSize)) });
      return;
    }
    // A store may move (detach) a view that spans its whole buffer: the stream that read it
    // still has to seal it, so such a view is copied.
    const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
    this.#batch.push({ index, data: whole ? bytes.slice() : bytes });
  }

  /** Queues a batch once there is one; resolves when the batch before it is stored. */
  async flushIfFull(): Promise<void> {
    if (this.#batch.length >= OWN_COPY_BATCH) await this.#flush();
  }

  async finish(): Promise<void> {
    await this.#flush();
    await this.#writing;
  }

  /** One write at a time, in order: a failed write fails every later one (and throws here). */
  async #flush(): Promise<void> {
    const previous = this.#writing;
    if (this.#batch.length > 0) {
      const batch = this.#batch;
      this.#batch = [];
      this.#writing = previous.then(() => this.#store.putChunks(this.#id, batch));
      // Seen by the next flush or finish; not an unhandled rejection meanwhile.
      this.#writing.catch(() => undefined);
    }
    await previous;
  }
}
