import type { PeerSession } from '../chat/peer-session.ts';
import { ChatError, ErrorCode, isChatError } from '../errors.ts';
import type { Lane } from '../net/peer-link.ts';
import type { FileCancelReason } from '../net/wire.ts';
import { Emitter } from '../util/emitter.ts';
import { BACKPRESSURE_RECHECK_MS, CHUNK_FRAME_OVERHEAD, IN_FLIGHT_WINDOW_BYTES, SEAL_AHEAD, SEND_READ_BYTES } from './limits.ts';
import type { ReadTap } from './hash-pass.ts';
import { isSigned, transferIdOf, type SignedManifest } from './manifest.ts';
import { FINAL_STATES, ProgressMeter, type TransferProgress, type TransferState } from './progress.ts';

export interface TransferSenderEvents {
  state: (state: TransferState, error?: ChatError) => void;
  progress: (p: TransferProgress) => void;
}

export interface TransferSenderParams {
  /** Unsigned (manifest.ts unsignedManifest) while the file is still being hashed: see sign(). */
  signed: SignedManifest;
  sentAt: number;
  /** The recipient (case-folded username). */
  peer: string;
  /** The file: the original Blob, or a lazy read of our stored copy after a reload. */
  source: Blob | (() => Promise<Blob>);
  now?: () => number;
  /** Bytes sent beyond the last acknowledgement before waiting (tests shrink it). */
  windowBytes?: number;
  /**
   * While the file is being hashed: a tap for a stream that starts reading at chunk
   * `from`, so the hash is computed from the stream's reads (HashPass.open), or null.
   */
  tap?: (from: number) => ReadTap | null;
}

/**
 * Sends one file to one recipient over its channel: the offer (file-begin while the file
 * is still being hashed, followed by file-manifest once it is signed; file-offer after
 * that), then the chunks from wherever the recipient asks (file-resume), never holding
 * more than two read blocks (SEND_READ_BYTES each) in memory, and waiting whenever the
 * channel's queue is above its high-water mark or the recipient is a window behind in
 * storing. A dropped channel leaves it 'interrupted';
 * the recipient's next file-resume (on a new channel) carries on from its last stored chunk.
 */
export class TransferSender {
  readonly id: string;
  readonly peer: string;
  readonly sentAt: number;
  readonly #transferId: Uint8Array;
  readonly #events = new Emitter<TransferSenderEvents>();
  readonly #source: TransferSenderParams['source'];
  readonly #windowBytes: number;
  readonly #tap: TransferSenderParams['tap'];
  readonly #meter: ProgressMeter;
  /** The recipient's name as their channel announces it (`peer` is case-folded), for messages. */
  #peerName: string;
  #signed: SignedManifest;
  #blob: Blob | null = null;
  #state: TransferState = 'waiting';
  #error: ChatError | undefined;
  #session: PeerSession | null = null;
  /** Bumped on every (re)start and stop: a stale streaming loop sees it and returns. */
  #generation = 0;
  #started = false;
  #wake: (() => void) | null = null;
  /** Highest chunk index the recipient confirmed stored; -1 for none. */
  ackedUpTo = -1;
  /** Highest chunk index handed to the channel in the current run; -1 for none. */
  sentUpTo = -1;

