/**
 * Signaling load bench: N concurrent clients (10,000 by default) on one server process,
 * each connecting over WebSocket, logging in with an Ed25519 signature, joining a room of
 * 2-8 and relaying signals to a room mate; then the server's memory per client is
 * compared with a bare Socket.IO server holding the same number of idle clients, in the
 * same run. Clients live in several worker processes so the client side is not what is
 * measured. Everything is on 127.0.0.1.
 *
 * Figures: signaling.clients, signaling.connect.p50/p99, signaling.join.p50/p99 (join ->
 * roster push), signaling.login.p99, signaling.events_per_s, signaling.rss_per_client
 * (ratio = ours / bare) and signaling.heap_per_client (the same for the live V8 heap after
 * a full collection: RSS also holds allocator and heap slack left by the bench's bursts
 * of activity, which an idle bare server never has, so it is the noisier of the two).
 *
 * Alone: `npx tsx tests/bench/signaling-load.ts` (prints `BENCH {json}` lines).
 * Knobs: SIGNALING_BENCH_CLIENTS (default 10000), SIGNALING_BENCH_WORKERS (default 4).
 * Each process holds up to N sockets, so `ulimit -n` must exceed N (plus a margin) for
 * the server; the bench checks and stops early with a clear message.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { type BenchFigure, formatBenchLine, log, percentile, round } from './figure.ts';
import type { BenchServerReply, BenchServerRequest } from '../load/bench-server.ts';
import type { BenchWorkerReply, BenchWorkerRequest } from '../load/bench-clients.ts';

const GROUP = 'signaling';
const here = fileURLToPath(new URL('.', import.meta.url));
const SERVER_ENTRY = resolve(here, '../load/bench-server.ts');
const WORKER_ENTRY = resolve(here, '../load/bench-clients.ts');
/** Room sizes cycle through 2..8 (5 on average). */
const ROOM_SIZES = [2, 3, 4, 5, 6, 7, 8];
/** Signals each client relays to a room mate. */
const SIGNALS_PER_CLIENT = 4;
/** Requests each worker keeps in flight (connects, logins, joins, signals). */
const CONCURRENCY = 64;
/** The whole bench gives up after this. */
const BENCH_TIMEOUT_MS = 10 * 60_000;

/** Every child of this bench, so a timeout can end them all (which fails whatever waits on them). */
const children = new Set<ChildProcess>();

/** A child process spoken to by request/reply over IPC. */
class Child<Req, Rep extends { type: string }> {
  readonly proc: ChildProcess;
  #waiting: { type: string; resolve: (r: Rep) => void }[] = [];
  readonly exited: Promise<number | null>;

  constructor(entry: string, args: string[], execArgv: string[] = []) {
    this.proc = fork(entry, args, { execArgv: [...execArgv, '--import', 'tsx'], stdio: ['ignore', 2, 2, 'ipc'] });
    this.proc.on('message', (m: Rep) => {
      const i = this.#waiting.findIndex((w) => w.type === m.type);
      if (i >= 0) this.#waiting.splice(i, 1)[0]!.resolve(m);
    });
    children.add(this.proc);
    this.exited = new Promise((done) =>
      this.proc.once('exit', (code) => {
        children.delete(this.proc);
        done(code);
      }),
    );
  }

  next<T extends Rep['type']>(type: T): Promise<Extract<Rep, { type: T }>> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ type, resolve: resolve as (r: Rep) => void });
      void this.exited.then((code) => reject(new Error(`${type}: process exited (${code})`)));
    });
  }

  ask<T extends Rep['type']>(req: Req, type: T): Promise<Extract<Rep, { type: T }>> {
    const answer = this.next(type);
    this.proc.send(req as object);
    return answer;
  }

  kill(): void {
    if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
  }
}

type ServerChild = Child<BenchServerRequest, BenchServerReply>;
type WorkerChild = Child<BenchWorkerRequest, BenchWorkerReply>;

