/**
 * `npm run bench` (after `npm run build`): runs every bench group in turn, prints one
 * `BENCH {...}` line per figure on stdout, and writes them all to tests/bench/latest.json.
 * A group that fails or runs over its budget is reported on stderr and the others still
 * run; the exit code is non-zero only when no figure at all was produced.
 *
 * WebRTC needs the private network namespace: `sudo .ci/netns-run npm run bench`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { CHROMIUM } from '../support/browser.ts';
import { buildBenchPage, serveBenchPage, type StaticServer } from './bench-page.ts';
import { type BenchFigure, formatBenchLine, log, round } from './figure.ts';
import type { GroupContext } from './group.ts';

interface Group {
  name: string;
  /** Past this the group is aborted (its browser closed) and the run moves on; keeps the whole bench near 10 minutes on 2 cores. */
  budgetMs: number;
  run(ctx: GroupContext): Promise<BenchFigure[]>;
}

const MINUTE = 60_000;
const latestJson = fileURLToPath(new URL('./latest.json', import.meta.url));
/** Written by another engineer; optional until it lands. */
const signalingLoadModule = new URL('./signaling-load.ts', import.meta.url);

async function signalingGroup(): Promise<Group | undefined> {
  if (!existsSync(signalingLoadModule)) {
    log('run', 'tests/bench/signaling-load.ts not present: signaling figures skipped');
    return undefined;
  }
  return {
    name: 'signaling',
    // What is left of ~10 minutes after the browser groups (about 5 on a busy 2-core machine).
    budgetMs: 4 * MINUTE,
    async run() {
      const mod = (await import(signalingLoadModule.href)) as { runSignalingBench?: () => Promise<BenchFigure[]> };
      if (typeof mod.runSignalingBench !== 'function') throw new Error('signaling-load.ts does not export runSignalingBench()');
      return mod.runSignalingBench();
    },
  };
}

function filesBudgetMs(): number {
  const mb = Number(process.env.BENCH_FILE_MB ?? 128) * Number(process.env.BENCH_FILE_ROUNDS ?? 3);
  return Math.max(6, 2 + (4 * mb) / 384) * MINUTE;
}

async function runGroup(group: Group, benchPageUrl: () => Promise<string>): Promise<BenchFigure[]> {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const overBudget = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new Error(`over its ${group.budgetMs / 1000} s budget`);
      controller.abort(error);
      reject(error);
    }, group.budgetMs);
  });
  const started = performance.now();
  log('run', `${group.name}: start`);
  try {
    const figures = await Promise.race([group.run({ signal: controller.signal, benchPageUrl }), overBudget]);
    for (const f of figures) console.log(formatBenchLine(f));
    log('run', `${group.name}: ${figures.length} figure(s) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return figures;
  } catch (e) {
    log('run', `${group.name}: FAILED: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    return [];
  } finally {
    clearTimeout(timer);
  }
}

function chromiumVersion(): string | null {
  try {
    return execFileSync(CHROMIUM, ['--version'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

async function main(): Promise<number> {
  let pageServer: Promise<StaticServer> | undefined;
  // Built once, on first use, and shared by the groups that compare against a bare channel.
  const benchPageUrl = async () => {
    pageServer ??= buildBenchPage().then(() => serveBenchPage());
    return (await pageServer).url;
  };

  const groups: Group[] = [
    // Imported when their turn comes: a module that fails to load (say, the signaling
    // server mid-edit) then fails its own group only.
    { name: 'bundle', budgetMs: MINUTE, run: async () => (await import('./bundle.ts')).runBundleBench() },
    { name: 'channel', budgetMs: 3 * MINUTE, run: async (ctx) => (await import('./channel.ts')).runChannelBench(ctx) },
    { name: 'chat', budgetMs: 6 * MINUTE, run: async (ctx) => (await import('./chat-latency.ts')).runChatLatencyBench(ctx) },
    // Longer when asked for more than the default 3 rounds of 128 MiB (BENCH_FILE_MB, BENCH_FILE_ROUNDS).
    { name: 'files', budgetMs: filesBudgetMs(), run: async (ctx) => (await import('./files.ts')).runFilesBench(ctx) },
    { name: 'room-fanout', budgetMs: 2 * MINUTE, run: async () => (await import('./room-fanout.ts')).runRoomFanoutBench() },
    { name: 'history', budgetMs: 3 * MINUTE, run: async (ctx) => (await import('./history.ts')).runHistoryBench(ctx) },
  ];
  const signaling = await signalingGroup();
  if (signaling) groups.push(signaling);
  // BENCH_GROUPS=channel,chat runs only those (for working on one group); default all.
  const only = process.env.BENCH_GROUPS?.split(',').map((s) => s.trim()).filter(Boolean);
  const selected = only?.length ? groups.filter((g) => only.includes(g.name)) : groups;

  // Other work on the machine skews every figure; say so rather than let it pass unseen.
  const loadBefore = loadavg()[0]!;
  if (loadBefore > availableParallelism() / 2) log('run', `machine is busy (1-min load ${loadBefore.toFixed(1)} on ${availableParallelism()} cores): figures will be skewed`);
  const figures: BenchFigure[] = [];
  try {
    for (const group of selected) figures.push(...(await runGroup(group, benchPageUrl)));
  } finally {
    await pageServer?.then((s) => s.close()).catch(() => undefined);
  }

  if (figures.length === 0) {
    log('run', 'no figure was produced; latest.json left as it was');
    return 1;
  }
  const record = {
    date: new Date().toISOString(),
    nproc: availableParallelism(),
    cpu: cpus()[0]?.model ?? null,
    /** 1-minute load average before and after: a busy machine makes every figure worse. */
    load: { before: round(loadBefore, 2), after: round(loadavg()[0]!, 2) },
    node: process.version,
    chromium: chromiumVersion(),
    figures,
  };
  await writeFile(latestJson, `${JSON.stringify(record, null, 2)}\n`);
  log('run', `${figures.length} figure(s) written to tests/bench/latest.json`);
  return 0;
}

// Exit explicitly: a group aborted over budget may leave handles (a browser, a server) behind.
main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    log('run', `crashed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(1);
  },
);
