import type { SignalData } from '../../../../signaling/src/protocol.ts';
import { startHandshake, type SessionKeys, type SignedHello } from '../crypto/handshake.ts';
import { ChatError, ErrorCode, isChatError } from '../errors.ts';
import type { Lane, PeerLink } from '../net/peer-link.ts';
import { extractFingerprint } from '../net/sdp.ts';
import { BUFFER_HIGH_WATER, BULK_HIGH_WATER, HANDSHAKE_TIMEOUT_MS } from '../net/limits.ts';
import {
  decodeFrame,
  encodeAppMessage,
  encodeFrame,
  encodeHeader,
  frameAad,
  FrameType,
  parseAppMessage,
  parseTextFrame,
  type AppMessage,
  type ChunkHeader,
} from '../net/wire.ts';
import { Emitter } from '../util/emitter.ts';
import type { Identity } from './identity.ts';

export type PeerState = 'connecting' | 'securing' | 'open' | 'failed' | 'closed';

export interface PeerSessionEvents {
  state: (state: PeerState, error?: ChatError) => void;
  message: (m: AppMessage) => void;
  chunk: (header: ChunkHeader, data: Uint8Array) => void;
  /** A frame that was refused (tampered, replayed, malformed); the session stays up. */
  rejected: (error: ChatError) => void;
  drain: () => void;
}

export interface PeerSessionParams {
  link: PeerLink;
  room: string;
  me: { username: string; identity: Identity };
  peer: { username: string; publicKey: Uint8Array };
  peerProofKey?: CryptoKey;
}

/**
 * One authenticated, encrypted channel to one member of one room. No application frame
 * is sent or accepted until both signed hellos have been checked (identity key, DTLS
 * fingerprints, room proof), so a relaying server can neither read nor inject.
 */
export class PeerSession {
  readonly room: string;
  readonly peerUsername: string;
  readonly peerKey: Uint8Array;
  readonly link: PeerLink;
  readonly #params: PeerSessionParams;
  readonly #events = new Emitter<PeerSessionEvents>();
  #state: PeerState = 'connecting';
  #error: ChatError | undefined;
  #keys: SessionKeys | undefined;
  #boundFingerprints: { local: string; remote: string } | undefined;
  #pendingHello: SignedHello | undefined;
  #finish: ((peer: SignedHello) => Promise<SessionKeys>) | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** We told the peer that our bulk lane is open (once per session). */
  #bulkAnnounced = false;
  /** The peer told us that its bulk lane is open. */
  #peerBulk = false;
  #receiveQueue: Promise<void> = Promise.resolve();
  /**
   * Sealing and sending, in order, one queue per lane: frames of a lane leave in the order
   * they were sealed, and a chat message never waits for chunks being sealed for the bulk
   * lane (the replay window absorbs the reordering between lanes).
   */
  readonly #sendQueues: Record<Lane, Promise<void>> = { main: Promise.resolve(), bulk: Promise.resolve() };
  #chunkFrame: Uint8Array | null = null;
  readonly #ctx: { room: string; me: string; peer: string };
  #markReady: () => void = () => undefined;
  /** Resolves once our hello is sent and the peer's can be checked. */
  readonly #ready = new Promise<void>((resolve) => (this.#markReady = resolve));
  #markFailed: () => void = () => undefined;
  readonly #failed = new Promise<void>((resolve) => (this.#markFailed = resolve));

