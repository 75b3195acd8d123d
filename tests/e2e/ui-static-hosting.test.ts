import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { createRoom, joinRoom, launchChromium, messages, sendMessage, waitConnected } from '../support/browser.ts';
import { clientDist, startTestServer, type TestServer } from '../support/server.ts';
import { openUserAt, startStaticHost, type StaticHost } from '../support/ui.ts';

describe('the built client on a plain static host', () => {
  let host: StaticHost;
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    // The host serves client/dist from a sub-folder, with a config.json naming the
    // signaling server; the signaling server serves no client and allows only that origin.
    host = await startStaticHost(clientDist, { folder: 'apps/chat', config: () => ({ signalingUrl: server.url }) });
    server = await startTestServer({ env: { STATIC_DIR: '', CORS_ORIGINS: new URL(host.url).origin } });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await host?.close();
  });

  it('two people chat through a client served from another origin and folder', async () => {
    expect(new URL(host.url).origin).not.toBe(new URL(server.url).origin);
    // The signaling server itself no longer hands out the client.
    expect((await fetch(server.url)).status).toBe(404);

    const an = await openUserAt(browser, host.url, 'An');
    const binh = await openUserAt(browser, host.url, 'Binh');
    await createRoom(an.page, 'static room');
    await joinRoom(binh.page, 'static room');
    await waitConnected(an.page, 'Binh');
    await waitConnected(binh.page, 'An');

    await sendMessage(an.page, 'chào từ máy chủ tĩnh');
    await expect.poll(() => messages(binh.page).filter({ hasText: 'chào từ máy chủ tĩnh' }).count()).toBe(1);
    await sendMessage(binh.page, 'hello back');
    await expect.poll(() => messages(an.page).filter({ hasText: 'hello back' }).count()).toBe(1);

    // Installable from that folder: the manifest and the worker resolve inside it.
    const manifest = await an.page.evaluate(async () => {
      const link = document.querySelector<HTMLLinkElement>('link[rel="manifest"]')!;
      const res = await fetch(link.href);
      return { url: res.url, status: res.status, body: (await res.json()) as { start_url: string; scope: string } };
    });
    expect(manifest.status).toBe(200);
    expect(manifest.url).toBe(`${host.url}manifest.webmanifest`);
    const scope = await an.page.evaluate(() => navigator.serviceWorker.ready.then((r) => r.scope));
    expect(scope).toBe(host.url);
    // Chromium's own verdict: the manifest parses cleanly and the app can be installed.
    const cdp = await an.context.newCDPSession(an.page);
    const { errors } = (await cdp.send('Page.getAppManifest')) as { errors: { message: string }[] };
    expect(errors.map((e) => e.message)).toEqual([]);
    const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');
    // Test profiles are incognito, where Chromium never installs; nothing else may stand in the way.
    expect(installabilityErrors.map((e) => e.errorId).filter((id) => id !== 'in-incognito')).toEqual([]);

    await an.context.close();
    await binh.context.close();
  });
});
