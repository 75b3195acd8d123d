/**
 * Measures what the chunk size costs, for the choice in client/src/core/files/limits.ts.
 * Not a test (no pass/fail): run with `npx tsx tests/unit/files/measure-chunk-size.ts`.
 * It sends a random file between two PeerSessions over MemoryLink with fake-indexeddb
 * storage (AES-GCM sealing, SHA-256, one IndexedDB transaction per chunk, acks), at each
 * chunk size, alternating sizes across rounds, and prints the median throughput; then the
 * speed of the sender's hashing pass. Browser figures come from `npm run bench`.
 */
import 'fake-indexeddb/auto';
import { hashBlob } from '../../../client/src/core/files/manifest.ts';
import { freshDb, newParty, openPair, randomBlob, teardown, transfersFor, waitForState } from './helpers.ts';

const SIZE = Number(process.env.MEASURE_MB ?? 16) * 1024 * 1024;
const ROUNDS = Number(process.env.MEASURE_ROUNDS ?? 5);
const SIZES_KIB = [16, 64, 128, 192, 240];

async function once(chunkKiB: number, file: File): Promise<number> {
  const [an, binh] = await Promise.all([newParty('An'), newParty('Binh')]);
  const ta = transfersFor(an, freshDb(), { chunkBytes: chunkKiB * 1024, keepSentCopy: false });
  // Bytes, not Blobs: Node's structured clone of a Blob is a slow path browsers do not have.
  const tb = transfersFor(binh, freshDb(), { storeAs: 'bytes' });
  const { sa, sb } = await openPair(an, binh);
  ta.attach(sa);
  tb.attach(sb);
  const verified = waitForState(tb, ['verified', 'failed'], {}, 600_000);
  const start = performance.now();
  await ta.send(file);
  const info = await verified;
  const ms = performance.now() - start;
  if (info.state !== 'verified') throw new Error(`transfer failed: ${info.error?.message}`);
  await teardown();
  return SIZE / 1e6 / (ms / 1000);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const file = randomBlob(SIZE, 'measure.bin', '');
const results = new Map<number, number[]>(SIZES_KIB.map((k) => [k, []]));
await once(64, file); // warm-up: WASM compile, JIT
for (let r = 0; r < ROUNDS; r++) {
  const order = r % 2 === 0 ? SIZES_KIB : [...SIZES_KIB].reverse();
  for (const k of order) results.get(k)!.push(await once(k, file));
}
console.log(`end-to-end (hash pass + offer + seal + store + verify), ${SIZE / 1024 / 1024} MiB, median of ${ROUNDS}:`);
for (const [k, xs] of results) console.log(`  ${String(k).padStart(3)} KiB chunks: ${median(xs).toFixed(1)} MB/s  (${xs.map((x) => x.toFixed(1)).join(', ')})`);

const hashTimes: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const start = performance.now();
  await hashBlob(file, 128 * 1024);
  hashTimes.push(SIZE / 1e6 / ((performance.now() - start) / 1000));
}
console.log(`sender's hashing pass (hash-wasm SHA-256 over Blob slices): ${median(hashTimes).toFixed(0)} MB/s`);
process.exit(0);
