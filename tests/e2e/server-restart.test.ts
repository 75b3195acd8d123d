import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { createRoom, joinRoom, launchChromium, messages, openUser, sendMessage, waitConnected, type User } from '../support/browser.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

describe('signaling server restart', () => {
  let server: TestServer;
  let browser: Browser;
  let dataDir: string;
  const users: User[] = [];

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'chat-restart-'));
    server = await startTestServer({ dataDir });
    browser = await launchChromium();
  });
  afterAll(async () => {
    for (const u of users) await u.context.close().catch(() => undefined);
    await browser?.close();
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('server restart keeps open chats, and members come back once', async () => {
    const a = await openUser(browser, server.url, 'Quang');
    const b = await openUser(browser, server.url, 'Rin');
    users.push(a, b);
    await createRoom(a.page, 'restart room');
    await joinRoom(b.page, 'restart room');
    await waitConnected(a.page, 'Rin');
    await waitConnected(b.page, 'Quang');

    const port = server.port;
    await server.stop();
    await a.page.getByTestId('connection-status').filter({ hasText: /reconnecting|Connecting/ }).waitFor();

    // The data channel does not need the server: chat keeps flowing while it is down.
    await sendMessage(a.page, 'while the server is down');
    await expect.poll(() => messages(b.page).filter({ hasText: 'while the server is down' }).count()).toBe(1);

    server = await startTestServer({ port, dataDir });
    for (const u of [a, b]) await u.page.getByTestId('connection-status').filter({ hasText: 'Connected' }).waitFor({ timeout: 30_000 });
    // Both re-announced themselves: the room exists again with both members, each listed once.
    await expect.poll(() => server.io.of('/').sockets.size).toBe(2);
    for (const [u, other] of [[a, 'Rin'], [b, 'Quang']] as const) {
      await expect.poll(() => u.page.locator(`[data-testid="member"][data-username="${other}"]`).count()).toBe(1);
      await waitConnected(u.page, other);
    }
    await sendMessage(b.page, 'after the restart');
    await expect.poll(() => messages(a.page).filter({ hasText: 'after the restart' }).count()).toBe(1);
    // No "left"/"joined" noise for a restart the users did not cause.
    expect(await a.page.getByTestId('notice').filter({ hasText: 'Rin left' }).count()).toBe(0);
  });
});
