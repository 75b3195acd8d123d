import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { createRoom, joinRoom, roomAction, messages, sendMessage, waitConnected } from '../support/browser.ts';
import { browserSuite } from '../support/suite.ts';

describe('history that lasts', () => {
  const suite = browserSuite();
  const open = (name: string) => suite.open(name);

  it('a late joiner receives the verified history, and search finds it without accents', async () => {
    const a = await open('Phuong');
    const b = await open('Quynh');
    await createRoom(a.page, 'lop van');
    await joinRoom(b.page, 'lop van');
    await waitConnected(a.page, 'Quynh');
    await sendMessage(a.page, 'Hẹn gặp ở Đà Nẵng nhé');
    await sendMessage(b.page, 'Mình đang tìm kiếm vé tàu');
    await expect.poll(() => messages(a.page).count()).toBe(2);

    const c = await open('Son');
    await joinRoom(c.page, 'lop van');
    await expect.poll(() => messages(c.page).count()).toBe(2);
    expect(await messages(c.page).locator('.text').allTextContents()).toEqual(['Hẹn gặp ở Đà Nẵng nhé', 'Mình đang tìm kiếm vé tàu']);

    // "tim kiem" finds "tìm kiếm"; "da nang" finds "Đà Nẵng".
    await c.page.getByLabel('Search messages').fill('tim kiem');
    await c.page.getByTestId('search-hit').first().waitFor();
    expect(await c.page.getByTestId('search-hit').count()).toBe(1);
    expect(await c.page.getByTestId('search-hit').locator('mark').allTextContents()).toEqual(['tìm', 'kiếm']);
    await c.page.getByLabel('Search messages').fill('da nang');
    await c.page.getByTestId('search-hit').filter({ hasText: 'Đà Nẵng' }).click();
    await c.page.getByRole('heading', { level: 1, name: /lop van/ }).waitFor();

    // Reloading keeps every room and its history.
    await c.page.reload();
    await c.page.getByTestId('joined-room').filter({ hasText: 'lop van' }).click();
    await expect.poll(() => messages(c.page).count()).toBe(2);
    await waitConnected(c.page, 'Phuong');
    // No duplicates after a second round of history sync.
    await new Promise((r) => setTimeout(r, 500));
    expect(await messages(c.page).count()).toBe(2);
  });

  it('deleting a chat removes it here and, when they accept, from the other tab too', async () => {
    const a = await open('Tam');
    const b = await open('Uyen');
    await createRoom(a.page, 'to delete');
    await joinRoom(b.page, 'to delete');
    await waitConnected(a.page, 'Uyen');
    await sendMessage(a.page, 'soon gone');
    await expect.poll(() => messages(b.page).count()).toBe(1);

    await roomAction(a.page, 'Delete chat');
    await a.page.getByLabel('Also ask the other members to delete their copies').check();
    await a.page.getByRole('button', { name: 'Delete', exact: true }).click();
    await a.page.getByTestId('joined-room').filter({ hasText: 'to delete' }).waitFor({ state: 'detached' });

    await b.page.getByTestId('delete-request').waitFor();
    await b.page.getByRole('button', { name: 'Delete my copy' }).click();
    await expect.poll(() => messages(b.page).count()).toBe(0);
    await b.page.getByTestId('notice').filter({ hasText: 'Tam deleted this chat' }).waitFor();
    await b.page.reload();
    await b.page.getByTestId('joined-room').filter({ hasText: 'to delete' }).click();
    await new Promise((r) => setTimeout(r, 300));
    expect(await messages(b.page).count()).toBe(0);
  });

  it('a backup restored in a fresh browser logs in as the same user with the same contacts', async () => {
    const a = await open('Vy');
    const b = await open('Xuan');
    await createRoom(a.page, 'backup room');
    await joinRoom(b.page, 'backup room');
    await waitConnected(a.page, 'Xuan');
    await b.page.locator('[data-testid="member"][data-username="Vy"]').getByRole('button', { name: 'Verify' }).click();
    await b.page.getByRole('button', { name: 'Mark as verified' }).click();
    await sendMessage(a.page, 'before the move');
    await expect.poll(() => messages(b.page).count()).toBe(1);

    await a.page.getByRole('button', { name: 'Back up' }).click();
    await a.page.getByLabel('Passphrase (at least 10 characters)').fill('moving day passphrase');
    await a.page.getByLabel('Repeat the passphrase').fill('moving day passphrase');
    const download = a.page.waitForEvent('download');
    await a.page.getByRole('button', { name: 'Save backup file' }).click();
    const file = await readFile(await (await download).path());
    await a.context.close();

    const ctx = await suite.browser.newContext();
    const page = await ctx.newPage();
    suite.track({ context: ctx, page, name: 'Vy' });
    await page.goto(suite.server.url);
    await page.getByRole('button', { name: 'Restore from a backup' }).click();
    await page.getByLabel('Backup file').setInputFiles({ name: 'backup.p2pchat', mimeType: 'application/octet-stream', buffer: file });
    await page.getByLabel('Passphrase', { exact: true }).fill('wrong passphrase!');
    await page.getByRole('button', { name: 'Restore', exact: true }).click();
    await page.getByRole('alert').filter({ hasText: /passphrase/i }).waitFor();
    await page.getByLabel('Passphrase', { exact: true }).fill('moving day passphrase');
    await page.getByRole('button', { name: 'Restore', exact: true }).click();

    // The app restarts as Vy: the server accepts the same key for the same name.
    await page.getByTestId('me').filter({ hasText: 'Vy' }).waitFor();
    await page.getByTestId('joined-room').filter({ hasText: 'backup room' }).click();
    await expect.poll(() => messages(page).filter({ hasText: 'before the move' }).count()).toBe(1);
    await waitConnected(page, 'Xuan');
    // Xuan's verification still holds: same key as before.
    expect(await b.page.locator('[data-testid="member"][data-username="Vy"]').getAttribute('data-trust')).toBe('verified');
    await sendMessage(page, 'after the move');
    await expect.poll(() => messages(b.page).filter({ hasText: 'after the move' }).count()).toBe(1);
  });
});