  constructor(params: TransferSenderParams) {
    this.#signed = params.signed;
    this.id = params.signed.manifest.id;
    this.peer = params.peer.toLowerCase();
    this.#peerName = params.peer;
    this.sentAt = params.sentAt;
    this.#source = params.source;
    this.#windowBytes = params.windowBytes ?? IN_FLIGHT_WINDOW_BYTES;
    this.#tap = params.tap;
    this.#transferId = transferIdOf(this.id);
    const now = params.now ?? (() => Date.now());
    this.#meter = new ProgressMeter(params.signed.manifest.size, 0, now);
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

  on<K extends keyof TransferSenderEvents>(event: K, handler: TransferSenderEvents[K]): () => void {
    return this.#events.on(event, handler);
  }

  /**
   * The file is hashed and its manifest signed: the recipient gets it now if its channel
   * is open (file-manifest), else with the next offer.
   */
  sign(signed: SignedManifest): void {
    if (isSigned(this.#signed) || !isSigned(signed) || signed.manifest.id !== this.id) return;
    this.#signed = signed;
    const session = this.#session;
    if (this.finished || !session?.isOpen) return;
    const { manifest, sig } = signed;
    void session.sendMessage({ t: 'file-manifest', manifest, sig }).catch(() => undefined);
  }

  /** The file could not be read or hashed: tell the recipient, and stop. */
  abandon(error: ChatError): void {
    if (this.finished) return;
    const session = this.#session;
    this.#stop();
    if (session?.isOpen) void session.sendMessage({ t: 'file-cancel', id: this.id, reason: 'unavailable' }).catch(() => undefined);
    this.#fail('failed', error);
  }

  /**
   * A channel to the recipient is open: (re)send the offer. A recipient that never saw it
   * answers with file-resume from 0; one that has part of the file, with file-resume from
   * its first missing chunk (once per channel: it also asks by itself when the channel
   * opens); one that already verified it, with file-verified; one that gave up, with
   * file-cancel. So a transfer never waits on an answer lost with the old channel.
   */
  async attach(session: PeerSession): Promise<void> {
    if (this.finished) return;
    // Told twice about the same channel: it is already in use.
    if (this.#session === session && this.#state !== 'waiting' && this.#state !== 'interrupted') return;
    this.#session = session;
    this.#peerName = session.peerUsername;
    this.#setState(this.#started ? 'interrupted' : 'offered');
    // Cancelled by a listener of that state change: offer nothing.
    if (this.finished) return;
    try {
      const { manifest, sig } = this.#signed;
      if (isSigned(this.#signed)) await session.sendMessage({ t: 'file-offer', manifest, sig, sentAt: this.sentAt });
      else {
        const { sha256: _unknown, ...begun } = manifest;
        await session.sendMessage({ t: 'file-begin', manifest: begun, sentAt: this.sentAt });
      }
    } catch {
      // The channel went away while offering: the next channel offers again.
      if (this.#session === session && !this.finished && !this.#started) this.#setState('waiting');
    }
  }

  /** The channel to the recipient closed: stop, keep everything, wait for the next one. */
  detach(session: PeerSession): void {
    if (this.#session !== session) return;
    this.#session = null;
    this.#generation++;
    this.#wakeUp();
    if (!this.finished) this.#setState(this.#started ? 'interrupted' : 'waiting');
  }

  /** The recipient asks for chunks from `from` on: start, or restart after a reconnect. */
  resume(session: PeerSession, from: number): void {
    if (this.finished) return;
    const count = this.signed.manifest.chunkCount;
    if (!Number.isInteger(from) || from < 0 || from > count) return;
    if (session.link.maxMessageSize < this.signed.manifest.chunkSize + CHUNK_FRAME_OVERHEAD) {
      // Chosen for the channels open when it was sent; this one carries smaller messages.
      this.#stop();
      void session.sendMessage({ t: 'file-cancel', id: this.id, reason: 'unavailable' }).catch(() => undefined);
      this.#fail('failed', new ChatError(ErrorCode.FileUnavailable, `${this.#peerName}'s connection cannot carry this file's ${this.signed.manifest.chunkSize}-byte chunks; send it again.`));
      return;
    }
    this.#session = session;
    this.#peerName = session.peerUsername;
    this.#started = true;
    const gen = ++this.#generation;
    this.#wakeUp();
    // The recipient has exactly the chunks before `from`; that is the last confirmed chunk.
    this.ackedUpTo = from - 1;
    this.sentUpTo = from - 1;
    this.#meter.restart(this.#bytesUpTo(from - 1));
    this.#setState('sending');
    // One lane for the whole run: chunks and the end marker stay in order.
    void this.#stream(session, from, gen, session.bulkReady ? 'bulk' : 'main');
  }

  /** The recipient stored every chunk up to `upTo`. */
  acknowledge(upTo: number): void {
    if (!Number.isInteger(upTo) || upTo <= this.ackedUpTo || upTo >= this.signed.manifest.chunkCount) return;
    this.ackedUpTo = upTo;
    this.#wakeUp();
  }

  /** The recipient checked the whole file against the signed hash. */
  verified(): void {
    if (this.finished) return;
    this.ackedUpTo = this.signed.manifest.chunkCount - 1;
    this.#stop();
    this.#blob = null;
    this.#emitProgress(this.signed.manifest.size, true);
    this.#setState('done');
  }

  /** The recipient gave up (cancelled, refused, discarded, out of space). */
  remoteCancel(reason: FileCancelReason): void {
    if (this.finished) return;
    this.#stop();
    if (reason === 'cancelled') {
      this.#fail('cancelled', new ChatError(ErrorCode.FileCancelled, `${this.#peerName} cancelled the transfer.`));
      return;
    }
    this.#fail('failed', new ChatError(codeForReason(reason), `${this.#peerName} could not take the file: ${describeReason(reason)}.`));
  }

  /** We cancel: tell the recipient if we can, and stop. */
  cancel(): void {
    if (this.finished) return;
    const session = this.#session;
    this.#stop();
    if (session?.isOpen) void session.sendMessage({ t: 'file-cancel', id: this.id, reason: 'cancelled' }).catch(() => undefined);
    this.#fail('cancelled', new ChatError(ErrorCode.FileCancelled, 'You cancelled the transfer.'));
  }

  async #stream(session: PeerSession, from: number, gen: number, lane: Lane): Promise<void> {
    const { chunkCount: count, chunkSize, size } = this.signed.manifest;
    const alive = () => gen === this.#generation && session.isOpen && this.#state === 'sending';
    const tap = this.#tap?.(from) ?? null;
    try {
      const blob = await this.#readSource();
      if (blob.size !== size) throw new ChatError(ErrorCode.FileUnavailable, 'The file changed on disk since it was offered.');
      const perRead = Math.max(1, Math.floor(SEND_READ_BYTES / chunkSize));
      // Block `first`..`first + perRead - 1`, read in one go.
      const read = (first: number): Promise<Uint8Array> | null => {
        if (first >= count) return null;
        const block = blob
          .slice(first * chunkSize, Math.min(size, (first + perRead) * chunkSize))
          .arrayBuffer()
          .then((b) => new Uint8Array(b));
        block.catch(() => undefined); // a read failing after we stopped is nobody's error
        return block;
      };
      let blockStart = from;
      let block: Uint8Array | null = null;
      let next = read(from);
      // Chunks handed to the session and not yet on the channel, oldest first.
      const sending: { index: number; done: Promise<void> }[] = [];
      const settleOldest = async () => {
        const oldest = sending.shift()!;
        await oldest.done;
        if (gen !== this.#generation) return;
        this.sentUpTo = oldest.index;
        this.#emitProgress(this.#bytesUpTo(oldest.index), false);
      };
      for (let i = from; i < count; i++) {
        await this.#waitForRoom(session, i, alive, lane);
        if (!alive()) return;
        if (i === blockStart + perRead || block === null) {
          if (block !== null) blockStart += perRead;
          block = await next!;
          // Read the next block while this one is hashed, sealed and sent: two blocks in memory at most.
          next = read(blockStart + perRead);
          if (tap) await tap.read(blockStart, block);
          if (!alive()) return;
        }
        const offset = (i - blockStart) * chunkSize;
        const bytes = block.subarray(offset, Math.min(block.byteLength, offset + chunkSize));
        const done = session.sendChunk({ transferId: this.#transferId, index: i, final: i === count - 1 }, bytes, lane);
        done.catch(() => undefined); // seen when it is the oldest
        sending.push({ index: i, done });
        if (sending.length >= SEAL_AHEAD) await settleOldest();
        if (gen !== this.#generation) return;
      }
      while (sending.length > 0) await settleOldest();
      if (!alive()) return;
      // Tells a receiver still missing the final chunk (dropped on the wire) that it will not come.
      await session.sendMessage({ t: 'file-end', id: this.id }, lane);
      this.#emitProgress(size, true);
    } catch (e) {
      if (!alive()) return; // the channel closed under us: detach() has set 'interrupted'
      // Still alive: this run's session is the sender's session.
      this.abandon(isChatError(e) ? e : new ChatError(ErrorCode.FileUnavailable, `The file could not be read: ${String(e)}`, { cause: e }));
    } finally {
      tap?.close();
    }
  }

  /**
   * Waits until chunk `index` may go: the channel's queue is below its high-water mark
   * (PeerSession.isCongested), and fewer than a window of bytes are unacknowledged.
   * NOTE: without the window, a receiver whose disk is slower than the network would
   * hold every decrypted chunk in memory waiting for IndexedDB.
   */
  async #waitForRoom(session: PeerSession, index: number, alive: () => boolean, lane: Lane): Promise<void> {
    const chunkSize = this.signed.manifest.chunkSize;
    for (;;) {
      if (!alive()) return;
      const unacked = (index - (this.ackedUpTo + 1)) * chunkSize;
      if (unacked < this.#windowBytes && !session.isCongested(lane)) return;
      await new Promise<void>((resolve) => {
        const done = () => {
          off();
          clearTimeout(timer);
          if (this.#wake === done) this.#wake = null;
          resolve();
        };
        const off = session.on('drain', done);
        // Re-check on a timer too: a drain lost in a reconnect must not stall us forever.
        const timer = setTimeout(done, BACKPRESSURE_RECHECK_MS);
        this.#wake = done;
      });
    }
  }

  async #readSource(): Promise<Blob> {
    if (!this.#blob) this.#blob = typeof this.#source === 'function' ? await this.#source() : this.#source;
    return this.#blob;
  }

  #bytesUpTo(index: number): number {
    const { chunkSize, size } = this.signed.manifest;
    return Math.min(size, Math.max(0, (index + 1) * chunkSize));
  }

  #emitProgress(bytes: number, force: boolean): void {
    const snap = this.#meter.update(bytes, force);
    if (snap) this.#events.emit('progress', { id: this.id, peer: this.peer, direction: 'send', ...snap });
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  #stop(): void {
    this.#generation++;
    this.#wakeUp();
  }

  #fail(state: 'failed' | 'cancelled', error: ChatError): void {
    this.#error = error;
    this.#blob = null;
    this.#setState(state, error);
  }

  #setState(state: TransferState, error?: ChatError): void {
    if (this.#state === state && !error) return;
    this.#state = state;
    this.#events.emit('state', state, error);
  }
}

export function describeReason(reason: FileCancelReason): string {
  switch (reason) {
    case 'cancelled':
      return 'the transfer was cancelled';
    case 'refused':
      return 'the offer was refused';
    case 'too-large':
      return 'the file is larger than they accept';
    case 'altered':
      return 'the file was altered in transit and was discarded';
    case 'order':
      return 'chunks arrived out of order and the file was discarded';
    case 'size':
      return 'the data did not match the announced size and the file was discarded';
    case 'quota':
      return 'their device has no more room';
    case 'unavailable':
      return 'the file is no longer available';
    case 'failed':
      return 'the transfer failed earlier';
  }
}

export function codeForReason(reason: FileCancelReason): ErrorCode {
  switch (reason) {
    case 'cancelled':
      return ErrorCode.FileCancelled;
    case 'refused':
      return ErrorCode.BadSignature;
    case 'too-large':
      return ErrorCode.FileTooLarge;
    case 'altered':
      return ErrorCode.FileHash;
    case 'order':
      return ErrorCode.FileOrder;
    case 'size':
      return ErrorCode.FileSize;
    case 'quota':
      return ErrorCode.Quota;
    case 'unavailable':
    case 'failed':
      return ErrorCode.FileUnavailable;
  }
}
