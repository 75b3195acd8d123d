import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { createRoom, joinRoom, launchChromium, messages, openUser, sendMessage, waitConnected } from '../support/browser.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

describe('two browser tabs chatting', () => {
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    server = await startTestServer();
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('members of one room chat over a verified data channel the server never reads', async () => {
    const an = await openUser(browser, server.url, 'An');
    const binh = await openUser(browser, server.url, 'Binh');
    const chi = await openUser(browser, server.url, 'Chi');

    await createRoom(an.page, 'lop 12a');
    await createRoom(chi.page, 'other room');
    await joinRoom(binh.page, 'lop 12a');

    // Each sees the other in the member list, connected and verified by the handshake.
    await waitConnected(an.page, 'Binh');
    await waitConnected(binh.page, 'An');
    // Connection info: a direct path (no TURN in this network) with a measured round trip.
    const path = an.page.locator('[data-testid="member"][data-username="Binh"] [data-testid="path"]');
    await path.filter({ hasText: /^Direct · [\d.]+ ms$/ }).waitFor();

    const secretA = 'xin chào Bình, secret-a-7f3c';
    const secretB = 'hello An, secret-b-91d2';
    await sendMessage(an.page, secretA);
    await expect.poll(() => messages(binh.page).filter({ hasText: secretA }).count()).toBe(1);
    await sendMessage(binh.page, secretB);
    await expect.poll(() => messages(an.page).filter({ hasText: secretB }).count()).toBe(1);

    // Delivery receipts come back over the channel.
    await expect.poll(() => an.page.getByTestId('delivery').first().textContent()).toContain('Delivered to 1 of 1');

    // Chi, in another room, sees none of it.
    expect(await messages(chi.page).count()).toBe(0);

    // Closing Binh's tab shows "Binh left" to An.
    await binh.context.close();
    await an.page.getByTestId('notice').filter({ hasText: 'Binh left' }).waitFor();

    // The server relayed signals only: no message text ever reached it.
    const seen = server.received.join('\n');
    expect(seen.length).toBeGreaterThan(0);
    expect(seen).not.toContain('secret-a-7f3c');
    expect(seen).not.toContain('secret-b-91d2');
    expect(seen).not.toContain('Bình');

    await an.context.close();
    await chi.context.close();
  });
});
