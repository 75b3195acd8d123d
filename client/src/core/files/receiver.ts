import { createSHA256, type IHasher } from 'hash-wasm';
import type { PeerSession } from '../chat/peer-session.ts';
import { ChatError, ErrorCode, isChatError } from '../errors.ts';
import type { FileState } from '../store/db.ts';
import type { ChunkHeader, FileCancelReason } from '../net/wire.ts';
import { Emitter } from '../util/emitter.ts';
import type { FileStore } from './file-store.ts';
import { ACK_EVERY_BYTES, ACK_MAX_DELAY_MS, chunkLengthOf, RECEIVER_QUEUE_LIMIT_BYTES } from './limits.ts';
import { isSigned, transferIdOf, type SignedManifest } from './manifest.ts';
import { FINAL_STATES, ProgressMeter, type TransferProgress, type TransferState } from './progress.ts';
import { sanitizeFileName } from './sanitize.ts';
import { codeForReason, describeReason } from './sender.ts';
import { equalBytes } from '../crypto/bytes.ts';

/** What the user reads when the hash does not match (issue 5 wording). */
export const ALTERED_MESSAGE = 'this file was altered in transit and was discarded';

export interface TransferReceiverEvents {
  state: (state: TransferState, error?: ChatError) => void;
  progress: (p: TransferProgress) => void;
}

export interface TransferReceiverParams {
  store: FileStore;
  /**
   * Already checked (verifySignedManifest, or checkBegunManifest for a file-begin) and
   * stored (FileStore.add) by the caller. Unsigned for a file-begin: see applyManifest.
   */
  signed: SignedManifest;
  /** The sender (case-folded username). */
  peer: string;
  now?: () => number;
  /** Unstored bytes tolerated before the sender is judged to ignore flow control. */
  queueLimitBytes?: number;
}

/**
 * Receives one file from one sender. Each chunk must be the next index, carry the final
 * flag exactly on the last index, and have exactly the announced length; anything else
 * (a duplicate, a gap, a reordering, a truncation, a byte past the declared size) fails
 * the file at once and discards what was stored. Chunks are stored as they come and
 * hashed in the same pass, so the check at the end needs no second read. Index and
 * final flag are authenticated (they are AES-GCM additional data), so only the sender or
 * a frame dropped on the wire can produce these cases, never a forged frame.
 * A file begun before its sender had hashed it is stored the same way and waits, once
 * complete, in 'verifying' for its signed manifest (applyManifest).
 */
export class TransferReceiver {
  readonly id: string;
  readonly peer: string;
  readonly #store: FileStore;
  readonly #transferId: Uint8Array;
  readonly #events = new Emitter<TransferReceiverEvents>();
  readonly #queueLimit: number;
  readonly #ackEvery: number;
  readonly #meter: ProgressMeter;
  /** The sender's name as their channel announces it (`peer` is case-folded), for messages. */
  #peerName: string;
  #signed: SignedManifest;
  #hasher: IHasher;
  /** The SHA-256 of every chunk, once all are stored: kept while the signed manifest is awaited. */
  #digest: string | null = null;
  #state: TransferState = 'receiving';
  #error: ChatError | undefined;
  #session: PeerSession | null = null;
  /** The channel a file-resume was last sent on: one per channel, never two. */
  #resumedOn: PeerSession | null = null;
  #queue: Promise<void> = Promise.resolve();
  #queuedBytes = 0;
  /** Chunks arrived and not yet taken by a store task; a task takes all of them at once. */
  #arrived: { session: PeerSession; header: ChunkHeader; data: Uint8Array }[] = [];
  /** Next chunk index expected; also the number stored and hashed. */
  #next = 0;
  #lastAcked = -1;
  #ackTimer: ReturnType<typeof setTimeout> | undefined;

  private constructor(params: TransferReceiverParams, hasher: IHasher, next: number) {
    this.#signed = params.signed;
    this.id = params.signed.manifest.id;
    this.peer = params.peer.toLowerCase();
    this.#peerName = params.peer;
    this.#store = params.store;
    this.#transferId = transferIdOf(this.id);
    this.#queueLimit = params.queueLimitBytes ?? RECEIVER_QUEUE_LIMIT_BYTES;
    this.#ackEvery = Math.max(1, Math.floor(ACK_EVERY_BYTES / params.signed.manifest.chunkSize));
    this.#hasher = hasher;
    this.#next = next;
    this.#lastAcked = next - 1;
    this.#meter = new ProgressMeter(params.signed.manifest.size, this.#bytesBefore(next), params.now ?? (() => Date.now()));
  }

