import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../support/browser.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const themeOf = (page: Page) => page.evaluate(() => document.documentElement.dataset.theme ?? 'system');
const langOf = (page: Page) => page.evaluate(() => document.documentElement.lang);
const barColours = (page: Page) =>
  page.evaluate(() => [...document.querySelectorAll<HTMLMetaElement>('meta[name="theme-color"]')].map((m) => m.content));

describe('settings', () => {
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

  it('theme and language chosen in Settings survive a reload', async () => {
    const context = await browser.newContext({ colorScheme: 'light' });
    const page = await context.newPage();
    await page.goto(server.url);
    await page.getByRole('heading', { name: 'Choose a name' }).waitFor();
    expect(await themeOf(page)).toBe('system');

    await page.getByRole('button', { name: 'Settings' }).click();
    await page.getByRole('radio', { name: 'Dark' }).check();
    await page.getByRole('radio', { name: 'Tiếng Việt' }).check();
    // Both apply at once, behind the dialog too.
    expect(await themeOf(page)).toBe('dark');
    expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe('rgb(14, 20, 25)');
    expect(await barColours(page)).toEqual(['#161e25', '#161e25']);
    await page.getByRole('heading', { name: 'Cài đặt' }).waitFor();
    await page.getByRole('button', { name: 'Xong' }).click();
    await page.getByRole('heading', { name: 'Chọn tên' }).waitFor();
    expect(await langOf(page)).toBe('vi');

    await page.reload();
    await page.getByRole('heading', { name: 'Chọn tên' }).waitFor();
    expect(await themeOf(page)).toBe('dark');
    expect(await langOf(page)).toBe('vi');

    // Back to following the device; the quick switch in the status bar changes language.
    await page.getByRole('button', { name: 'Cài đặt' }).click();
    await page.getByRole('radio', { name: 'Theo thiết bị' }).check();
    await page.getByRole('button', { name: 'Xong' }).click();
    await page.getByRole('combobox', { name: 'Ngôn ngữ' }).selectOption('en');
    await page.getByRole('heading', { name: 'Choose a name' }).waitFor();
    await page.reload();
    await page.getByRole('heading', { name: 'Choose a name' }).waitFor();
    expect(await themeOf(page)).toBe('system');
    expect(await barColours(page)).toEqual(['#ffffff', '#161e25']);
    expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe('rgb(244, 246, 248)');
    await context.close();
  });

  it('a Vietnamese browser gets the app in Vietnamese until the user picks a language', async () => {
    const context = await browser.newContext({ locale: 'vi-VN' });
    const page = await context.newPage();
    await page.goto(server.url);
    await page.getByRole('heading', { name: 'Chọn tên' }).waitFor();
    expect(await langOf(page)).toBe('vi');
    // Times follow the language too (24-hour clock in Vietnamese).
    const time = await page.evaluate(() => new Intl.DateTimeFormat(document.documentElement.lang, { hour: '2-digit', minute: '2-digit' }).format(new Date(2026, 0, 1, 15, 4)));
    expect(time).toBe('15:04');
    await context.close();
  });
});
