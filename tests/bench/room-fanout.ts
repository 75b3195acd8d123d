/**
 * room.fanout: how long a group message takes to reach every member of a 16-member room
 * of headless peers (cli/), p95, with `ratio` to the same measurement in a 2-member room.
 *
 * All peers run in this one process over real WebRTC (libdatachannel) and the real
 * signaling server, each with its own home folder on disk, so the figure includes what a
 * member does per message: signing, one encryption per recipient, the outbox and history
 * writes, decryption, signature check, storage and receipt on every receiver. On 2 cores
 * the 15 receivers compete for the same CPU as the sender: the ratio is the cost of the
 * full mesh, not network latency.
 *
 * Both rooms exist at once and rounds alternate between them, so drift in the machine's
 * load falls on both alike. Alone: `sudo .ci/netns-run npx tsx tests/bench/room-fanout.ts`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HeadlessPeer } from '../../cli/src/headless-peer.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { compared, formatBenchLine, log, median, percentile, type BenchFigure } from './figure.ts';
import { alternate } from './group.ts';

const LARGE_ROOM = 16;
const SMALL_ROOM = 2;
/** Rounds per room after warm-up; p95 over 150 samples is the 8th slowest. */
const ROUNDS = 150;
const WARMUP_ROUNDS = 5;
/** Building a 16-member full mesh (120 connections) takes a few seconds; this is the give-up point. */
const MESH_TIMEOUT_MS = 90_000;
/** A round that does not complete in this time means the room broke, not that it is slow. */
const ROUND_TIMEOUT_MS = 30_000;

interface Room {
  name: string;
  peers: HeadlessPeer[];
  /** Resolvers waiting for a body, per receiving peer. */
  waiting: Map<string, Set<(at: number) => void>>;
}

async function openRoom(server: TestServer, name: string, size: number, cleanup: { homes: string[]; rooms: Room[] }): Promise<Room> {
  const room: Room = { name, peers: [], waiting: new Map() };
  cleanup.rooms.push(room);
  // One after another: joins racing each other can leave members unaware of each other
  // (see cli/README.md); the bench measures messages, not that race.
  for (let i = 0; i < size; i++) {
    const home = await mkdtemp(join(tmpdir(), 'bench-fanout-'));
    cleanup.homes.push(home);
    const peer = await HeadlessPeer.open({
      server: server.url,
      user: `${name}-${i + 1}`,
      room: name,
      home,
      onRoom: (session) =>
        session.on('message', (m, incoming) => {
          if (!incoming) return;
          const at = performance.now();
          for (const resolve of room.waiting.get(m.body) ?? []) resolve(at);
        }),
    });
    room.peers.push(peer);
  }
  const started = performance.now();
  while (!room.peers.every((p) => p.room.members.filter((m) => m.online).length === size - 1 && p.allConnected)) {
    if (performance.now() - started > MESH_TIMEOUT_MS) throw new Error(`${name}: the ${size}-member mesh did not form`);
    await new Promise((r) => setTimeout(r, 20));
  }
  log('room.fanout', `${name}: ${size} members, full mesh ${((size * (size - 1)) / 2).toFixed(0)} connections in ${(performance.now() - started).toFixed(0)} ms after the last join`);
  return room;
}

let sequence = 0;

/** One group message from the next sender; ms until the last member received it. */
async function fanoutOnce(room: Room): Promise<number> {
  const n = ++sequence;
  const sender = room.peers[n % room.peers.length]!;
  const body = `fanout probe ${n} from ${sender.username}`;
  const receivers = room.peers.length - 1;
  let pending = receivers;
  let last = 0;
  const arrived = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${room.name}: round ${n} incomplete (${receivers - pending} of ${receivers})`)), ROUND_TIMEOUT_MS);
    room.waiting.set(
      body,
      new Set([
        (at: number) => {
          last = Math.max(last, at);
          if (--pending === 0) {
            clearTimeout(timer);
            resolve();
          }
        },
      ]),
    );
  });
  const expected = sender.deliveries.expectedFor();
  const t0 = performance.now();
  const message = await sender.send(body);
  await arrived;
  room.waiting.delete(body);
  // Let the receipts come back before the next round, so rounds do not overlap.
  const report = await sender.deliveries.wait(message, expected, ROUND_TIMEOUT_MS);
  if (report.missing.length > 0) throw new Error(`${room.name}: round ${n} not confirmed by ${report.missing.map((m) => m.username).join(', ')}`);
  return last - t0;
}

export async function runRoomFanoutBench(): Promise<BenchFigure[]> {
  const server = await startTestServer();
  const homes: string[] = [];
  const rooms: Room[] = [];
  try {
    const large = await openRoom(server, 'fanout16', LARGE_ROOM, { homes, rooms });
    const small = await openRoom(server, 'fanout2', SMALL_ROOM, { homes, rooms });
    await alternate(WARMUP_ROUNDS, { large: () => fanoutOnce(large), small: () => fanoutOnce(small) });
    const samples = await alternate(ROUNDS, { large: () => fanoutOnce(large), small: () => fanoutOnce(small) });
    const p95Large = percentile(samples.large, 95);
    const p95Small = percentile(samples.small, 95);
    log('room.fanout', `16 members: median ${median(samples.large).toFixed(1)} ms, p95 ${p95Large.toFixed(1)} ms; 2 members: median ${median(samples.small).toFixed(1)} ms, p95 ${p95Small.toFixed(1)} ms`);
    return [compared('room.fanout', 'ms', p95Large, p95Small, 2)];
  } finally {
    for (const room of rooms) for (const p of room.peers) await p.close().catch(() => undefined);
    await server.stop();
    for (const home of homes) await rm(home, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  runRoomFanoutBench().then(
    (figures) => {
      for (const f of figures) console.log(formatBenchLine(f));
      process.exit(0);
    },
    (e: unknown) => {
      console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
      process.exit(1);
    },
  );
}