  /** A receiver for a newly offered file (its row already added, no chunks yet). */
  static async create(params: TransferReceiverParams): Promise<TransferReceiver> {
    const hasher = await createSHA256();
    hasher.init();
    return new TransferReceiver(params, hasher, 0);
  }

  /**
   * A receiver for a file whose chunks are partly stored, e.g. after the page reloaded.
   * The hash state did not survive, so the stored chunks are hashed again (one read of
   * what is on disk; at disk speed this is seconds per gigabyte). hash-wasm can save()
   * its state; keeping it in the FileRow would remove this pass (a store schema change).
   */
  static async restore(params: TransferReceiverParams, stored: FileState = 'receiving'): Promise<TransferReceiver> {
    const { store } = params;
    const { id, chunkCount } = params.signed.manifest;
    if (stored !== 'receiving' && stored !== 'verifying') {
      // Finished before (verified, or failed and discarded): it only answers with that.
      const done = new TransferReceiver(params, await createSHA256(), chunkCount);
      done.#state = stored === 'verified' ? 'verified' : 'failed';
      return done;
    }
    const last = await store.lastContiguousChunk(id);
    const hasher = await createSHA256();
    hasher.init();
    for await (const chunk of store.readChunks(id, 0, last)) hasher.update(chunk);
    const receiver = new TransferReceiver(params, hasher, last + 1);
    // Chunks past a gap cannot exist (chunks are stored in order); if they do, the row is
    // not what we wrote: start over rather than trust it.
    if ((await store.countChunks(id)) !== last + 1) {
      await receiver.#fail(new ChatError(ErrorCode.FileOrder, receiver.#discarded('its stored chunks are inconsistent')), 'failed', false);
    } else if (last + 1 === chunkCount) {
      receiver.#enqueue(() => receiver.#verify());
    }
    return receiver;
  }

