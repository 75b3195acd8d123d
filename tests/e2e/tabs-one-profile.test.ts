import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { messages, sendMessage, waitConnected } from '../support/browser.ts';
import { browserSuite } from '../support/suite.ts';

/**
 * TEST-CASES 30: two tabs of one profile. One tab at a time is connected (a Web Lock);
 * the other offers to take over, and closing the connected tab hands over too.
 */
describe('two tabs of one profile', () => {
  const suite = browserSuite();

  const otherTab = (page: Page) => page.getByTestId('other-tab');
  const openRoom = (page: Page, room: string) => page.getByTestId('joined-room').filter({ hasText: room }).click();
  const texts = (page: Page) => messages(page).locator('.text').allTextContents();

  it('the second tab waits while the first stays connected, takes over when asked, and hands back when closed', async () => {
    const [nga, oanh] = await suite.pair('Nga', 'Oanh', 'tabs room');

    // A second tab of Nga's profile does not connect: it says where the chat is.
    const second = await nga.context.newPage();
    await second.goto(suite.server.url);
    await otherTab(second).waitFor();
    expect(await otherTab(second).textContent()).toContain('The chat is open in another tab');
    await sendMessage(oanh.page, 'while two tabs are open');
    await expect.poll(() => texts(nga.page)).toContain('while two tabs are open');
    await new Promise((r) => setTimeout(r, 1_000));
    await waitConnected(oanh.page, 'Nga', 1_000);
    await waitConnected(nga.page, 'Oanh', 1_000);

    // "Use here": the first tab lets go (and says so in turn), the second connects as Nga.
    await otherTab(second).getByRole('button', { name: 'Use here' }).click();
    await second.getByTestId('me').filter({ hasText: 'Nga' }).waitFor({ state: 'attached', timeout: 30_000 });
    await otherTab(nga.page).waitFor({ timeout: 30_000 });
    await waitConnected(oanh.page, 'Nga');
    await openRoom(second, 'tabs room');
    // What the first tab received is here too, once.
    await expect.poll(() => texts(second)).toEqual(['while two tabs are open']);
    await sendMessage(oanh.page, 'after the switch');
    await expect.poll(() => texts(second)).toEqual(['while two tabs are open', 'after the switch']);
    await sendMessage(second, 'from the second tab');
    await expect.poll(() => texts(oanh.page)).toEqual(['while two tabs are open', 'after the switch', 'from the second tab']);

    // Closing the connected tab hands over to the waiting one, with nothing lost.
    await second.close();
    await nga.page.getByTestId('me').filter({ hasText: 'Nga' }).waitFor({ state: 'attached', timeout: 30_000 });
    expect(await otherTab(nga.page).count()).toBe(0);
    await waitConnected(oanh.page, 'Nga');
    await openRoom(nga.page, 'tabs room');
    await expect.poll(() => texts(nga.page)).toEqual(['while two tabs are open', 'after the switch', 'from the second tab']);
    await sendMessage(oanh.page, 'back to the first tab');
    await expect.poll(() => texts(nga.page)).toContain('back to the first tab');
  });

  it('with several tabs waiting, the one whose user asks is the one that connects', async () => {
    const phuc = await suite.open('Phuc');
    const waiting = [await phuc.context.newPage(), await phuc.context.newPage()];
    for (const page of waiting) {
      await page.goto(suite.server.url);
      await otherTab(page).waitFor();
    }
    // The tab opened last asks: it connects, though the other one waited longer.
    await otherTab(waiting[1]!).getByRole('button', { name: 'Use here' }).click();
    await waiting[1]!.getByTestId('me').filter({ hasText: 'Phuc' }).waitFor({ state: 'attached', timeout: 30_000 });
    await otherTab(phuc.page).waitFor({ timeout: 30_000 });
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await otherTab(waiting[0]!).count()).toBe(1);
    expect(await otherTab(waiting[1]!).count()).toBe(0);
  });
});
