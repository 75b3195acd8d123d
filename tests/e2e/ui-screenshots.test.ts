import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { createRoom, joinRoom, launchChromium, messages, sendMessage, waitConnected } from '../support/browser.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { DESKTOP, openUserAt, PHONE, SCREENSHOT_DIR, smallTouchTargets } from '../support/ui.ts';

const THEMES = ['light', 'dark'] as const;
const LANGS = ['en', 'vi'] as const;

/**
 * Screenshots of the main screens at desktop and phone sizes, in both themes and both
 * languages, for people to look at (test-results/screenshots, kept as CI artifacts).
 */
describe('screenshots', () => {
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    server = await startTestServer();
    browser = await launchChromium();
    await mkdir(SCREENSHOT_DIR, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('room list, room and verify dialog in every theme, language and size', async () => {
    const an = await openUserAt(browser, server.url, 'An');
    const binh = await openUserAt(browser, server.url, 'Bình');
    await createRoom(binh.page, 'Câu lạc bộ sách');
    await createRoom(binh.page, 'Lớp 12A');
    const page = an.page;
    const small: string[] = [];

    /** One screenshot per theme and language of what `page` shows; `open` re-opens a dialog after the switch. */
    const shoot = async (screen: string, size: string, open?: () => Promise<void>) => {
      for (const lang of LANGS) {
        for (const theme of THEMES) {
          if (open) await page.keyboard.press('Escape');
          await page.selectOption('#lang', lang);
          await page.emulateMedia({ colorScheme: theme });
          if (open) await open();
          // Keyboard focus rings belong in the keyboard test, not in every picture.
          else await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
          await page.screenshot({ path: join(SCREENSHOT_DIR, `${screen}-${size}-${theme}-${lang}.png`) });
        }
      }
      if (size === 'phone') {
        small.push(...(await smallTouchTargets(page)).map((s) => `${screen}: ${s}`));
        // Nothing sticks out sideways on a phone.
        expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width);
      }
      await page.selectOption('#lang', 'en');
    };
    const openVerify = async () => {
      const toggle = page.locator('.members-toggle');
      if (await toggle.isVisible() && (await toggle.getAttribute('aria-expanded')) !== 'true') await toggle.click();
      await page.locator('[data-testid="member"][data-username="Bình"] .actions button').first().click();
      await page.getByTestId('safety-number').filter({ hasText: /\d{5}/ }).waitFor();
    };
    const openSettings = async () => {
      await page.getByTestId('open-settings').click();
      await page.getByTestId('settings').waitFor();
    };

    await shoot('room-list', 'desktop');

    await joinRoom(page, 'Lớp 12A');
    await waitConnected(page, 'Bình');
    await sendMessage(page, 'Chào cả lớp! Hôm nay mình học gì?');
    await sendMessage(binh.page, 'Toán và văn. Nhớ mang sách giáo khoa và vở bài tập nhé, thầy sẽ kiểm tra đầu giờ.');
    await sendMessage(page, 'Cảm ơn Bình 👍');
    await expect.poll(() => messages(page).count()).toBe(3);
    await expect.poll(() => page.getByTestId('delivery').last().textContent()).toContain('Delivered');

    await shoot('room', 'desktop');
    await openVerify();
    await shoot('verify', 'desktop', openVerify);
    await page.keyboard.press('Escape');
    await openSettings();
    await shoot('settings', 'desktop', openSettings);
    await page.keyboard.press('Escape');

    await page.setViewportSize(PHONE);
    await shoot('room', 'phone');

    // The on-screen keyboard: with interactive-widget=resizes-content the page gets shorter,
    // and the room title and the composer stay in view.
    const withKeyboard = { width: PHONE.width, height: 460 };
    await page.setViewportSize(withKeyboard);
    await page.emulateMedia({ colorScheme: 'light' });
    await page.locator('#message-input').focus();
    for (const target of [page.locator('#message-input'), page.getByRole('button', { name: 'Send' }), page.getByRole('heading', { level: 1 })]) {
      const box = (await target.boundingBox())!;
      expect(box.y).toBeGreaterThanOrEqual(0);
      expect(box.y + box.height).toBeLessThanOrEqual(withKeyboard.height);
    }
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'room-phone-keyboard-light-en.png') });
    await page.setViewportSize(PHONE);

    await openVerify();
    await shoot('verify', 'phone', openVerify);
    await page.keyboard.press('Escape');
    await openSettings();
    await shoot('settings', 'phone', openSettings);
    await page.keyboard.press('Escape');
    await page.getByRole('button', { name: 'Back to rooms' }).click();
    await shoot('room-list', 'phone');
    await page.setViewportSize(DESKTOP);

    // Touch targets on the phone: every control at least 44 x 44 px.
    expect(small, small.join('\n')).toEqual([]);
    await an.context.close();
    await binh.context.close();
  });
});
