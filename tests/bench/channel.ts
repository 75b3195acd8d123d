/**
 * channel.throughput, channel.rtt.p50, channel.rtt.p99: our mesh code (SimplePeerLink +
 * PeerSession: signed hello, then AES-256-GCM sealed frames) against a bare
 * RTCPeerConnection data channel, between the same two Chromium pages, in the same run.
 */
import { type BenchPair, openBenchPair, pingPong } from './bench-page.ts';
import { compared, type BenchFigure, log, median, percentile } from './figure.ts';
import { alternate, type GroupContext, withBrowser } from './group.ts';
import type { ChannelKind } from './page/api.ts';

/** File-transfer chunk size on both paths (the design's default until measured otherwise). */
const CHUNK_BYTES = 64 * 1024;
/** Per transfer: long enough (a second or more) that start-up costs vanish, short enough for 2 cores. */
const TRANSFER_BYTES = 32 * 1024 * 1024;
/** One untimed transfer per path first: JIT, SCTP congestion window and AES key setup warm up. */
const WARMUP_BYTES = 4 * 1024 * 1024;
const THROUGHPUT_ROUNDS = 5;
const RTT_ROUNDS = 5;
const PINGS_PER_ROUND = 200;
const WARMUP_PINGS = 20;
/** A transfer slower than 1 MB/s is broken, not slow. */
const TRANSFER_TIMEOUT_MS = 60_000;
const GROUP = 'channel';

/** One timed transfer a → b; payload MB/s, from the sender's first send to the receiver's last byte. */
async function transfer(pair: BenchPair, kind: ChannelKind, bytes: number): Promise<number> {
  await pair.b.evaluate(([k, n]) => window.bench.armReceive(k, n), [kind, bytes] as const);
  const done = pair.b.evaluate(([k, ms]) => window.bench.received(k, ms), [kind, TRANSFER_TIMEOUT_MS] as const);
  const started = await pair.a.evaluate(([k, n, c]) => window.bench.sendBulk(k, n, c), [kind, bytes, CHUNK_BYTES] as const);
  const ended = await done;
  return bytes / 1e6 / ((ended - started) / 1000);
}

async function measureThroughput(pair: BenchPair): Promise<BenchFigure[]> {
  await transfer(pair, 'bare', WARMUP_BYTES);
  await transfer(pair, 'mesh', WARMUP_BYTES);
  const runs = await alternate(THROUGHPUT_ROUNDS, {
    bare: () => transfer(pair, 'bare', TRANSFER_BYTES),
    mesh: () => transfer(pair, 'mesh', TRANSFER_BYTES),
  });
  log(GROUP, `throughput MB/s: mesh ${fmt(runs.mesh)} | bare ${fmt(runs.bare)}`);
  return [compared('channel.throughput', 'MB/s', median(runs.mesh), median(runs.bare), 2)];
}

async function measureRtt(pair: BenchPair): Promise<BenchFigure[]> {
  await pingPong(pair, 'bare', WARMUP_PINGS);
  await pingPong(pair, 'mesh', WARMUP_PINGS);
  const runs = await alternate(RTT_ROUNDS, {
    bare: () => pingPong(pair, 'bare', PINGS_PER_ROUND),
    mesh: () => pingPong(pair, 'mesh', PINGS_PER_ROUND),
  });
  const p = (rounds: number[][], q: number) => median(rounds.map((samples) => percentile(samples, q)));
  log(GROUP, `rtt p50 ms per round: mesh ${fmt(runs.mesh.map((r) => percentile(r, 50)))} | bare ${fmt(runs.bare.map((r) => percentile(r, 50)))}`);
  return [
    compared('channel.rtt.p50', 'ms', p(runs.mesh, 50), p(runs.bare, 50)),
    compared('channel.rtt.p99', 'ms', p(runs.mesh, 99), p(runs.bare, 99)),
  ];
}

function fmt(xs: number[]): string {
  return xs.map((x) => x.toFixed(2)).join(' ');
}

export async function runChannelBench(ctx: GroupContext): Promise<BenchFigure[]> {
  const url = await ctx.benchPageUrl();
  return withBrowser(ctx.signal, async (browser) => {
    const pair = await openBenchPair(browser, url, ['bare', 'mesh']);
    const figures: BenchFigure[] = [];
    try {
      // Each measurement on its own: one failing still leaves the other's figures.
      for (const [what, measure] of [['throughput', measureThroughput], ['rtt', measureRtt]] as const) {
        try {
          figures.push(...(await measure(pair)));
        } catch (e) {
          ctx.signal.throwIfAborted();
          log(GROUP, `${what} failed: ${(e as Error).message}`);
        }
      }
    } finally {
      await pair.close();
    }
    if (figures.length === 0) throw new Error('no channel figure could be measured');
    return figures;
  });
}
