/**
 * Node side of the bench page: builds tests/bench/page with Vite's JS API, serves it on
 * 127.0.0.1, and opens two pages (two browser contexts) whose WebRTC signals are relayed
 * through Node, not through the signaling server, so the figures measure the channel alone.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import sirv from 'sirv';
import { build } from 'vite';
import { log } from './figure.ts';
import type { ChannelKind } from './page/api.ts';

const pageRoot = fileURLToPath(new URL('./page', import.meta.url));
const pageDist = fileURLToPath(new URL('./page/dist', import.meta.url));
/** ICE on a private namespace plus the signed hello; seconds in practice, this bounds a hang. */
const OPEN_TIMEOUT_MS = 30_000;

/**
 * tsx compiles with esbuild's keepNames, which wraps named inner functions in `__name(...)`;
 * a function handed to page.evaluate then throws in the page. Defining it there is enough.
 */
export const NAME_SHIM = 'globalThis.__name ??= (fn) => fn';

export async function buildBenchPage(): Promise<void> {
  // Same build settings as the client (client/vite.config.ts): what we measure is what ships.
  await build({
    root: pageRoot,
    base: './',
    configFile: false,
    logLevel: 'warn',
    build: { outDir: pageDist, emptyOutDir: true, target: 'es2022', sourcemap: false },
  });
}

export interface StaticServer {
  url: string;
  close(): Promise<void>;
}

/** The built page on a free port of 127.0.0.1 (a secure context, so WebCrypto works), cross-origin isolated. */
export async function serveBenchPage(dir: string = pageDist): Promise<StaticServer> {
  const serve = sirv(dir, {
    dev: false,
    etag: false,
    // Cross-origin isolation lifts performance.now() from 100 µs to 5 µs resolution,
    // which matters for sub-millisecond round trips.
    setHeaders: (res) => {
      res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
      res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
    },
  });
  const server = createServer((req, res) => serve(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/index.html`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface BenchPair {
  /** Initiator of every connection; the sender in the groups. */
  a: Page;
  b: Page;
  close(): Promise<void>;
}

async function openBenchPage(browser: Browser, url: string, name: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext();
  await context.addInitScript(NAME_SHIM);
  const page = await context.newPage();
  page.on('pageerror', (e) => log('page', `${name}: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') log('page', `${name}: ${m.text()}`);
  });
  return { context, page };
}

/** Relays one direction's signals in the order they were emitted. */
async function relaySignals(from: Page, to: Page): Promise<void> {
  let queue: Promise<void> = Promise.resolve();
  await from.exposeFunction('benchSignalOut', (kind: ChannelKind, json: string) => {
    queue = queue
      .then(() => to.evaluate(([k, j]) => window.bench.signal(k, j), [kind, json] as const))
      .catch((e: unknown) => log('page', `signal relay failed: ${(e as Error).message}`));
    return queue;
  });
}

/**
 * Two pages in two browser contexts with the requested channels open between them.
 * For `mesh`, each page makes an Ed25519 identity and gets the other's public key
 * through Node, so PeerSession checks the real signed hello.
 */
export async function openBenchPair(browser: Browser, url: string, kinds: readonly ChannelKind[]): Promise<BenchPair> {
  const sa = await openBenchPage(browser, url, 'A');
  const sb = await openBenchPage(browser, url, 'B');
  const a = sa.page;
  const b = sb.page;
  await relaySignals(a, b);
  await relaySignals(b, a);
  await Promise.all([a.goto(url), b.goto(url)]);
  await Promise.all([a.waitForFunction(() => window.bench !== undefined), b.waitForFunction(() => window.bench !== undefined)]);
  if (!(await a.evaluate(() => crossOriginIsolated))) log('page', 'not cross-origin isolated: timings have 100 µs resolution');
  for (const kind of kinds) {
    let keys: [string, string] | [] = [];
    if (kind === 'mesh') keys = await Promise.all([a.evaluate(() => window.bench.createIdentity()), b.evaluate(() => window.bench.createIdentity())]);
    const [keyA, keyB] = keys;
    // The answering side exists before the offer leaves, so no signal is dropped.
    await b.evaluate(([k, opts]) => window.bench.open(k, opts), [kind, { initiator: false, me: 'b', peer: 'a', peerKey: keyA }] as const);
    await a.evaluate(([k, opts]) => window.bench.open(k, opts), [kind, { initiator: true, me: 'a', peer: 'b', peerKey: keyB }] as const);
    await Promise.all([
      a.evaluate(([k, ms]) => window.bench.opened(k, ms), [kind, OPEN_TIMEOUT_MS] as const),
      b.evaluate(([k, ms]) => window.bench.opened(k, ms), [kind, OPEN_TIMEOUT_MS] as const),
    ]);
  }
  return {
    a,
    b,
    async close() {
      await Promise.allSettled([a.evaluate(() => window.bench.close()), b.evaluate(() => window.bench.close())]);
      await Promise.allSettled([sa.context.close(), sb.context.close()]);
    },
  };
}

/** `count` sequential ping/pongs from `pair.a`; round trips in ms. */
export function pingPong(pair: BenchPair, kind: ChannelKind, count: number, timeoutMs = 10_000): Promise<number[]> {
  return pair.a.evaluate(([k, n, ms]) => window.bench.pingPong(k, n, ms), [kind, count, timeoutMs] as const);
}