  get signed(): SignedManifest {
    return this.#signed;
  }
  get state(): TransferState {
    return this.#state;
  }
  get error(): ChatError | undefined {
    return this.#error;
  }
  get finished(): boolean {
    return FINAL_STATES.has(this.#state);
  }
  /** Chunks stored so far (all before this index). */
  get nextIndex(): number {
    return this.#next;
  }

  on<K extends keyof TransferReceiverEvents>(event: K, handler: TransferReceiverEvents[K]): () => void {
    return this.#events.on(event, handler);
  }

  /** Chunks now come over this channel (the first one, or a new one after a drop). */
  bind(session: PeerSession): void {
    // Also when finished: a file verified after a reload still tells the sender so.
    this.#session = session;
    this.#peerName = session.peerUsername;
    if (this.#state === 'interrupted') this.#setState('receiving');
  }

  /** The sender's channel closed: keep what is stored, wait for the next channel. */
  unbind(session: PeerSession): void {
    if (this.#session !== session) return;
    this.#session = null;
    if (this.#state === 'receiving') this.#setState('interrupted');
  }

  /**
   * Asks the sender for everything from the first chunk not stored, once per channel.
   * Queued behind chunks still being stored, so the index is final when it is sent.
   */
  requestResume(session: PeerSession): void {
    this.#enqueue(async () => {
      if (this.#session !== session || this.#resumedOn === session) return;
      this.#resumedOn = session;
      // Verified after a reload, before any channel was bound: tell the sender now.
      if (this.#state === 'verified') await session.sendMessage({ t: 'file-verified', id: this.id }).catch(() => undefined);
      if (this.finished || this.#next >= this.signed.manifest.chunkCount) return;
      this.#meter.restart(this.#bytesBefore(this.#next));
      await session.sendMessage({ t: 'file-resume', id: this.id, from: this.#next }).catch(() => undefined);
    });
  }

  /** Answers a repeated offer for this file (the sender reconnected and offers again). */
  answerOffer(session: PeerSession): void {
    this.bind(session);
    if (this.#state === 'verified') {
      void session.sendMessage({ t: 'file-verified', id: this.id }).catch(() => undefined);
      return;
    }
    if (this.finished) {
      void session.sendMessage({ t: 'file-cancel', id: this.id, reason: 'failed' }).catch(() => undefined);
      return;
    }
    this.requestResume(session);
  }

  handleChunk(session: PeerSession, header: ChunkHeader, data: Uint8Array): void {
    if (session !== this.#session || this.#state !== 'receiving') return;
    if (!equalBytes(header.transferId, this.#transferId)) return;
    this.#queuedBytes += data.byteLength;
    if (this.#queuedBytes > this.#queueLimit) {
      // NOTE: an honest sender stays within the ack window; one that does not would make
      // us hold its chunks in memory without bound.
      void this.#fail(new ChatError(ErrorCode.FileOrder, this.#discarded('the sender did not wait for acknowledgements')), 'order');
      return;
    }
    this.#arrived.push({ session, header, data });
    if (this.#arrived.length > 1) return; // the task already queued takes this one too
    this.#enqueue(async () => {
      // NOTE: chunks that arrive while the previous batch is being stored wait here and go
      // to storage together: one transaction per batch instead of one per chunk.
      const batch = this.#arrived;
      this.#arrived = [];
      // Counted before storing: a store may take the bytes (FileStore.putChunks).
      const bytes = batch.reduce((sum, c) => sum + c.data.byteLength, 0);
      try {
        await this.#onChunks(batch);
      } finally {
        this.#queuedBytes -= bytes;
      }
    });
  }

  /** The sender says every chunk was sent: a file still missing its final chunk is incomplete. */
  handleEnd(session: PeerSession): void {
    this.#enqueue(async () => {
      if (session !== this.#session || this.#state !== 'receiving') return;
      if (this.#next < this.signed.manifest.chunkCount) {
        await this.#fail(
          new ChatError(ErrorCode.FileOrder, this.#discarded(`it ended at chunk ${this.#next} of ${this.signed.manifest.chunkCount}; the final chunk never arrived`)),
          'order',
        );
      }
    });
  }

  /**
   * The signed manifest of a file begun unsigned, already checked by the caller
   * (verifySignedManifest, and the same fields as begun): kept with the file, and the
   * file verified against it if every chunk is already stored. Queued behind chunks
   * being stored, like everything that reads the hash.
   */
  applyManifest(signed: SignedManifest): Promise<void> {
    return this.#enqueueAwaited(async () => {
      if (this.finished || isSigned(this.#signed) || !isSigned(signed)) return;
      this.#signed = signed;
      await this.#store.update(this.id, { sha256: signed.manifest.sha256, signature: signed.sig });
      if (this.#digest !== null) await this.#verify();
    });
  }

  /** The signed manifest that came for a file begun unsigned is not its sender's: discard it. */
  refuseManifest(error: ChatError): Promise<void> {
    return this.#fail(error, 'refused');
  }

  /** We cancel: tell the sender, discard what was stored. */
  cancel(): Promise<void> {
    return this.#fail(new ChatError(ErrorCode.FileCancelled, 'You cancelled this file.'), 'cancelled');
  }

  /** The sender stopped (cancelled, or can no longer read the file). */
  remoteCancel(reason: FileCancelReason): Promise<void> {
    const error =
      reason === 'cancelled'
        ? new ChatError(ErrorCode.FileCancelled, `${this.#peerName} cancelled this file.`)
        : new ChatError(codeForReason(reason), `${this.#peerName} stopped sending this file: ${describeReason(reason)}.`);
    return this.#fail(error, reason, false);
  }

  async #onChunks(batch: readonly { session: PeerSession; header: ChunkHeader; data: Uint8Array }[]): Promise<void> {
    if (this.#state !== 'receiving' && this.#state !== 'interrupted') return;
    const { chunkCount, size } = this.signed.manifest;
    const last = chunkCount - 1;
    const refuse = (code: ErrorCode, reason: FileCancelReason, why: string) =>
      this.#fail(new ChatError(code, this.#discarded(why)), reason);

    // Every chunk is checked before any is stored; a bad one discards the whole file anyway.
    let next = this.#next;
    for (const { header, data } of batch) {
      const i = header.index;
      // Order: past the end first (a longer stream is a size problem), then the index.
      if (i > last) return refuse(ErrorCode.FileSize, 'size', `more data arrived than its announced ${size} bytes`);
      if (i < next) return refuse(ErrorCode.FileOrder, 'order', `chunk ${i} arrived twice`);
      if (i > next) return refuse(ErrorCode.FileOrder, 'order', `chunk ${i} arrived while chunk ${next} was expected (missing or reordered)`);
      if (header.final && i !== last) return refuse(ErrorCode.FileOrder, 'order', `it ended at chunk ${i} of ${chunkCount} (truncated)`);
      if (!header.final && i === last) return refuse(ErrorCode.FileSize, 'size', `the stream went on past its announced ${size} bytes`);
      const expected = chunkLengthOf(this.signed.manifest, i);
      if (data.byteLength > expected) return refuse(ErrorCode.FileSize, 'size', `more data arrived than its announced ${size} bytes`);
      if (data.byteLength < expected) return refuse(ErrorCode.FileSize, 'size', `chunk ${i} is shorter than announced (truncated)`);
      next = i + 1;
    }
    if (batch.length === 0) return;

    // Hashed before storing, since a store may take the bytes; a batch that fails to store
    // fails the whole file, so the hash never covers chunks that were not stored.
    for (const { data } of batch) this.#hasher.update(data);
    try {
      await this.#store.putChunks(this.id, batch.map(({ header, data }) => ({ index: header.index, data })));
    } catch (e) {
      if (this.finished) return; // cancelled while the write was under way
      const error = isChatError(e) ? e : new ChatError(ErrorCode.Quota, String(e), { cause: e });
      return this.#fail(error, error.code === ErrorCode.Quota ? 'quota' : 'failed');
    }
    if (this.finished) return;
    this.#next = next;
    const i = next - 1;
    this.#emitProgress(this.#bytesBefore(next), i === last);
    if (i === last) return this.#verify();
    const session = batch[batch.length - 1]!.session;
    if (i - this.#lastAcked >= this.#ackEvery) this.#ack(session);
    else this.#ackTimer ??= setTimeout(() => this.#ack(session), ACK_MAX_DELAY_MS);
  }

  /** Tells the sender the last chunk stored (the "last confirmed chunk" it resumes after). */
  #ack(session: PeerSession): void {
    clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    const upTo = this.#next - 1;
    if (this.finished || upTo <= this.#lastAcked || !session.isOpen || session !== this.#session) return;
    this.#lastAcked = upTo;
    void session.sendMessage({ t: 'file-ack', id: this.id, upTo }).catch(() => undefined);
  }

  /**
   * Every chunk is stored: compare the hash computed on the way with the signed one, or,
   * when the signed manifest has not come yet, keep the hash and wait for it.
   */
  async #verify(): Promise<void> {
    if (this.finished) return;
    this.#setState('verifying');
    await this.#store.setState(this.id, 'verifying');
    this.#digest ??= this.#hasher.digest('hex');
    if (!isSigned(this.#signed)) return;
    const digest = this.#digest;
    const stored = await this.#store.countChunks(this.id);
    if (digest !== this.signed.manifest.sha256) {
      return this.#fail(new ChatError(ErrorCode.FileHash, ALTERED_MESSAGE), 'altered');
    }
    if (stored !== this.signed.manifest.chunkCount) {
      return this.#fail(new ChatError(ErrorCode.FileOrder, this.#discarded('chunks are missing from storage')), 'failed');
    }
    await this.#store.setState(this.id, 'verified');
    this.#setState('verified');
    const session = this.#session;
    if (session?.isOpen) void session.sendMessage({ t: 'file-verified', id: this.id }).catch(() => undefined);
  }

  async #fail(error: ChatError, reason: FileCancelReason, tellSender = true): Promise<void> {
    if (this.finished) return;
    // Set first: chunks still queued see it and are dropped, not stored.
    this.#state = reason === 'cancelled' ? 'cancelled' : 'failed';
    this.#error = error;
    clearTimeout(this.#ackTimer);
    const session = this.#session;
    if (tellSender && session?.isOpen) void session.sendMessage({ t: 'file-cancel', id: this.id, reason }).catch(() => undefined);
    try {
      await this.#store.discard(this.id, error.message);
    } catch {
      // The row stays 'receiving' with its chunks; the 7-day purge removes them.
    }
    this.#events.emit('state', this.#state, error);
  }

  #discarded(why: string): string {
    return `"${sanitizeFileName(this.signed.manifest.name)}" from ${this.#peerName} was discarded: ${why}.`;
  }

  #enqueue(task: () => Promise<void>): void {
    void this.#enqueueAwaited(task);
  }

  /** Like #enqueue, and resolves once the task (or the failure it caused) is done. */
  #enqueueAwaited(task: () => Promise<void>): Promise<void> {
    this.#queue = this.#queue.then(task).catch((e: unknown) => {
      const error = isChatError(e) ? e : new ChatError(ErrorCode.Malformed, String(e), { cause: e });
      return this.#fail(error, 'failed');
    });
    return this.#queue;
  }

  #bytesBefore(index: number): number {
    return Math.min(this.signed.manifest.size, index * this.signed.manifest.chunkSize);
  }

  #emitProgress(bytes: number, force: boolean): void {
    const snap = this.#meter.update(bytes, force);
    if (snap) this.#events.emit('progress', { id: this.id, peer: this.peer, direction: 'receive', ...snap });
  }

  #setState(state: TransferState, error?: ChatError): void {
    if (this.#state === state && !error) return;
    this.#state = state;
    this.#events.emit('state', state, error);
  }
}
