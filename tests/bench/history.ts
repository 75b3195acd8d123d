/**
 * history.open, history.search, history.purge (issue 6): with 100,000 stored messages, the
 * app's own store code in Chromium's real IndexedDB (tests/bench/history-page): reading
 * the newest 50 messages of a room, searching one word across rooms, and the retention
 * purge of the ~30% older than 7 days, each against a full read of the same table
 * (`toArray()`) in the same page and the same run.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { build } from 'vite';
import { HISTORY_PAGE } from '../../client/src/core/store/limits.ts';
import { foldForSearch } from '../../client/src/core/store/search.ts';
import { NAME_SHIM, serveBenchPage } from './bench-page.ts';
import { compared, type BenchFigure, log, median, round } from './figure.ts';
import { alternate, type GroupContext, withBrowser } from './group.ts';
import type { PopulateSpec, Timed } from './history-page/api.ts';

const GROUP = 'history';
const pageRoot = fileURLToPath(new URL('./history-page', import.meta.url));
/** BENCH_HISTORY_ROWS overrides, for a quick look while working on the store. */
const POPULATION: PopulateSpec = {
  total: Number(process.env.BENCH_HISTORY_ROWS ?? 100_000),
  expiredFraction: 0.3,
  // Large batches, as a restored backup or a long history sync would store them.
  batch: 2_000,
  seed: 6,
};
const ROUNDS = 7;
/** Each after its own population (~20 s on 2 busy cores), as long as the group is under PURGE_REPEAT_BEFORE_MS. */
const PURGE_ROUNDS = 3;
const PURGE_REPEAT_BEFORE_MS = 100_000;
/**
 * One word as typed in the search box. The box sends it trimmed, so the app searches it as
 * a prefix ("nang": Nẵng, nắng, nặng, nàng...), the way search-as-you-type works.
 */
const QUERY = 'Nẵng';
/** The most frequent word of the generated text, and a first letter typed: denser searches, logged only. */
const DENSE_QUERIES = ['em', 'h'];

async function buildPage(outDir: string): Promise<void> {
  // Same build settings as the client (client/vite.config.ts): what we measure is what ships.
  await build({
    root: pageRoot,
    base: './',
    configFile: false,
    logLevel: 'warn',
    build: { outDir, emptyOutDir: true, target: 'es2022', sourcemap: false },
  });
}

async function ready(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.waitForFunction(() => window.historyBench !== undefined);
}

const fmt = (xs: readonly number[]) => xs.map((x) => x.toFixed(1)).join(' ');

