import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { createRoom, launchChromium, login } from '../support/browser.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { PHONE, SCREENSHOT_DIR } from '../support/ui.ts';

/** What an installed app's share sheet does: a multipart POST to the manifest's share_target. */
async function postShare(page: Page, fields: Record<string, string>, file?: { name: string; mimeType: string; buffer: Buffer }): Promise<void> {
  await page.evaluate(
    ({ fields, withFile }) => {
      const form = document.createElement('form');
      form.method = 'POST';
      form.enctype = 'multipart/form-data';
      form.action = './share-target';
      for (const [name, value] of Object.entries(fields)) {
        const input = document.createElement('input');
        input.type = 'hidden';
        input.name = name;
        input.value = value;
        form.append(input);
      }
      if (withFile) {
        const input = document.createElement('input');
        input.type = 'file';
        input.name = 'files';
        input.id = 'share-files';
        form.append(input);
      }
      form.id = 'share-form';
      document.body.append(form);
    },
    { fields, withFile: file !== undefined },
  );
  if (file) await page.setInputFiles('#share-files', file);
  await Promise.all([page.waitForURL((u) => u.searchParams.has('share') || !u.pathname.endsWith('share-target')), page.evaluate(() => (document.getElementById('share-form') as HTMLFormElement).submit())]);
}

describe('sharing into the chat from other apps', () => {
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

  it('a link and a file shared from another app wait for the user to pick a room', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(server.url);
    await login(page, 'An');
    await page.evaluate(() => navigator.serviceWorker.ready.then(() => undefined));
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null);

    await postShare(
      page,
      { title: 'Lịch thi học kỳ', text: 'Xem lịch thi nè', url: 'https://example.org/lich-thi' },
      { name: 'lich-thi.txt', mimeType: 'text/plain', buffer: Buffer.from('Toán: thứ Hai\n') },
    );
    // The returning user is signed in again and asked to pick a room for the share.
    const banner = page.getByTestId('share-banner');
    await banner.filter({ hasText: 'Pick a room to share this into' }).waitFor();
    expect(await banner.textContent()).toContain('Xem lịch thi nè');
    expect(await banner.textContent()).toContain('https://example.org/lich-thi');
    expect(await banner.textContent()).toContain('1 file(s)');
    await mkdir(SCREENSHOT_DIR, { recursive: true });
    await page.setViewportSize(PHONE);
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'share-phone-light-en.png') });
    // Taken out of the address bar and the worker's inbox: a reload does not share again.
    expect(new URL(page.url()).search).toBe('');
    expect(await page.evaluate(() => caches.has('chat-share-inbox'))).toBe(false);

    await page.getByRole('button', { name: 'Cancel sharing' }).click();
    await banner.waitFor({ state: 'detached' });
    await context.close();
  });

  it('a share in the address bar works without the service worker', async () => {
    const context = await browser.newContext({ serviceWorkers: 'block' });
    const page = await context.newPage();
    const q = new URLSearchParams({ share: '1', title: 'Ignored when there is text', text: 'đọc bài này', url: 'https://example.org/bai' });
    await page.goto(`${server.url}/?${q}`);
    await login(page, 'Binh');
    const banner = page.getByTestId('share-banner');
    await banner.waitFor();
    expect(await banner.textContent()).toContain('đọc bài này');
    expect(await banner.textContent()).toContain('https://example.org/bai');
    expect(await banner.textContent()).not.toContain('Ignored');
    expect(new URL(page.url()).search).toBe('');
    // Picking a room puts the share in the message box, for the user to send or not.
    await createRoom(page, 'chia se');
    await expect.poll(() => page.locator('#message-input').inputValue()).toBe('đọc bài này\nhttps://example.org/bai');
    expect(await page.getByTestId('message').count()).toBe(0);
    await context.close();
  });
});
