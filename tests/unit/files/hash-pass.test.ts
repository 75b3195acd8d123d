import { afterEach, describe, expect, it, vi } from 'vitest';
import { concatBytes, toHex } from '../../../client/src/core/crypto/bytes.ts';
import { ChatError, ErrorCode } from '../../../client/src/core/errors.ts';
import { HashPass, STREAM_START_GRACE_MS, STREAM_STALL_MS, type OwnCopyStore } from '../../../client/src/core/files/hash-pass.ts';
import { MIN_CHUNK_BYTES } from '../../../client/src/core/files/limits.ts';
import { HASH_READ_BYTES } from '../../../client/src/core/files/manifest.ts';

const CHUNK = MIN_CHUNK_BYTES;
/** Chunks per read of a stream in these tests (the app reads SEND_READ_BYTES). */
const STREAM_READ_CHUNKS = 5;

function randomBytes(size: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(bytes.subarray(i, i + 65536));
  return bytes;
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  return toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)));
}

/** A file whose reads are counted, so a test can tell who read it. */
function countedFile(bytes: Uint8Array<ArrayBuffer>): { file: Blob; reads: () => number } {
  const file = new Blob([bytes]);
  const slice = vi.spyOn(file, 'slice');
  return { file, reads: () => slice.mock.calls.length };
}

/**
 * A store keeping our copy like the origin-private one: it takes the bytes it is given
 * and moves (detaches) those that span their whole buffer, as postMessage with a
 * transfer list does.
 */
function recordingStore(): OwnCopyStore & { stored: Map<number, Uint8Array>; writes: number[] } {
  const stored = new Map<number, Uint8Array>();
  const writes: number[] = [];
  return {
    ownCopyFrom: 'bytes',
    stored,
    writes,
    async putChunks(_id, chunks) {
      writes.push(chunks.length);
      for (const { index, data } of chunks) {
        if (!(data instanceof Uint8Array)) throw new Error('expected bytes');
        if (stored.has(index)) throw new Error(`chunk ${index} stored twice`);
        const whole = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength;
        stored.set(index, whole ? structuredClone(data, { transfer: [data.buffer as ArrayBuffer] }) : data.slice());
      }
      // A write takes a turn of the event loop (not a timer: some tests fake those).
      await new Promise((r) => setImmediate(r));
      return chunks.length;
    },
  };
}

/** What a sender's stream does: reads the file a few chunks at a time, from `from`, through its tap. */
async function stream(pass: HashPass, file: Blob, from: number, opts: { upTo?: number } = {}): Promise<Uint8Array[]> {
  const tap = pass.open(from);
  const sent: Uint8Array[] = [];
  const count = Math.max(1, Math.ceil(file.size / CHUNK));
  try {
    for (let first = from; first < Math.min(count, opts.upTo ?? count); first += STREAM_READ_CHUNKS) {
      const block = new Uint8Array(await file.slice(first * CHUNK, (first + STREAM_READ_CHUNKS) * CHUNK).arrayBuffer());
      await tap?.read(first, block);
      // Still ours after the pass had it: the stream goes on to seal and send these bytes.
      sent.push(block.slice());
    }
  } finally {
    tap?.close();
  }
  return sent;
}

/** Our copy, chunk by chunk in index order, as its SHA-256 (comparing megabytes with toEqual takes seconds). */
function storedHash(store: { stored: Map<number, Uint8Array> }): Promise<string> {
  return sha256(concatBytes(...[...store.stored.entries()].sort(([a], [b]) => a - b).map(([, bytes]) => bytes)));
}

afterEach(() => {
  vi.useRealTimers();
});

