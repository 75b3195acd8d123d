// Must come first: Dexie picks up the global indexedDB when it is first imported.
import 'fake-indexeddb/auto';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SignalData } from '../../../signaling/src/protocol.ts';
import { CHUNK_FRAME_OVERHEAD, MIN_CHUNK_BYTES, PREFERRED_CHUNK_BYTES, SEAL_AHEAD } from '../../../client/src/core/files/limits.ts';
import { BUFFER_HIGH_WATER, BUFFER_LOW_WATER } from '../../../client/src/core/net/limits.ts';
import type { MemoryLink } from '../../../client/src/core/net/memory-link.ts';
import type { PeerLink, PeerLinkEvents } from '../../../client/src/core/net/peer-link.ts';
import { readFileBlob } from '../../../client/src/core/store/files.ts';
import { Emitter } from '../../../client/src/core/util/emitter.ts';
import {
  chunkIndexOf,
  freshDb,
  newParty,
  openPair,
  randomBlob,
  sha256Hex,
  teardown,
  transfersFor,
  waitForState,
  waitUntil,
  watchChunkWrites,
  type Party,
} from './helpers.ts';

/**
 * A data channel with a fixed bandwidth: frames wait in a queue that drains `bytesPerTick`
 * per timer tick, bufferedAmount is that queue, and 'drain' fires when it falls to the
 * low-water mark, as RTCDataChannel's bufferedamountlow does.
 */
class SlowLink implements PeerLink {
  readonly initiator: boolean;
  readonly maxMessageSize = 256 * 1024;
  readonly #events = new Emitter<PeerLinkEvents>();
  other: SlowLink | null = null;
  readonly #fp: string;
  #queue: (string | Uint8Array)[] = [];
  #queued = 0;
  #credit = 0;
  #open = false;
  #closed = false;
  #timer: ReturnType<typeof setInterval> | undefined;
  maxBuffered = 0;

  constructor(
    initiator: boolean,
    readonly bytesPerTick: number,
  ) {
    this.initiator = initiator;
    this.#fp = `sha-256 ${Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':')}`;
  }

  static pair(bytesPerTick: number): [SlowLink, SlowLink] {
    const a = new SlowLink(true, bytesPerTick);
    const b = new SlowLink(false, bytesPerTick);
    a.other = b;
    b.other = a;
    return [a, b];
  }

  connect(): void {
    setTimeout(() => {
      for (const end of [this, this.other!]) {
        end.#open = true;
        end.#timer = setInterval(() => end.#pump(), 1);
        end.#events.emit('open');
      }
    }, 0);
  }