  constructor(params: PeerSessionParams) {
    this.#params = params;
    this.link = params.link;
    this.room = params.room;
    this.peerUsername = params.peer.username;
    this.peerKey = params.peer.publicKey;
    this.#ctx = { room: params.room, me: params.me.username.toLowerCase(), peer: params.peer.username.toLowerCase() };
    this.link.on('open', () => void this.#onOpen());
    this.link.on('frame', (data) => this.#onFrame(data));
    this.link.on('close', (reason) => this.#onClose(reason));
    this.link.on('drain', () => this.#events.emit('drain'));
    this.link.on('bulk', () => this.#announceBulk());
    this.#timer = setTimeout(() => {
      if (this.#state === 'connecting' || this.#state === 'securing') {
        this.fail(new ChatError(ErrorCode.HandshakeTimeout, `could not reach ${this.peerUsername} in time`));
      }
    }, HANDSHAKE_TIMEOUT_MS);
  }

  get state(): PeerState {
    return this.#state;
  }
  get error(): ChatError | undefined {
    return this.#error;
  }
  get isOpen(): boolean {
    return this.#state === 'open';
  }

  on<K extends keyof PeerSessionEvents>(event: K, handler: PeerSessionEvents[K]): () => void {
    return this.#events.on(event, handler);
  }

  /**
   * Signals from the server pass here. NOTE: once the channel is bound to a certificate,
   * a renegotiation offering another one would move the channel to a certificate the hello
   * never vouched for, so it is refused and the channel closed.
   */
  acceptSignal(data: SignalData): void {
    if (this.#state === 'failed' || this.#state === 'closed') return;
    if ((data.type === 'offer' || data.type === 'answer') && this.#boundFingerprints) {
      const fp = extractFingerprint(data.sdp);
      if (!fp.ok || fp.fingerprint !== this.#boundFingerprints.remote) {
        this.fail(new ChatError(ErrorCode.Renegotiation, `${this.peerUsername}'s connection tried to switch certificates; it was closed`));
        return;
      }
    }
    this.link.signal(data);
  }

  async #onOpen(): Promise<void> {
    if (this.#state !== 'connecting') return;
    this.#setState('securing');
    const fps = this.link.fingerprints();
    if ('error' in fps) {
      this.fail(new ChatError(ErrorCode.FingerprintMismatch, `could not verify ${this.peerUsername}: ${fps.error}`));
      return;
    }
    this.#boundFingerprints = fps;
    try {
      const hs = await startHandshake({
        room: this.room,
        username: this.#params.me.username,
        peerUsername: this.peerUsername,
        identity: this.#params.me.identity,
        expectedPeerKey: this.peerKey,
        localFingerprint: fps.local,
        remoteFingerprint: fps.remote,
        ...(this.#params.peerProofKey ? { peerProofKey: this.#params.peerProofKey } : {}),
        initiator: this.link.initiator,
      });
      this.#finish = hs.finish;
      this.link.send(JSON.stringify({ t: 'hello', hello: hs.hello.hello, signature: hs.hello.signature }));
      this.#markReady();
    } catch (e) {
      this.fail(asChatError(e, ErrorCode.Malformed));
    }
  }

  async #completeHandshake(peerHello: SignedHello): Promise<void> {
    if (!this.#finish || this.#keys) return;
    try {
      this.#keys = await this.#finish(peerHello);
      if (this.#state !== 'securing') return;
      if (this.#timer) clearTimeout(this.#timer);
      this.#setState('open');
      this.#announceBulk();
    } catch (e) {
      this.fail(asChatError(e, ErrorCode.BadSignature));
    }
  }

  #onFrame(data: string | Uint8Array): void {
    // Handshake and decryption are asynchronous; one queue keeps frames in arrival order,
    // so a sealed frame sent right after the peer's hello waits for that hello's check.
    this.#receiveQueue = this.#receiveQueue.then(() => (typeof data === 'string' ? this.#onTextFrame(data) : this.#onSealedFrame(data)));
  }

  async #onTextFrame(text: string): Promise<void> {
    let frame;
    try {
      frame = parseTextFrame(text);
    } catch (e) {
      this.#reject(asChatError(e, ErrorCode.Malformed));
      return;
    }
    if (frame.t === 'bye') {
      this.fail(new ChatError(ErrorCode.IdentityMismatch, `${this.peerUsername} refused the connection: ${frame.message}`), false);
      return;
    }
    if (this.#pendingHello || this.#keys) {
      this.fail(new ChatError(ErrorCode.Malformed, `${this.peerUsername} sent a second hello`));
      return;
    }
    this.#pendingHello = { hello: frame.hello, signature: frame.signature };
    // Our own hello may still be in the making (the peer's channel opened first).
    await Promise.race([this.#ready, this.#failed]);
    await this.#completeHandshake(this.#pendingHello);
  }

  async #onSealedFrame(bytes: Uint8Array): Promise<void> {
    const keys = this.#keys;
    if (!keys || this.#state !== 'open') {
      // NOTE: nothing but a hello may arrive before the handshake; anything else is an
      // attempt to inject into an unauthenticated channel.
      if (this.#state === 'securing' || this.#state === 'connecting') {
        this.fail(new ChatError(ErrorCode.Malformed, `${this.peerUsername} sent data before proving who they are`));
      }
      return;
    }
    try {
      const frame = decodeFrame(bytes);
      const aad = frameAad(frame.header, { room: this.#ctx.room, from: this.#ctx.peer, to: this.#ctx.me });
      const plain = await keys.receive.open(frame.nonce, aad, frame.sealed);
      if (frame.type === FrameType.Chunk && frame.chunk) {
        this.#events.emit('chunk', frame.chunk, plain);
        return;
      }
      const message = parseAppMessage(plain);
      if (message.t === 'lanes') this.#peerBulk ||= message.bulk;
      else this.#events.emit('message', message);
    } catch (e) {
      this.#reject(asChatError(e, ErrorCode.Decrypt));
    }
  }

  #reject(error: ChatError): void {
    this.#events.emit('rejected', error);
  }

  /**
   * Both sides have a bulk lane open and said so: file chunks may go on it. Once true it
   * stays true for this session (the link closes if the lane does), so a transfer that
   * starts on one lane ends on it and its chunks arrive in order.
   */
  get bulkReady(): boolean {
    return this.#bulkAnnounced && this.#peerBulk && !!this.link.bulk;
  }

  #announceBulk(): void {
    if (this.#bulkAnnounced || this.#state !== 'open' || !this.link.bulk) return;
    this.#bulkAnnounced = true;
    // A peer from before the bulk lane refuses this one message (reported, ERR_MALFORMED)
    // and never announces its own: everything then stays on the main lane.
    void this.sendMessage({ t: 'lanes', bulk: true }).catch(() => undefined);
  }

  /** Seals and sends one application message; resolves once it is handed to the channel. */
  sendMessage(m: AppMessage, lane: Lane = 'main'): Promise<void> {
    return this.#sendSealed(FrameType.App, encodeAppMessage(m), undefined, lane);
  }

  sendChunk(chunk: ChunkHeader, data: Uint8Array, lane: Lane = 'main'): Promise<void> {
    return this.#sendSealed(FrameType.Chunk, data, chunk, lane);
  }

  /** The lane a frame asked for `wanted` actually takes: bulk only once both sides have it. */
  #laneFor(wanted: Lane): Lane {
    return wanted === 'bulk' && this.bulkReady ? 'bulk' : 'main';
  }

  /** Where frames of `lane` go: the bulk lane, or the link itself (its main channel). */
  #channelOf(lane: Lane): Pick<PeerLink, 'send' | 'bufferedAmount'> {
    return (lane === 'bulk' ? this.link.bulk : null) ?? this.link;
  }

  #sendSealed(type: FrameType, plain: Uint8Array, chunk: ChunkHeader | undefined, wanted: Lane): Promise<void> {
    const lane = this.#laneFor(wanted);
    const task = this.#sendQueues[lane].then(async () => {
      const keys = this.#keys;
      if (!keys || this.#state !== 'open') throw new ChatError(ErrorCode.HandshakeTimeout, `${this.peerUsername} is not connected`);
      const nonce = keys.send.nextNonce();
      const header = encodeHeader(type, nonce, chunk);
      const aad = frameAad(header, { room: this.#ctx.room, from: this.#ctx.me, to: this.#ctx.peer });
      const sealed = await keys.send.seal(nonce, aad, plain);
      this.#channelOf(lane).send(type === FrameType.Chunk ? encodeFrame(header, sealed, this.#frameBuffer(header.length + sealed.length)) : encodeFrame(header, sealed));
    });
    this.#sendQueues[lane] = task.catch(() => undefined);
    return task;
  }

  /**
   * The buffer chunk frames are built in. Links copy what they send (PeerLink.send), and a
   * frame is built and sent in one synchronous step, so one buffer serves every chunk:
   * measured on the sender of a 128 MiB transfer (files bench, CPU profile), a new buffer
   * per frame cost ~0.28 s of the main thread, plus the garbage.
   */
  #frameBuffer(length: number): Uint8Array {
    if (!this.#chunkFrame || this.#chunkFrame.length < length) this.#chunkFrame = new Uint8Array(length);
    return this.#chunkFrame;
  }

  /** True when the lane's queue is above the high-water mark and senders should wait. */
  isCongested(wanted: Lane = 'main'): boolean {
    const lane = this.#laneFor(wanted);
    return this.#channelOf(lane).bufferedAmount > (lane === 'bulk' ? BULK_HIGH_WATER : BUFFER_HIGH_WATER);
  }

  fail(error: ChatError, tellPeer = true): void {
    if (this.#state === 'failed' || this.#state === 'closed') return;
    this.#error = error;
    if (tellPeer) {
      try {
        this.link.send(JSON.stringify({ t: 'bye', code: error.code, message: 'the connection could not be verified' }));
      } catch {
        // channel not open: nothing to tell
      }
    }
    this.#setState('failed', error);
    this.#teardown();
  }

  close(): void {
    if (this.#state === 'failed' || this.#state === 'closed') return;
    this.#setState('closed');
    this.#teardown();
  }

  #onClose(reason?: string): void {
    if (this.#state === 'failed' || this.#state === 'closed') return;
    void reason;
    this.#setState('closed');
    this.#teardown();
  }

  #teardown(): void {
    this.#markFailed();
    if (this.#timer) clearTimeout(this.#timer);
    this.#keys = undefined;
    // Let a queued bye leave before the channel goes.
    setTimeout(() => this.link.close(), 50);
  }

  #setState(state: PeerState, error?: ChatError): void {
    this.#state = state;
    this.#events.emit('state', state, error);
  }
}

function asChatError(e: unknown, fallback: ChatError['code']): ChatError {
  if (isChatError(e)) return e;
  return new ChatError(fallback, e instanceof Error ? e.message : String(e), { cause: e });
}
