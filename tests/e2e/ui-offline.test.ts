import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, login } from '../support/browser.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

/** Waits until the service worker has stored the shell and controls the page. */
async function waitForServiceWorker(page: Page): Promise<void> {
  await page.evaluate(() => navigator.serviceWorker.ready.then(() => undefined));
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
}

describe('the app opens offline', () => {
  let server: TestServer;
  let browser: Browser;
  let serverStopped = false;

  beforeAll(async () => {
    server = await startTestServer();
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    if (!serverStopped) await server?.stop();
  });

  it('with the device offline, a reload shows the cached app saying it is offline', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(server.url);
    await login(page, 'An');
    await waitForServiceWorker(page);

    await context.setOffline(true);
    const response = await page.reload();
    expect(response?.fromServiceWorker()).toBe(true);
    await page.getByTestId('connection-status').filter({ hasText: 'Offline — reconnecting' }).waitFor();
    await expect.poll(() => page.title()).toBe('Chat');

    // Back online, the same page connects and signs the returning user in by itself.
    await context.setOffline(false);
    await page.getByTestId('connection-status').filter({ hasText: 'Connected' }).waitFor({ timeout: 30_000 });
    await page.getByTestId('me').filter({ hasText: 'An' }).waitFor();
    await context.close();
  });

  it('with the server gone, a reload still opens the app shell and says it is offline', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(server.url);
    await page.getByLabel('Your name').waitFor();
    await waitForServiceWorker(page);
    // The shell and its hashed assets are in the cache; socket.io and config.json never are.
    const cached = await page.evaluate(async () => {
      const urls: string[] = [];
      for (const name of await caches.keys()) {
        for (const req of await (await caches.open(name)).keys()) urls.push(new URL(req.url).pathname);
      }
      return urls;
    });
    expect(cached).toContain('/index.html');
    expect(cached.some((u) => /^\/assets\/index-.*\.js$/.test(u))).toBe(true);
    expect(cached.some((u) => /^\/assets\/index-.*\.css$/.test(u))).toBe(true);
    expect(cached).toContain('/manifest.webmanifest');
    expect(cached.filter((u) => u.includes('socket.io') || u.endsWith('config.json'))).toEqual([]);

    await server.stop();
    serverStopped = true;
    const response = await page.reload();
    expect(response?.fromServiceWorker()).toBe(true);
    await page.getByTestId('connection-status').filter({ hasText: 'Offline — reconnecting' }).waitFor();
    await page.getByRole('heading', { name: 'Choose a name' }).waitFor();
    await page.getByText('Cannot reach the chat server').waitFor();
    await context.close();
  });
});