function openFilesLimit(): number {
  try {
    return Number(execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim());
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

async function startServer(mode: 'ours' | 'bare'): Promise<{ server: ServerChild; url: string }> {
  const server: ServerChild = new Child(SERVER_ENTRY, [mode], ['--expose-gc']);
  const ready = await server.next('ready');
  return { server, url: ready.url };
}

function slices(n: number, workers: number): [number, number][] {
  const size = Math.ceil(n / workers);
  return Array.from({ length: workers }, (_, w) => [w * size, Math.min(n, (w + 1) * size)] as [number, number]).filter(([a, b]) => b > a);
}

async function stopAll(server: ServerChild, workers: WorkerChild[]): Promise<void> {
  await Promise.all(workers.map((w) => w.ask({ cmd: 'close' }, 'closed').catch(() => undefined)));
  await server.ask({ cmd: 'stop' }, 'stopped').catch(() => undefined);
  for (const c of [server, ...workers]) c.kill();
}

/** Progress: memory per client so far (RSS and live heap), for finding where it goes. */
async function logMemory(server: ServerChild, phase: string, before: { rss: number; heapUsed: number; heapTotal: number }, clients: number): Promise<void> {
  const m = await server.ask({ cmd: 'measure' }, 'memory');
  const kB = (a: number, b: number) => ((a - b) / clients / 1024).toFixed(1);
  log(GROUP, `  ${phase}, per client: ${kB(m.rss, before.rss)} kB RSS, ${kB(m.heapTotal, before.heapTotal)} kB heap reserved, ${kB(m.heapUsed, before.heapUsed)} kB heap live`);
}

interface PerClient {
  /** Resident memory (what the goal is stated in; includes allocator slack). */
  rss: number;
  /** Live V8 heap after a full collection: the state kept per client, with no slack. */
  heap: number;
}

/** Memory a server needs per client: with the clients held minus before, per client. */
async function memoryPerClient(server: ServerChild, before: { rss: number; heapUsed: number }, clients: number): Promise<PerClient> {
  const after = await server.ask({ cmd: 'measure' }, 'memory');
  return { rss: (after.rss - before.rss) / clients, heap: (after.heapUsed - before.heapUsed) / clients };
}

/** Warm-up: a few hundred connections first, so code loading and JIT are in the baseline of both servers. */
async function warmUp(url: string, auth: boolean): Promise<void> {
  const w: WorkerChild = new Child(WORKER_ENTRY, []);
  await w.ask({ cmd: 'connect', url, from: 1_000_000, to: 1_000_300, concurrency: CONCURRENCY, auth }, 'connected');
  if (auth) await w.ask({ cmd: 'login', concurrency: CONCURRENCY }, 'loggedIn');
  await w.ask({ cmd: 'close' }, 'closed');
  await w.exited;
}

async function barePerClient(n: number, workerCount: number): Promise<PerClient> {
  const { server, url } = await startServer('bare');
  const workers: WorkerChild[] = [];
  try {
    await warmUp(url, false);
    await new Promise((r) => setTimeout(r, 500));
    const beforeMemory = await server.ask({ cmd: 'measure' }, 'memory');
    for (let i = 0; i < workerCount; i++) workers.push(new Child(WORKER_ENTRY, []));
    const t = performance.now();
    const connected = await Promise.all(slices(n, workerCount).map(([from, to], i) => workers[i]!.ask({ cmd: 'connect', url, from, to, concurrency: CONCURRENCY, auth: false }, 'connected')));
    const held = connected.reduce((a, c) => a + c.ms.length, 0);
    log(GROUP, `bare: connected ${held}/${n} in ${((performance.now() - t) / 1000).toFixed(1)} s, p50 ${percentile(connected.flatMap((c) => c.ms), 50).toFixed(0)} ms`);
    await new Promise((r) => setTimeout(r, 1_000));
    const bare = await memoryPerClient(server, beforeMemory, held);
    log(GROUP, `  bare, idle, per client: ${(bare.rss / 1024).toFixed(1)} kB RSS, ${(bare.heap / 1024).toFixed(1)} kB heap live`);
    return bare;
  } finally {
    await stopAll(server, workers);
  }
}

export async function runSignalingBench(): Promise<BenchFigure[]> {
  const n = Number(process.env.SIGNALING_BENCH_CLIENTS ?? 10_000);
  const workerCount = Number(process.env.SIGNALING_BENCH_WORKERS ?? 4);
  const limit = openFilesLimit();
  if (limit < n + 1_000) {
    throw new Error(`signaling bench: ulimit -n is ${limit}; ${n} clients need at least ${n + 1_000} (raise it with \`ulimit -n ${n + 2_000}\`, or set SIGNALING_BENCH_CLIENTS)`);
  }
  const deadline = setTimeout(() => {
    log(GROUP, `giving up after ${BENCH_TIMEOUT_MS / 1000} s`);
    for (const c of children) c.kill('SIGKILL');
  }, BENCH_TIMEOUT_MS);
  deadline.unref();

  log(GROUP, `${n} clients in ${workerCount} worker processes`);
  const bare = await barePerClient(n, workerCount).catch((e: unknown) => {
    clearTimeout(deadline);
    throw e;
  });

  const { server, url } = await startServer('ours');
  const workers: WorkerChild[] = [];
  try {
    await warmUp(url, true);
    await new Promise((r) => setTimeout(r, 1_500)); // let the warm-up's room-list push and leaves settle
    const beforeMemory = await server.ask({ cmd: 'measure' }, 'memory');
    for (let i = 0; i < workerCount; i++) workers.push(new Child(WORKER_ENTRY, []));
    const parts = slices(n, workerCount);

    let t = performance.now();
    const connected = await Promise.all(parts.map(([from, to], i) => workers[i]!.ask({ cmd: 'connect', url, from, to, concurrency: CONCURRENCY, auth: true }, 'connected')));
    const connectMs = connected.flatMap((c) => c.ms);
    const ids: Record<number, string> = Object.assign({}, ...connected.map((c) => c.ids));
    log(GROUP, `connected ${connectMs.length}/${n} in ${((performance.now() - t) / 1000).toFixed(1)} s (${connected.reduce((a, c) => a + c.failed, 0)} failed)`);
    await logMemory(server, 'after connect', beforeMemory, connectMs.length);

    t = performance.now();
    const logins = await Promise.all(workers.map((w) => w.ask({ cmd: 'login', concurrency: CONCURRENCY }, 'loggedIn')));
    const loginMs = logins.flatMap((l) => l.ms);
    log(GROUP, `logged in ${loginMs.length} in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    await logMemory(server, 'after login', beforeMemory, loginMs.length);

    // Rooms of 2..8 over consecutive client indexes.
    const roomOf: Record<number, string> = {};
    const members: number[][] = [];
    for (let i = 0, r = 0; i < n; r++) {
      const size = ROOM_SIZES[r % ROOM_SIZES.length]!;
      const room: number[] = [];
      for (let k = 0; k < size && i < n; k++, i++) {
        roomOf[i] = `bench room ${r}`;
        room.push(i);
      }
      members.push(room);
    }
    t = performance.now();
    const joins = await Promise.all(
      parts.map(([from, to], i) => {
        const rooms: Record<number, string> = {};
        for (let k = from; k < to; k++) rooms[k] = roomOf[k]!;
        return workers[i]!.ask({ cmd: 'join', rooms, concurrency: CONCURRENCY }, 'joined');
      }),
    );
    const joinMs = joins.flatMap((j) => j.ms);
    log(GROUP, `joined ${joinMs.length} into ${members.length} rooms in ${((performance.now() - t) / 1000).toFixed(1)} s (${joins.reduce((a, j) => a + j.failed, 0)} failed)`);
    await logMemory(server, 'after join', beforeMemory, joinMs.length);

    // Each client relays to the next member of its room (a ring), as ICE candidates trickle.
    const eventsBefore = await server.ask({ cmd: 'events' }, 'events');
    const started = Date.now();
    const signaled = await Promise.all(
      parts.map(([from, to], i) => {
        const targets: Record<number, { room: string; to: string }> = {};
        for (const room of members) {
          for (let k = 0; k < room.length; k++) {
            const me = room[k]!;
            if (me < from || me >= to || room.length < 2) continue;
            const peer = ids[room[(k + 1) % room.length]!];
            if (peer) targets[me] = { room: roomOf[me]!, to: peer };
          }
        }
        return workers[i]!.ask({ cmd: 'signal', targets, perClient: SIGNALS_PER_CLIENT, concurrency: CONCURRENCY }, 'signaled');
      }),
    );
    const sent = signaled.reduce((a, s) => a + s.sent, 0);
    // Wait for every relayed signal to arrive (bounded).
    let deliveredAt = Date.now();
    let delivered = 0;
    for (const stop = Date.now() + 60_000; Date.now() < stop; ) {
      const counts = await Promise.all(workers.map((w) => w.ask({ cmd: 'received' }, 'received')));
      delivered = counts.reduce((a, c) => a + c.count, 0);
      deliveredAt = Math.max(...counts.map((c) => c.lastAt));
      if (delivered >= sent) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const eventsAfter = await server.ask({ cmd: 'events' }, 'events');
    const seconds = Math.max(0.001, (deliveredAt - started) / 1000);
    const eventsPerSecond = (eventsAfter.total - eventsBefore.total) / seconds;
    log(GROUP, `relayed ${delivered}/${sent} signals in ${seconds.toFixed(1)} s (${signaled.reduce((a, s) => a + s.failed, 0)} refused)`);

    // Held: everyone still connected, logged in and in a room, and idle for longer than a
    // rate-limit window (a socket's budget record lives only while it is active).
    await new Promise((r) => setTimeout(r, 5_000));
    const holding = await Promise.all(workers.map((w) => w.ask({ cmd: 'received' }, 'received')));
    const held = holding.reduce((a, h) => a + h.connected, 0);
    const ours = await memoryPerClient(server, beforeMemory, held);
    log(GROUP, `  held, per client: ${(ours.rss / 1024).toFixed(1)} kB RSS, ${(ours.heap / 1024).toFixed(1)} kB heap live`);

    return [
      { name: 'signaling.clients', value: held, unit: 'clients' },
      { name: 'signaling.connect.p50', value: round(percentile(connectMs, 50), 1), unit: 'ms' },
      { name: 'signaling.connect.p99', value: round(percentile(connectMs, 99), 1), unit: 'ms' },
      { name: 'signaling.login.p99', value: round(percentile(loginMs, 99), 1), unit: 'ms' },
      { name: 'signaling.join.p50', value: round(percentile(joinMs, 50), 1), unit: 'ms' },
      { name: 'signaling.join.p99', value: round(percentile(joinMs, 99), 1), unit: 'ms' },
      { name: 'signaling.events_per_s', value: Math.round(eventsPerSecond), unit: 'events/s' },
      { name: 'signaling.rss_per_client', value: round(ours.rss / 1024, 2), unit: 'kB', baseline: round(bare.rss / 1024, 2), ratio: round(ours.rss / bare.rss, 3) },
      { name: 'signaling.heap_per_client', value: round(ours.heap / 1024, 2), unit: 'kB', baseline: round(bare.heap / 1024, 2), ratio: round(ours.heap / bare.heap, 3) },
    ];
  } finally {
    await stopAll(server, workers);
    clearTimeout(deadline);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const figures = await runSignalingBench();
  for (const f of figures) console.log(formatBenchLine(f));
}
