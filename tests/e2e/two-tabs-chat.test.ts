import { describe, expect, it } from 'vitest';
import { createRoom, joinRoom, messages, sendMessage, waitConnected } from '../support/browser.ts';
import { browserSuite } from '../support/suite.ts';

describe('two browser tabs chatting', () => {
  const suite = browserSuite();

  it('members of one room chat over a verified data channel the server never reads', async () => {
    const an = await suite.open('An');
    const binh = await suite.open('Binh');
    const chi = await suite.open('Chi');

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
    const seen = suite.server.received.join('\n');
    expect(seen.length).toBeGreaterThan(0);
    expect(seen).not.toContain('secret-a-7f3c');
    expect(seen).not.toContain('secret-b-91d2');
    expect(seen).not.toContain('Bình');

    await an.context.close();
    await chi.context.close();
  });

  it('message text with markup, javascript: links and bidi overrides is shown as text, and no script runs', async () => {
    const [an, binh] = await suite.pair('Dao', 'Em', 'markup room');
    const hostile = [
      '<img src=x onerror="window.__pwned=1"> pwn-img',
      '<script>window.__pwned=2</script> pwn-script',
      '<a href="javascript:window.__pwned=3">pwn-anchor</a>',
      'javascript:window.__pwned=4 pwn-scheme',
      '[pwn-markdown](javascript:window.__pwned=5)',
      '<b>pwn-bold</b> <svg onload="window.__pwned=6"></svg>',
      // A right-to-left override would make "exe.png" read as "gnp.exe" around it.
      'pwn-bidi invoice\u202Egnp.exe and after',
    ];
    for (const text of hostile) await sendMessage(an.page, text);
    await expect.poll(() => messages(binh.page).count()).toBe(hostile.length);
    for (const page of [an.page, binh.page]) {
      // Exactly the characters sent, in order, as text.
      expect(await messages(page).locator('.text').allTextContents()).toEqual(hostile);
      // No element came out of a message body: not an image, script, link, svg or bold.
      expect(await messages(page).locator('.text *').count()).toBe(0);
      // The override stays inside its own message: the text is isolated from what follows.
      expect(await messages(page).locator('.text').last().evaluate((el) => getComputedStyle(el).unicodeBidi)).toBe('isolate');
    }

    // Search highlights what it found and nothing more.
    await binh.page.getByLabel('Search messages').fill('pwn');
    await expect.poll(() => binh.page.getByTestId('search-hit').count()).toBe(hostile.length);
    expect(await binh.page.getByTestId('search-hit').locator('.body *:not(mark)').count()).toBe(0);
    // ("pwn" also starts the word "__pwned" in most of them: every mark is the word searched.)
    const marks = await binh.page.getByTestId('search-hit').locator('mark').allTextContents();
    expect(marks.length).toBeGreaterThanOrEqual(hostile.length);
    expect(new Set(marks)).toEqual(new Set(['pwn']));

    // Clicking the would-be links goes nowhere, and nothing ran in either page.
    const before = new URL(binh.page.url());
    for (const marker of ['pwn-anchor', 'pwn-scheme', 'pwn-markdown']) await messages(binh.page).filter({ hasText: marker }).locator('.text').click();
    await new Promise((r) => setTimeout(r, 500));
    expect(new URL(binh.page.url()).href.replace(/#.*$/, '')).toBe(before.href.replace(/#.*$/, ''));
    for (const page of [an.page, binh.page]) expect(await page.evaluate(() => (window as { __pwned?: number }).__pwned)).toBeUndefined();
  });
});
