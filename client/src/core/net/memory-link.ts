import type { SignalData } from '../../../../signaling/src/protocol.ts';
import { Emitter } from '../util/emitter.ts';
import type { BulkLane, Lane, PeerLink, PeerLinkEvents } from './peer-link.ts';

/**
 * An in-memory PeerLink pair for tests and simulations: frames are delivered
 * asynchronously in order, `bufferedAmount` models a queue that drains on a timer, and each
 * side has a certificate fingerprint, like a real DTLS connection. `tap` lets a test see,
 * drop or alter every frame in flight (an attacker on the wire). With `bulk`, each end
 * also has a bulk lane whose frames take longer than the main channel's, so frames of the
 * two lanes arrive out of order as on a real connection.
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
  readonly #hasBulk: boolean;
  #bulk: BulkLane | null = null;
  #bulkQueued = 0;
  /**
   * Sees every frame in flight: returns it (maybe altered), null to drop it, or a list of
   * frames to deliver in its place (a duplicate, or frames held back earlier: reordering).
   */
  tap: ((data: string | Uint8Array, lane: Lane) => string | Uint8Array | null | (string | Uint8Array)[]) | null = null;

  constructor(initiator: boolean, fingerprint: string, opts: { bulk?: boolean } = {}) {
    this.initiator = initiator;
    this.localFingerprint = fingerprint;
    this.#hasBulk = opts.bulk ?? false;
  }

  static pair(opts: { bulk?: boolean | [boolean, boolean] } = {}): [MemoryLink, MemoryLink] {
    const [bulkA, bulkB] = Array.isArray(opts.bulk) ? opts.bulk : [opts.bulk ?? false, opts.bulk ?? false];
    const a = new MemoryLink(true, fakeFingerprint(), { bulk: bulkA });
    const b = new MemoryLink(false, fakeFingerprint(), { bulk: bulkB });
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
      for (const end of [this, this.other!]) if (end.#hasBulk) end.#openBulk();
    }, 0);
  }

  #openBulk(): void {
    if (this.#closed) return;
    const self = this;
    this.#bulk = {
      send: (data) => self.#deliver(data, 'bulk'),
      get bufferedAmount() {
        return self.#bulkQueued;
      },
    };
    this.#events.emit('bulk');
  }

  get bulk(): BulkLane | null {
    return this.#bulk;
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
    this.#deliver(data, 'main');
  }

  #deliver(data: string | Uint8Array, lane: Lane): void {
    if (!this.#open || this.#closed) throw new Error('channel not open');
    const size = typeof data === 'string' ? data.length : data.byteLength;
    const bulk = lane === 'bulk';
    if (bulk) this.#bulkQueued += size;
    else this.#queued += size;
    const copy = typeof data === 'string' ? data : data.slice();
    setTimeout(
      () => {
        if (bulk) this.#bulkQueued -= size;
        else this.#queued -= size;
        if ((bulk ? this.#bulkQueued : this.#queued) === 0) this.#events.emit('drain');
        const target = this.other;
        if (!target || target.#closed) return;
        const delivered = this.tap ? this.tap(copy, lane) : copy;
        if (delivered === null) return;
        for (const frame of Array.isArray(delivered) ? delivered : [delivered]) target.#events.emit('frame', frame);
      },
      bulk ? BULK_DELAY_MS : 0,
    );
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

/** Bulk frames take this much longer than main ones, so main frames overtake them. */
const BULK_DELAY_MS = 2;

function fakeFingerprint(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return `sha-256 ${[...bytes].map((b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':')}`;
}