export async function runHistoryBench(ctx: GroupContext): Promise<BenchFigure[]> {
  const started = performance.now();
  const dist = await mkdtemp(join(tmpdir(), 'history-bench-'));
  try {
    await buildPage(dist);
    const server = await serveBenchPage(dist);
    try {
      return await withBrowser(ctx.signal, async (browser) => {
        const context = await browser.newContext();
        await context.addInitScript(NAME_SHIM);
        const page = await context.newPage();
        page.on('pageerror', (e) => log(GROUP, `page error: ${e.message}`));
        page.on('console', (m) => {
          if (m.type() === 'error') log(GROUP, `page: ${m.text()}`);
        });
        await ready(page, server.url);
        await page.evaluate(() => window.historyBench.reset());

        const filled = await page.evaluate((spec) => window.historyBench.populate(spec), POPULATION);
        log(GROUP, `stored ${filled.rows} messages (${filled.expired} past 7 days) in ${(filled.ms / 1000).toFixed(1)} s; rooms: ${filled.rooms.map((r) => `${r.name} ${r.rows}`).join(', ')}`);
        if (filled.rows !== POPULATION.total) throw new Error(`stored ${filled.rows} of ${POPULATION.total} messages`);
        const rooms = filled.rooms.map((r) => r.name);

        // A fresh page, as after the app starts: population's garbage and caches stay behind.
        await ready(page, server.url);
        const open = async (): Promise<number> => {
          // Every room once per round: a small direct chat and the busiest room alike.
          const times: number[] = [];
          for (const room of rooms) {
            const r: Timed = await page.evaluate(([key, limit]) => window.historyBench.open(key, limit), [room, HISTORY_PAGE] as const);
            if (r.rows !== HISTORY_PAGE) throw new Error(`room "${room}" opened with ${r.rows} messages, not ${HISTORY_PAGE}`);
            times.push(r.ms);
          }
          return median(times);
        };
        const search = async (query: string): Promise<Timed> => page.evaluate((q) => window.historyBench.search(q), query);
        const scan = async (): Promise<Timed> => page.evaluate(() => window.historyBench.scan());

        // Untimed first pass: JIT, the database open, IndexedDB's first reads.
        const first = { open: await open(), search: await search(QUERY), scan: await scan() };
        log(GROUP, `first (untimed) pass: open ${first.open.toFixed(1)} ms, search ${first.search.ms.toFixed(1)} ms, scan ${first.scan.ms.toFixed(1)} ms`);
        const folded = foldForSearch(QUERY);
        const indexed = await page.evaluate((prefix) => window.historyBench.prefixCount(prefix), folded);
        log(GROUP, `"${QUERY}": ${indexed} index entries under "${folded}", ${first.search.rows} hits shown`);

        const runs = await alternate(ROUNDS, {
          open,
          search: async () => (await search(QUERY)).ms,
          scan: async () => {
            const r = await scan();
            if (r.rows !== POPULATION.total) throw new Error(`full scan read ${r.rows} rows`);
            return r.ms;
          },
        });
        log(GROUP, `per round, ms: open ${fmt(runs.open)}; search ${fmt(runs.search)}; full scan ${fmt(runs.scan)}`);

        // For the record, not figures: RoomSession.history() asks for 200 messages, not 50;
        // the same search for denser words; a full read by cursor, one row per step, the way
        // a filtered Dexie query reads.
        const open200: number[] = [];
        for (const room of rooms) open200.push((await page.evaluate(([key]) => window.historyBench.open(key, 200), [room] as const)).ms);
        log(GROUP, `open with 200 messages: median ${median(open200).toFixed(1)} ms over the ${rooms.length} rooms`);
        for (const query of DENSE_QUERIES) {
          const times = [await search(query), await search(query), await search(query)].map((r) => r.ms);
          const entries = await page.evaluate((q) => window.historyBench.prefixCount(q), query);
          log(GROUP, `search "${query}" (${entries} index entries): ${fmt(times)} ms`);
        }
        const cursor = await page.evaluate(() => window.historyBench.scanCursor());
        log(GROUP, `full scan by cursor: ${cursor.ms.toFixed(1)} ms for ${cursor.rows} rows`);

        const scanMs = median(runs.scan);
        // Last: it changes the table. Each time on a fresh page, as at start-up, where the
        // app purges; repeated on a fresh population while the budget allows.
        const purges: number[] = [];
        let expired = filled.expired;
        for (let round = 0; round < PURGE_ROUNDS; round++) {
          if (round > 0) {
            if (performance.now() - started > PURGE_REPEAT_BEFORE_MS) break;
            await page.evaluate(() => window.historyBench.reset());
            const again = await page.evaluate((spec) => window.historyBench.populate(spec), POPULATION);
            log(GROUP, `re-stored ${again.rows} messages in ${(again.ms / 1000).toFixed(1)} s`);
            expired = again.expired;
          }
          await ready(page, server.url);
          const purged = await page.evaluate(() => window.historyBench.purge());
          log(GROUP, `purge: ${purged.rows} rows deleted in ${purged.ms.toFixed(1)} ms, ${purged.left} left`);
          if (purged.rows < expired) throw new Error(`purge deleted ${purged.rows} rows, ${expired} were expired`);
          purges.push(purged.ms);
        }
        await page.evaluate(() => window.historyBench.reset());

        // Five decimals on the ratio: opening a room is about 1/1000 of a full scan, which
        // compared()'s three would round to 0.
        const figure = (name: string, value: number): BenchFigure => ({ ...compared(name, 'ms', value, scanMs), ratio: round(value / scanMs, 5) });
        return [figure('history.open', median(runs.open)), figure('history.search', median(runs.search)), figure('history.purge', median(purges))];
      });
    } finally {
      await server.close();
    }
  } finally {
    await rm(dist, { recursive: true, force: true });
  }
}
