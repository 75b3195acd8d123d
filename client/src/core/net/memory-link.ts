import type { SignalData } from '../../../../signaling/src/protocol.ts';
import { Emitter } from '../util/emitter.ts';
import type { PeerLink, PeerLinkEvents } from './peer-link.ts';

/**
 * An in-memory PeerLink pair for tests and simulations: frames are delivered
 * asynchronously in order, `bufferedAmount` models a queue that drains on a timer, and each
 * side has a certificate fingerprint, like a real DTLS connection. `tap` lets a test see,
 * drop or alter every frame in flight (an attacker on the wire).
 */
export class MemoryLink implements PeerLink {
  readonly initiator: boolean;
  readonly maxMessageSize = 256 * 1024;
  readonly #events = new Emitter<PeerLinkEvents>();
  other: MemoryLink | null = null;
  readonly localFingerprint: string;
  remoteFingerprint = '';
  #queued = 0;
  #open = false;
  #closed = false;
  tap: ((data: string | Uint8Array) => string | Uint8Array | null) | null = null;

  constructor(initiator: boolean, fingerprint: string) {
    this.initiator = initiator;
    this.localFingerprint = fingerprint;
  }

  static pair(): [MemoryLink, MemoryLink] {
    const a = new MemoryLink(true, fakeFingerprint());
    const b = new MemoryLink(false, fakeFingerprint());
    a.other = b;
    b.other = a;
    a.remoteFingerprint = b.localFingerprint;
    b.remoteFingerprint = a.localFingerprint;
    return [a, b];
  }

  /** Opens both ends, as a completed ICE + DTLS exchange would. */
  connect(): void {
    setTimeout(() => {
      for (const end of [this, this.other!]) {
        end.#open = true;
        end.#events.emit('open');
      }
    }, 0);
  }

  /** Where this link's incoming signals go; a simulated network wires it up. */
  onSignal: ((data: SignalData) => void) | null = null;

  signal(data: SignalData): void {
    this.onSignal?.(data);
  }

  /** Emits a signal for the other side, as a real link does during negotiation. */
  announce(data: SignalData): void {
    setTimeout(() => this.#events.emit('signal', data), 0);
  }

  send(data: string | Uint8Array): void {
    if (!this.#open || this.#closed) throw new Error('channel not open');
    const size = typeof data === 'string' ? data.length : data.byteLength;
    this.#queued += size;
    const copy = typeof data === 'string' ? data : data.slice();
    setTimeout(() => {
      this.#queued -= size;
      if (this.#queued === 0) this.#events.emit('drain');
      const target = this.other;
      if (!target || target.#closed) return;
      const delivered = this.tap ? this.tap(copy) : copy;
      if (delivered !== null) target.#events.emit('frame', delivered);
    }, 0);
  }

  get bufferedAmount(): number {
    return this.#queued;
  }

  fingerprints(): { local: string; remote: string } {
    return { local: this.localFingerprint, remote: this.remoteFingerprint };
  }

  async stats(): Promise<{ rttMs: number | null; relayed: boolean | null }> {
    return { rttMs: 0, relayed: false };
  }

  on<K extends keyof PeerLinkEvents>(event: K, handler: PeerLinkEvents[K]): () => void {
    return this.#events.on(event, handler);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#events.emit('close', 'closed');
    const other = this.other;
    if (other && !other.#closed) setTimeout(() => other.close(), 0);
  }
}

function fakeFingerprint(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return `sha-256 ${[...bytes].map((b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':')}`;
}
