import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sirv from 'sirv';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../support/browser.ts';

/**
 * The origin-private file store (client/src/core/store/opfs-files.ts) in real Chromium:
 * its worker, synchronous access handles and IndexedDB rows, driven through a small page
 * (tests/e2e/pages/opfs-store) built with the client's Vite settings. The file e2e tests
 * cover the happy path through the app; this covers the store's own promises.
 */
describe('origin-private file store', () => {
  let dist: string;
  let server: Server;
  let browser: Browser;
  let page: Page;
  const chunk = (value: number, length: number) => Array.from({ length }, (_, i) => (value + i) % 256);

  beforeAll(async () => {
    dist = await mkdtemp(join(tmpdir(), 'opfs-store-page-'));
    await build({
      root: fileURLToPath(new URL('./pages/opfs-store', import.meta.url)),
      base: './',
      configFile: false,
      logLevel: 'warn',
      build: { outDir: dist, emptyOutDir: true, target: 'es2022' },
    });
    const serve = sirv(dist, { dev: false, etag: false });
    server = createServer((req, res) => serve(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    browser = await launchChromium();
    page = await (await browser.newContext()).newPage();
    page.on('pageerror', (e) => console.error('[opfs-store page]', e.message));
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/index.html`);
    await page.waitForFunction(() => 'opfsStore' in window);
    expect(await page.evaluate(() => window.opfsStore.open())).toBe(true);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    if (dist) await rm(dist, { recursive: true, force: true });
  });

  it('keeps the chunks in order in one file, refuses gaps and wrong sizes, and reads the file back lazily', async () => {
    const id = 'storeFileA123';
    expect(await page.evaluate(([i]) => window.opfsStore.add(i, 14, 4), [id] as const)).toBe(true);
    const put = (chunks: { index: number; data: number[] }[]) => page.evaluate(([i, c]) => window.opfsStore.put(i, c), [id, chunks] as const);

    expect(await put([{ index: 0, data: chunk(0, 4) }, { index: 1, data: chunk(4, 4) }])).toEqual({ ok: true, value: 2 });
    // Chunk 3 would leave chunk 2 missing; a short middle chunk would leave a hole.
    expect(await put([{ index: 2 + 1, data: chunk(12, 2) }])).toMatchObject({ ok: false, code: 'ERR_FILE_ORDER' });
    expect(await put([{ index: 2, data: chunk(8, 3) }])).toMatchObject({ ok: false, code: 'ERR_FILE_SIZE' });
    expect(await put([{ index: 9, data: chunk(8, 4) }])).toMatchObject({ ok: false, code: 'ERR_FILE_ORDER' });
    // A chunk stored again is not counted twice.
    expect(await put([{ index: 1, data: chunk(4, 4) }, { index: 2, data: chunk(8, 4) }])).toEqual({ ok: true, value: 3 });
    expect(await page.evaluate(([i]) => window.opfsStore.last(i), [id] as const)).toBe(2);

    // Not complete yet: the whole file cannot be read.
    expect(await page.evaluate(([i]) => window.opfsStore.readBlob(i), [id] as const)).toMatchObject({ ok: false, code: 'ERR_FILE_ORDER' });
    expect(await put([{ index: 2 + 1, data: chunk(12, 2) }])).toEqual({ ok: true, value: 4 });
    expect(await page.evaluate(([i]) => window.opfsStore.read(i, 1, 3), [id] as const)).toEqual([chunk(4, 4), chunk(8, 4), chunk(12, 2)]);

    expect(await page.evaluate(([i]) => window.opfsStore.setState(i, 'verified'), [id] as const)).toBe(true);
    // Finished: no more chunks, and the file reads back whole with the type asked for.
    expect(await put([{ index: 0, data: chunk(0, 4) }])).toMatchObject({ ok: false, code: 'ERR_FILE_ORDER' });
    expect(await page.evaluate(([i]) => window.opfsStore.readBlob(i), [id] as const)).toEqual({ ok: true, value: { type: 'image/png', bytes: chunk(0, 14) } });
    expect((await page.evaluate(() => window.opfsStore.onDisk()))[id]).toBe(14);
  });

  it('counts stored chunks in the row every few MiB, each second and at the end; a reload resumes from that count', async () => {
    const id = 'storeSparse123';
    const MiB = 1024 * 1024;
    expect(await page.evaluate(([i, n]) => window.opfsStore.add(i, 16 * n, n), [id, MiB] as const)).toBe(true);
    const putFilled = (from: number, to: number) => page.evaluate(([i, f, t, n]) => window.opfsStore.putFilled(i, f, t, n), [id, from, to, MiB] as const);
    const counted = async () => (await page.evaluate(([i]) => window.opfsStore.row(i), [id] as const))?.receivedChunks;

    // Five MiB written: the page knows, the row does not yet.
    expect(await putFilled(0, 4)).toEqual({ ok: true, value: 5 });
    expect(await page.evaluate(([i]) => window.opfsStore.count(i), [id] as const)).toBe(5);
    expect(await counted()).toBe(0);
    // A second later, the next write counts everything so far.
    await page.evaluate(() => window.opfsStore.advanceMs(1_000));
    expect(await putFilled(5, 5)).toEqual({ ok: true, value: 6 });
    expect(await counted()).toBe(6);
    // Then again once 8 MiB more are written.
    expect(await putFilled(6, 12)).toEqual({ ok: true, value: 13 });
    expect(await counted()).toBe(6);
    expect(await putFilled(13, 13)).toEqual({ ok: true, value: 14 });
    expect(await counted()).toBe(14);
    expect(await putFilled(14, 14)).toEqual({ ok: true, value: 15 });

    // Reloaded: chunk 14 was written but never counted, so it is asked for again.
    await page.evaluate(() => window.opfsStore.reopen());
    expect(await page.evaluate(([i]) => window.opfsStore.last(i), [id] as const)).toBe(13);
    expect(await putFilled(14, 15)).toEqual({ ok: true, value: 16 });
    // Complete: counted at once, whatever the time or size.
    expect(await counted()).toBe(16);
    expect(await page.evaluate(([i]) => window.opfsStore.setState(i, 'verified'), [id] as const)).toBe(true);
    expect(await page.evaluate(([i, n]) => window.opfsStore.filledRight(i, n), [id, MiB] as const)).toBe(true);
  });

  it("a file being sent is stored from views into the sender's read blocks, each chunk's bytes only", async () => {
    const id = 'storeSent123';
    const chunkSize = 128 * 1024;
    const size = 9 * 1024 * 1024 + 5; // several blocks, not a whole number of chunks
    await page.evaluate(([i, s, c]) => window.opfsStore.add(i, s, c, 'sending'), [id, size, chunkSize] as const);
    expect(await page.evaluate(([i, s, c]) => window.opfsStore.putAsViews(i, s, c, 32), [id, size, chunkSize] as const)).toEqual({ ok: true, value: Math.ceil(size / chunkSize) });
    expect(await page.evaluate(([i]) => window.opfsStore.setState(i, 'verified'), [id] as const)).toBe(true);
    const back = await page.evaluate(async ([i]) => {
      const got = await window.opfsStore.readBlob(i);
      return got.ok ? { length: got.value.bytes.length, wrong: got.value.bytes.findIndex((b, k) => b !== (k * 7) % 256) } : got;
    }, [id] as const);
    expect(back).toEqual({ length: size, wrong: -1 });
    expect((await page.evaluate(() => window.opfsStore.onDisk()))[id]).toBe(size);
  });

  it('a discarded file loses its bytes at once and its row says why', async () => {
    const id = 'storeFileB123';
    await page.evaluate(([i]) => window.opfsStore.add(i, 8, 4), [id] as const);
    await page.evaluate(([i, d]) => window.opfsStore.put(i, [{ index: 0, data: d }]), [id, chunk(1, 4)] as const);
    expect((await page.evaluate(() => window.opfsStore.onDisk()))[id]).toBeDefined();
    await page.evaluate(([i]) => window.opfsStore.discard(i), [id] as const);
    expect((await page.evaluate(() => window.opfsStore.onDisk()))[id]).toBeUndefined();
    expect(await page.evaluate(([i]) => window.opfsStore.row(i), [id] as const)).toMatchObject({ state: 'failed', error: 'altered', receivedChunks: 0 });
    expect(await page.evaluate(([i]) => window.opfsStore.readBlob(i), [id] as const)).toMatchObject({ ok: false, code: 'ERR_FILE_ORDER' });
  });

  it('the sweep removes bytes whose row is gone or expired and keeps transfers under way', async () => {
    const [orphan, expired] = ['storeOrphan1', 'storeExpired'];
    for (const id of [orphan, expired]) {
      await page.evaluate(([i]) => window.opfsStore.add(i, 8, 4), [id] as const);
      await page.evaluate(([i, d]) => window.opfsStore.put(i, [{ index: 0, data: d }]), [id, chunk(2, 4)] as const);
    }
    await page.evaluate(([i]) => window.opfsStore.dropRow(i), [orphan] as const);
    // Eight days on, a file added now is still within its seven days; the others are not.
    await page.evaluate(() => window.opfsStore.advanceDays(8));
    const fresh = 'storeFreshOne';
    await page.evaluate(([i]) => window.opfsStore.add(i, 8, 4), [fresh] as const);
    await page.evaluate(([i, d]) => window.opfsStore.put(i, [{ index: 0, data: d }]), [fresh, chunk(3, 4)] as const);

    const removed = await page.evaluate(() => window.opfsStore.sweep());
    const onDisk = await page.evaluate(() => window.opfsStore.onDisk());
    expect(onDisk[orphan]).toBeUndefined();
    expect(onDisk[expired]).toBeUndefined();
    expect(onDisk[fresh]).toBeDefined();
    expect(removed).toBeGreaterThanOrEqual(2);
    // The transfer under way goes on after the sweep.
    expect(await page.evaluate(([i, d]) => window.opfsStore.put(i, [{ index: 1, data: d }]), [fresh, chunk(4, 4)] as const)).toEqual({ ok: true, value: 2 });
  });

  it('files stored before, as chunk rows in IndexedDB, are still read through the same store', async () => {
    const id = 'storeLegacy1';
    await page.evaluate(([i, c]) => window.opfsStore.addLegacy(i, c, 4), [id, [chunk(5, 4), chunk(9, 3)]] as const);
    expect(await page.evaluate(([i]) => window.opfsStore.count(i), [id] as const)).toBe(2);
    expect(await page.evaluate(([i]) => window.opfsStore.readBlob(i), [id] as const)).toEqual({ ok: true, value: { type: 'image/png', bytes: [...chunk(5, 4), ...chunk(9, 3)] } });
    expect((await page.evaluate(() => window.opfsStore.onDisk()))[id]).toBeUndefined();
  });
});
