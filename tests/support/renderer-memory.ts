/**
 * Renderer memory from /proc, for tests and benches that check a tab's memory stays flat
 * while it moves a large file: RSS, not only the JS heap, since Blobs live outside it.
 * Linux only, like the rest of the browser tests.
 */
import { readdir, readFile } from 'node:fs/promises';
import type { Page } from 'playwright-core';

/** How often sampleMemory reads RSS. */
const SAMPLE_MS = 250;

async function readStatus(pid: number): Promise<{ ppid: number; rssKiB: number } | null> {
  try {
    const text = await readFile(`/proc/${pid}/status`, 'utf8');
    const ppid = Number(/^PPid:\s+(\d+)/m.exec(text)?.[1] ?? -1);
    const rssKiB = Number(/^VmRSS:\s+(\d+)/m.exec(text)?.[1] ?? 0);
    return { ppid, rssKiB };
  } catch {
    return null;
  }
}

/** Every process below this Node process (our Chromium and its children), with its command line. */
export async function ourProcesses(): Promise<{ pid: number; cmd: string }[]> {
  const parents = new Map<number, number>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const s = await readStatus(Number(entry));
    if (s) parents.set(Number(entry), s.ppid);
  }
  const mine = new Set([process.pid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, ppid] of parents) {
      if (!mine.has(pid) && mine.has(ppid)) {
        mine.add(pid);
        grew = true;
      }
    }
  }
  mine.delete(process.pid);
  const out: { pid: number; cmd: string }[] = [];
  for (const pid of mine) {
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    out.push({ pid, cmd: cmd.replaceAll('\0', ' ') });
  }
  return out;
}

export const rssMiB = async (pid: number) => ((await readStatus(pid))?.rssKiB ?? 0) / 1024;

/**
 * The renderer process of `page`: among our Chromium's renderers, the one whose RSS grows
 * when the page fills a 96 MiB buffer. The buffer is then dropped and a GC forced.
 */
export async function findRenderer(page: Page): Promise<number> {
  const renderers = (await ourProcesses()).filter((p) => p.cmd.includes('--type=renderer')).map((p) => p.pid);
  const before = await Promise.all(renderers.map(rssMiB));
  await page.evaluate(() => {
    (window as unknown as { __fileBenchBallast?: Uint8Array }).__fileBenchBallast = new Uint8Array(96 * 1024 * 1024).fill(7);
  });
  const after = await Promise.all(renderers.map(rssMiB));
  await page.evaluate(() => delete (window as unknown as { __fileBenchBallast?: Uint8Array }).__fileBenchBallast);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('HeapProfiler.collectGarbage').catch(() => undefined);
  await cdp.detach().catch(() => undefined);
  let best = -1;
  let bestGrowth = 0;
  renderers.forEach((pid, i) => {
    const growth = after[i]! - before[i]!;
    if (growth > bestGrowth) [best, bestGrowth] = [pid, growth];
  });
  if (best < 0 || bestGrowth < 64) throw new Error(`the page's renderer not found (${renderers.length} renderers, best growth ${bestGrowth.toFixed(0)} MiB)`);
  return best;
}

/** Samples RSS (MiB) of `pid` and of all our Chromium processes every SAMPLE_MS until stopped. */
export function sampleMemory(pid: number, all: number[]): { stop(): Promise<{ base: number; peak: number; allBase: number; allPeak: number }> } {
  let base = -1;
  let peak = 0;
  let allBase = -1;
  let allPeak = 0;
  let running = true;
  const tick = async () => {
    const rss = await rssMiB(pid);
    const total = (await Promise.all(all.map(rssMiB))).reduce((s, x) => s + x, 0);
    if (base < 0) [base, allBase] = [rss, total];
    peak = Math.max(peak, rss);
    allPeak = Math.max(allPeak, total);
  };
  const first = tick();
  const loop = (async () => {
    await first;
    while (running) {
      await new Promise((r) => setTimeout(r, SAMPLE_MS));
      await tick();
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { base, peak, allBase, allPeak };
    },
  };
}
