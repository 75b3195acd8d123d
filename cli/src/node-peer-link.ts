import type { SignalData } from '../../signaling/src/protocol.ts';
import type { BulkLane, PeerLink, PeerLinkEvents, PeerLinkFactory } from '../../client/src/core/net/peer-link.ts';
import { simplePeerFactory } from '../../client/src/core/net/simple-peer-link.ts';
import { Emitter } from '../../client/src/core/util/emitter.ts';

/**
 * WebRTC links for Node: core's simple-peer adapter (which in Node runs on libdatachannel
 * through `webrtc-polyfill`) with two guards libdatachannel needs and browsers do not.
 *
 * 1. Early DTLS. The answerer is the DTLS client (`a=setup:active`). When it learns our
 *    addresses from the offer, its connectivity checks and first DTLS flight can reach us
 *    before its answer does (the answer goes round through the signaling server). Chromium
 *    waits for the answer before checking the peer's certificate; libdatachannel checks at
 *    once, finds no remote fingerprint yet, and fails the handshake ("unknown CA"), so the
 *    link dies and is retried seconds later. Measured: about one link in eight between two
 *    Node peers. As offerer we therefore send the offer without our candidates and release
 *    them once the answer has been applied: the answerer cannot reach us before then.
 *
 * 2. A new offer starts a new connection. When the other side starts over while our
 *    answering link has not opened yet, core passes its new offer to that same link, i.e.
 *    asks for a renegotiation. libdatachannel cannot renegotiate: it throws from native
 *    code (`std::logic_error: Unexpected local description type answer in signaling
 *    state stable`) and the whole process aborts, so anyone able to send signals could
 *    kill the bot. Here the new offer gets a fresh connection behind the same link (the
 *    link never opened, so nothing was bound to the old one; the signed handshake that
 *    follows binds the new one). A link that has opened is closed instead: it is never
 *    renegotiated. A repeated answer is dropped.
 */
export function nodePeerFactory(inner: PeerLinkFactory = simplePeerFactory()): PeerLinkFactory {
  return { create: (opts) => new NodePeerLink(inner, opts) };
}

type LinkOptions = Parameters<PeerLinkFactory['create']>[0];

class NodePeerLink implements PeerLink {
  readonly initiator: boolean;
  readonly #factory: PeerLinkFactory;
  readonly #opts: LinkOptions;
  readonly #events = new Emitter<PeerLinkEvents>();
  #inner: PeerLink;
  #detach: () => void = () => undefined;
  /** Our own candidates, held back until the answer is applied (offerer only). */
  #held: SignalData[] | null;
  #remoteDescriptions = 0;
  #opened = false;
  #closed = false;

  constructor(factory: PeerLinkFactory, opts: LinkOptions) {
    this.#factory = factory;
    this.#opts = opts;
    this.initiator = opts.initiator;
    this.#held = opts.initiator ? [] : null;
    this.#inner = this.#attach(factory.create(opts));
  }

  #attach(inner: PeerLink): PeerLink {
    const offs = [
      inner.on('signal', (data) => this.#outgoing(data)),
      inner.on('open', () => {
        this.#opened = true;
        this.#events.emit('open');
      }),
      inner.on('frame', (data) => this.#events.emit('frame', data)),
      inner.on('close', (reason) => {
        this.#closed = true;
        this.#events.emit('close', reason);
      }),
      inner.on('drain', () => this.#events.emit('drain')),
      inner.on('bulk', () => this.#events.emit('bulk')),
    ];
    this.#detach = () => offs.forEach((off) => off());
    return inner;
  }

  #outgoing(data: SignalData): void {
    if (this.#held === null) return this.#events.emit('signal', data);
    if (data.type === 'offer') {
      const { sdp, candidates } = withoutCandidates(data.sdp);
      this.#held.push(...candidates);
      return this.#events.emit('signal', { type: 'offer', sdp });
    }
    if (data.type === 'candidate') return void this.#held.push(data);
    this.#events.emit('signal', data);
  }

  signal(data: SignalData): void {
    if (this.#closed) return;
    if (data.type === 'offer' || data.type === 'answer') {
      if (++this.#remoteDescriptions > 1) {
        if (data.type === 'answer') return;
        if (this.initiator || this.#opened) return this.close();
        // The other side started over: answer it from a fresh connection.
        this.#detach();
        this.#inner.close();
        this.#inner = this.#attach(this.#factory.create(this.#opts));
      }
    }
    this.#inner.signal(data);
    if (data.type === 'answer' && this.#held !== null) {
      const held = this.#held;
      this.#held = null;
      for (const c of held) this.#events.emit('signal', c);
    }
  }

  send(data: string | Uint8Array): void {
    this.#inner.send(data);
  }
  get bufferedAmount(): number {
    return this.#inner.bufferedAmount;
  }
  get bulk(): BulkLane | null {
    return this.#inner.bulk ?? null;
  }
  get maxMessageSize(): number {
    return this.#inner.maxMessageSize;
  }
  fingerprints(): { local: string; remote: string } | { error: string } {
    return this.#inner.fingerprints();
  }
  stats(): Promise<{ rttMs: number | null; relayed: boolean | null }> {
    return this.#inner.stats();
  }
  on<K extends keyof PeerLinkEvents>(event: K, handler: PeerLinkEvents[K]): () => void {
    return this.#events.on(event, handler);
  }
  close(): void {
    this.#inner.close();
  }
}

/**
 * Splits `a=candidate` lines (and `a=end-of-candidates`, which would tell the other side
 * to expect no more) out of an SDP, as trickle candidates of their media section.
 */
export function withoutCandidates(sdp: string): { sdp: string; candidates: SignalData[] } {
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  const found: { line: string; section: number }[] = [];
  const mids: (string | null)[] = [];
  let section = -1;
  const kept: string[] = [];
  for (const line of sdp.split(eol)) {
    if (line.startsWith('m=')) mids[++section] = null;
    else if (line.startsWith('a=mid:') && section >= 0) mids[section] = line.slice('a=mid:'.length);
    if (line.startsWith('a=candidate:')) found.push({ line: line.slice(2), section: Math.max(section, 0) });
    else if (line !== 'a=end-of-candidates') kept.push(line);
  }
  const candidates: SignalData[] = found.map(({ line, section: i }) => ({
    type: 'candidate',
    candidate: { candidate: line, sdpMLineIndex: i, sdpMid: mids[i] ?? null },
  }));
  return { sdp: kept.join(eol), candidates };
}