describe('the sender’s hash pass', () => {
  it('hashes and copies a file by reading it when no stream reads it', async () => {
    // Several of its own reads, the last one partial, and a short final chunk.
    const bytes = randomBytes(2 * HASH_READ_BYTES + 3 * CHUNK + 123);
    const store = recordingStore();
    const pass = await HashPass.create(new Blob([bytes]), CHUNK, { store, id: 'f' });
    expect(await pass.run(false)).toBe(await sha256(bytes));
    expect([...store.stored.keys()]).toEqual(Array.from({ length: Math.ceil(bytes.length / CHUNK) }, (_, i) => i));
    expect(await storedHash(store)).toBe(await sha256(bytes));
  });

  it('hashes and copies from the reads of the stream sending the file, without reading it again', async () => {
    const bytes = randomBytes(23 * CHUNK + 77);
    const { file, reads } = countedFile(bytes);
    const store = recordingStore();
    const pass = await HashPass.create(file, CHUNK, { store, id: 'f' });
    const hashed = pass.run(true);
    const sent = await stream(pass, file, 0);
    expect(await hashed).toBe(await sha256(bytes));
    // Every read was the stream's: 5 chunks at a time.
    expect(reads()).toBe(Math.ceil(24 / STREAM_READ_CHUNKS));
    expect(await storedHash(store)).toBe(await sha256(bytes));
    expect(await sha256(concatBytes(...sent))).toBe(await sha256(bytes));
  });

  it('leaves the stream its bytes when a one-chunk file’s copy is moved away', async () => {
    const bytes = randomBytes(CHUNK - 5);
    const store = recordingStore();
    const file = new Blob([bytes]);
    const pass = await HashPass.create(file, CHUNK, { store, id: 'f' });
    const hashed = pass.run(true);
    const sent = await stream(pass, file, 0);
    expect(await hashed).toBe(await sha256(bytes));
    expect(sent).toEqual([bytes]);
    expect(store.stored.get(0)).toEqual(bytes);
  });

  it('hashes an empty file as one empty chunk', async () => {
    const store = recordingStore();
    const pass = await HashPass.create(new Blob([]), CHUNK, { store, id: 'f' });
    expect(await pass.run(false)).toBe(await sha256(new Uint8Array(0)));
    expect(store.stored.get(0)?.byteLength).toBe(0);
    expect(store.stored.size).toBe(1);
  });

  it('reads the file itself when the expected stream does not start', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const bytes = randomBytes(9 * CHUNK);
    const pass = await HashPass.create(new Blob([bytes]), CHUNK);
    let digest: string | undefined;
    const hashed = pass.run(true).then((d) => (digest = d));
    await vi.advanceTimersByTimeAsync(STREAM_START_GRACE_MS - 10);
    expect(digest).toBeUndefined();
    await vi.advanceTimersByTimeAsync(20);
    await hashed;
    expect(digest).toBe(await sha256(bytes));
  });

  it('reads on by itself past a stalled stream, and takes nothing twice when the stream comes back', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const bytes = randomBytes(40 * CHUNK + 9);
    const { file, reads } = countedFile(bytes);
    const store = recordingStore();
    const pass = await HashPass.create(file, CHUNK, { store, id: 'f' });
    let digest: string | undefined;
    const hashed = pass.run(true).then((d) => (digest = d));
    // The stream sends its first ten chunks, then its recipient stops taking any.
    const tap = pass.open(0)!;
    for (const first of [0, 5]) await tap.read(first, new Uint8Array(await file.slice(first * CHUNK, (first + 5) * CHUNK).arrayBuffer()));
    await vi.advanceTimersByTimeAsync(STREAM_STALL_MS - 100);
    expect(digest).toBeUndefined();
    expect(reads()).toBe(2);
    await vi.advanceTimersByTimeAsync(200);
    await hashed;
    expect(digest).toBe(await sha256(bytes));
    // The stream goes on; what it reads now was hashed and copied already.
    await tap.read(10, new Uint8Array(await file.slice(10 * CHUNK, 15 * CHUNK).arrayBuffer()));
    tap.close();
    expect(await storedHash(store)).toBe(await sha256(bytes));
  });

  it('rides on whichever stream is ahead when several recipients read at once', async () => {
    const bytes = randomBytes(31 * CHUNK);
    const { file, reads } = countedFile(bytes);
    const store = recordingStore();
    const pass = await HashPass.create(file, CHUNK, { store, id: 'f' });
    const hashed = pass.run(true);
    const [a, b] = await Promise.all([stream(pass, file, 0), stream(pass, file, 0, { upTo: 12 })]);
    expect(await hashed).toBe(await sha256(bytes));
    expect(await sha256(concatBytes(...a))).toBe(await sha256(bytes));
    expect(await sha256(concatBytes(...b))).toBe(await sha256(bytes.slice(0, 15 * CHUNK)));
    expect(reads()).toBe(7 + 3);
    expect(await storedHash(store)).toBe(await sha256(bytes));
  });

  it('gives no tap to a stream that starts past the hash', async () => {
    const pass = await HashPass.create(new Blob([randomBytes(10 * CHUNK)]), CHUNK);
    expect(pass.open(3)).toBeNull();
    const tap = pass.open(0);
    expect(tap).not.toBeNull();
    tap!.close();
  });

  it('stops with the reason given (the file was cancelled), and fails with our copy’s write error', async () => {
    const bytes = randomBytes(12 * CHUNK);
    const file = new Blob([bytes]);
    const stopped = await HashPass.create(file, CHUNK);
    const tap = stopped.open(0)!;
    const run = stopped.run(true);
    stopped.stop(new ChatError(ErrorCode.FileCancelled, 'You cancelled this file.'));
    await expect(run).rejects.toMatchObject({ code: ErrorCode.FileCancelled });
    tap.close();
    expect(stopped.open(0)).toBeNull();

    const full: OwnCopyStore = {
      ownCopyFrom: 'bytes',
      putChunks: () => Promise.reject(new ChatError(ErrorCode.Quota, 'No room left on this device.')),
    };
    const failing = await HashPass.create(new Blob([randomBytes(80 * CHUNK)]), CHUNK, { store: full, id: 'f' });
    await expect(failing.run(false)).rejects.toMatchObject({ code: ErrorCode.Quota });
  });
});