  #pump(): void {
    if (this.#queue.length === 0) {
      this.#credit = 0;
      return;
    }
    // Bandwidth as credit: a frame bigger than one tick's worth leaves after several ticks.
    this.#credit += this.bytesPerTick;
    const wasAbove = this.#queued > BUFFER_LOW_WATER;
    while (this.#queue.length > 0) {
      const frame = this.#queue[0]!;
      const size = typeof frame === 'string' ? frame.length : frame.byteLength;
      if (size > this.#credit) break;
      this.#queue.shift();
      this.#credit -= size;
      this.#queued -= size;
      if (this.other && !this.other.#closed) this.other.#events.emit('frame', frame);
    }
    if (wasAbove && this.#queued <= BUFFER_LOW_WATER) this.#events.emit('drain');
  }

  signal(_data: SignalData): void {}

  send(data: string | Uint8Array): void {
    if (!this.#open || this.#closed) throw new Error('channel not open');
    this.#queue.push(typeof data === 'string' ? data : data.slice());
    this.#queued += typeof data === 'string' ? data.length : data.byteLength;
    this.maxBuffered = Math.max(this.maxBuffered, this.#queued);
  }

  get bufferedAmount(): number {
    return this.#queued;
  }

  fingerprints(): { local: string; remote: string } {
    return { local: this.#fp, remote: this.other!.#fp };
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
    clearInterval(this.#timer);
    this.#events.emit('close', 'closed');
    const other = this.other;
    if (other && !other.#closed) setTimeout(() => other.close(), 0);
  }
}

let an: Party;
let binh: Party;
beforeAll(async () => {
  [an, binh] = await Promise.all([newParty('An'), newParty('Binh')]);
});
afterEach(teardown);

describe('a sender faster than the channel', () => {
  it('waits on backpressure: the channel queue stays under its high-water mark plus the chunks being sealed', async () => {
    // At most 32 MB/s (fewer when timer ticks run late), slower than sealing; the receiver
    // keeps up (bytes storage), so the channel, not the acknowledgement window, holds the
    // sender back.
    const [la, lb] = SlowLink.pair(32 * 1024);
    const dbB = freshDb();
    const ta = transfersFor(an, freshDb(), { keepSentCopy: false });
    const tb = transfersFor(binh, dbB, { storeAs: 'bytes' });
    const { sa, sb } = await openPair(an, binh, [la, lb]);
    ta.attach(sa);
    tb.attach(sb);
    // A chat message sent mid-transfer is not held back until the file is done.
    let chatArrivedAt = 0;
    sb.on('message', (m) => {
      if (m.t === 'typing') chatArrivedAt = performance.now();
    });
    let maxPending = 0;
    const sampler = setInterval(() => (maxPending = Math.max(maxPending, la.bufferedAmount)), 1);
    const file = randomBlob(8 * 1024 * 1024, 'big.bin', '');
    const verified = waitForState(tb, ['verified', 'failed'], {}, 60_000);
    const row = await ta.send(file);
    await waitUntil(() => la.bufferedAmount > BUFFER_LOW_WATER, 30_000, 'the channel queue to fill');
    await sa.sendMessage({ t: 'typing', active: true });
    expect((await verified).state).toBe('verified');
    const verifiedAt = performance.now();
    clearInterval(sampler);
    expect(chatArrivedAt).toBeGreaterThan(0);
    expect(chatArrivedAt).toBeLessThan(verifiedAt);
    expect(row.chunkSize).toBe(PREFERRED_CHUNK_BYTES);
    // The queue did fill (the sender really was faster) ...
    expect(la.maxBuffered).toBeGreaterThan(BUFFER_LOW_WATER);
    // ... and never past the mark by more than the chunks handed for sealing before the last check.
    expect(la.maxBuffered).toBeLessThanOrEqual(BUFFER_HIGH_WATER + SEAL_AHEAD * (PREFERRED_CHUNK_BYTES + CHUNK_FRAME_OVERHEAD) + 1024);
    expect(maxPending).toBeLessThanOrEqual(la.maxBuffered);
    expect(await sha256Hex(await readFileBlob(dbB, row.id, 'application/octet-stream'))).toBe(await sha256Hex(file));
  });

  it('to a receiver with a slow disk keeps at most a window of chunks unstored', async () => {
    const chunk = MIN_CHUNK_BYTES;
    const windowChunks = 16;
    const dbB = freshDb();
    let stored = 0;
    watchChunkWrites(dbB, () => stored++, 3);
    const ta = transfersFor(an, freshDb(), { chunkBytes: chunk, windowBytes: windowChunks * chunk });
    const tb = transfersFor(binh, dbB);
    const { sa, sb, la } = await openPair(an, binh);
    ta.attach(sa);
    tb.attach(sb);
    let maxUnstored = 0;
    (la as MemoryLink).tap = (frame) => {
      const i = chunkIndexOf(frame);
      if (i !== null) maxUnstored = Math.max(maxUnstored, i + 1 - stored);
      return frame;
    };
    const verified = waitForState(tb, ['verified', 'failed'], {}, 60_000);
    const row = await ta.send(randomBlob(3 * 1024 * 1024, 'big.bin', ''));
    expect((await verified).state).toBe('verified');
    expect(row.chunkCount).toBe(192);
    expect(maxUnstored).toBeGreaterThan(1);
    // Window plus what was stored but not yet acknowledged (acks go out within 20 ms).
    expect(maxUnstored).toBeLessThanOrEqual(2 * windowChunks);
  });
});
