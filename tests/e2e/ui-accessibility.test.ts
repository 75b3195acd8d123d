import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { createRoom, joinRoom, launchChromium, login, messages, sendMessage, waitConnected } from '../support/browser.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { chooseTheme, describeProblems, openUserAt, seriousA11yProblems } from '../support/ui.ts';

describe('accessibility', () => {
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

  it('no screen has a serious or critical axe problem, in the light or the dark theme', async () => {
    const found: string[] = [];
    /** Checks the page as it is now under both system themes, and under a forced theme if set. */
    const check = async (page: Page, screen: string) => {
      for (const scheme of ['light', 'dark'] as const) {
        await page.emulateMedia({ colorScheme: scheme });
        const problems = await seriousA11yProblems(page);
        if (problems.length > 0) found.push(describeProblems(`${screen} (${scheme})`, problems));
      }
    };

    const anContext = await browser.newContext();
    const an = await anContext.newPage();
    await an.goto(server.url);
    await an.getByLabel('Your name').waitFor();
    await check(an, 'login');
    await login(an, 'An');
    await check(an, 'room list');

    const binh = await openUserAt(browser, server.url, 'Binh');
    await createRoom(an, 'lop 12a');
    await joinRoom(binh.page, 'lop 12a');
    await waitConnected(an, 'Binh');
    await sendMessage(an, 'Chào cả lớp! Hôm nay mình học gì?');
    await sendMessage(binh.page, 'Toán và văn, nhớ mang sách nhé.');
    await expect.poll(() => messages(an).count()).toBe(2);
    // A screen reader hears the new message through the live region.
    await expect.poll(() => an.locator('[aria-live="polite"][aria-atomic="true"]').textContent()).toContain('Binh: Toán và văn');
    await expect.poll(() => an.getByTestId('delivery').first().textContent()).toContain('Delivered');
    await check(an, 'room with messages');

    await an.locator('[data-testid="member"][data-username="Binh"]').getByRole('button', { name: 'Verify' }).click();
    await an.getByTestId('safety-number').filter({ hasText: /\d{5}/ }).waitFor();
    await check(an, 'verify dialog');
    await an.keyboard.press('Escape');
    await an.getByTestId('safety-number').waitFor({ state: 'detached' });

    await an.getByTestId('open-settings').click();
    await an.getByTestId('settings').waitFor();
    await check(an, 'settings dialog');
    await an.keyboard.press('Escape');

    // A theme forced in Settings wins over the system's, and passes too.
    await an.emulateMedia({ colorScheme: 'light' });
    await chooseTheme(an, 'dark');
    const forced = await seriousA11yProblems(an);
    if (forced.length > 0) found.push(describeProblems('room with messages (forced dark, system light)', forced));
    await chooseTheme(an, 'system');

    expect(found.join('\n\n'), found.join('\n\n')).toBe('');
    await anContext.close();
    await binh.context.close();
  });

  it('works with the keyboard alone: sign in, create a room, send, open and close a dialog', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(server.url);
    const focused = () => page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      return el?.id || el?.dataset.testid || el?.tagName.toLowerCase() || '';
    });
    /** Presses Tab (or Shift+Tab) until `target` has focus; fails if it is never reached. */
    const tabTo = async (target: string, key = 'Tab') => {
      for (let i = 0; i < 40 && (await focused()) !== target; i++) await page.keyboard.press(key);
      expect(await focused()).toBe(target);
      // Whatever has keyboard focus shows it.
      const outline = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
      expect(outline).not.toBe('none');
    };

    await page.getByLabel('Your name').waitFor();
    await page.getByTestId('connection-status').filter({ hasText: 'Connected' }).waitFor();
    expect(await focused()).toBe('username');
    await page.keyboard.type('Chi');
    await page.keyboard.press('Enter');
    await page.getByTestId('me').filter({ hasText: 'Chi' }).waitFor();

    await tabTo('room-name');
    await page.keyboard.type('keyboard room');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: /keyboard room/ }).waitFor();

    await tabTo('message-input');
    await page.keyboard.type('typed without a mouse');
    await page.keyboard.press('Enter');
    await expect.poll(() => messages(page).filter({ hasText: 'typed without a mouse' }).count()).toBe(1);

    await tabTo('open-settings', 'Shift+Tab');
    await page.keyboard.press('Enter');
    await page.getByTestId('settings').waitFor();
    expect(await page.evaluate(() => document.activeElement?.closest('dialog') !== null)).toBe(true);
    await page.keyboard.press('Escape');
    await page.getByTestId('settings').waitFor({ state: 'detached' });
    expect(await focused()).toBe('open-settings');
    await context.close();
  });
});
