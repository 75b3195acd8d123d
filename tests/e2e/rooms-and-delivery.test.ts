import { pbkdf2Sync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { createRoom, joinRoom, login, roomAction, messages, sendMessage, waitConnected } from '../support/browser.ts';
import { browserSuite } from '../support/suite.ts';

const notice = (page: Page, text: string) => page.getByTestId('notice').filter({ hasText: text });

describe('rooms and delivery', () => {
  const suite = browserSuite();
  const open = (name: string) => suite.open(name);

  it('a password room refuses the wrong password, admits the right one, and the server never sees either', async () => {
    const password = 'correct horse 42';
    const an = await open('Anh');
    const bao = await open('Bao');
    await createRoom(an.page, 'Secret Club', password);

    await bao.page.getByTestId('room-entry').filter({ hasText: 'secret club' }).or(bao.page.getByTestId('room-entry').filter({ hasText: 'Secret Club' })).click();
    await bao.page.getByLabel('Room password').fill('wrong password');
    await bao.page.getByRole('button', { name: 'Join', exact: true }).click();
    await bao.page.getByRole('alert').filter({ hasText: 'Wrong room password.' }).waitFor();

    await bao.page.getByLabel('Room password').fill(password);
    await bao.page.getByRole('button', { name: 'Join', exact: true }).click();
    await bao.page.getByRole('heading', { level: 1, name: /Secret Club/ }).waitFor();
    await waitConnected(an.page, 'Bao');
    await waitConnected(bao.page, 'Anh');
    await sendMessage(bao.page, 'inside the club');
    await expect.poll(() => messages(an.page).filter({ hasText: 'inside the club' }).count()).toBe(1);

    const roomKey = pbkdf2Sync(password.normalize('NFKC'), 'room:secret club', 600_000, 32, 'sha256');
    const seen = suite.server.received.join('\n');
    expect(seen).not.toContain(password);
    expect(seen).not.toContain('wrong password');
    for (const encoding of ['base64url', 'base64', 'hex'] as const) expect(seen).not.toContain(roomKey.toString(encoding));
    expect(seen).not.toContain('inside the club');
  });

  it('a private message reaches only its recipient, and every member of a four-member room gets each group message once', async () => {
    const [a, b, c, d] = [await open('Dung'), await open('Em'), await open('Giang'), await open('Hoa')];
    await createRoom(a.page, 'team four');
    for (const u of [b, c, d]) await joinRoom(u.page, 'team four');
    for (const u of [a, b, c, d]) for (const v of [a, b, c, d]) if (u !== v) await waitConnected(u.page, v.name);

    await a.page.locator('#recipient').selectOption('Em');
    await sendMessage(a.page, 'just for Em');
    await expect.poll(() => messages(b.page).filter({ hasText: 'just for Em' }).count()).toBe(1);
    expect(await b.page.getByTestId('message').filter({ hasText: 'just for Em' }).locator('.badge.private').textContent()).toBe('Private');

    await a.page.locator('#recipient').selectOption('');
    for (const u of [a, b, c, d]) await sendMessage(u.page, `group hello from ${u.name}`);
    for (const u of [a, b, c, d]) {
      for (const v of [a, b, c, d]) {
        await expect.poll(() => messages(u.page).filter({ hasText: `group hello from ${v.name}` }).count()).toBe(1);
      }
    }
    // Giang and Hoa never got the private message: not shown, and not refused either
    // (a refused frame would mean it was sent to them).
    for (const u of [c, d]) {
      expect(await messages(u.page).filter({ hasText: 'just for Em' }).count()).toBe(0);
      expect(await u.page.getByTestId('notice').filter({ hasText: 'refused' }).count()).toBe(0);
    }
    for (const u of [a, b, c, d]) await roomAction(u.page, 'Leave room');
  });

  it('messages for a member who is away wait in the outbox and arrive once, in order, when they return', async () => {
    const a = await open('Khanh');
    const b = await open('Linh');
    const c = await open('Minh');
    await createRoom(a.page, 'outbox room');
    await joinRoom(b.page, 'outbox room');
    await joinRoom(c.page, 'outbox room');
    await waitConnected(a.page, 'Linh');

    // Linh closes the app (same browser profile, so the same identity comes back later).
    await b.page.goto('about:blank');
    await notice(a.page, 'Linh left').waitFor();
    expect(await c.page.getByTestId('unread').count()).toBe(0);
    for (const n of [1, 2, 3]) await sendMessage(a.page, `while away ${n}`);

    await b.page.goto(suite.server.url);
    await b.page.getByTestId('joined-room').filter({ hasText: 'outbox room' }).click();
    await notice(a.page, 'Linh is back').waitFor();
    await waitConnected(b.page, 'Khanh');
    await expect.poll(() => messages(b.page).filter({ hasText: 'while away' }).count()).toBe(3);
    const texts = await messages(b.page).filter({ hasText: 'while away' }).locator('.text').allTextContents();
    expect(texts).toEqual(['while away 1', 'while away 2', 'while away 3']);
    // Reloading shows the same history, from this browser's storage.
    await b.page.reload();
    await b.page.getByTestId('joined-room').filter({ hasText: 'outbox room' }).click();
    await expect.poll(() => messages(b.page).filter({ hasText: 'while away' }).count()).toBe(3);
    // Minh, who was there all along, got them as unread while looking at the room list.
    await expect.poll(() => messages(c.page).filter({ hasText: 'while away' }).count()).toBe(3);
  });

  it('an invite link opens the room directly and asks for its password, which is not in the link', async () => {
    const a = await open('Phat');
    await a.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: suite.server.url });
    await createRoom(a.page, 'invite only', 'hunter2 hunter2');
    await roomAction(a.page, 'Copy invite link');
    const link = await a.page.evaluate(() => navigator.clipboard.readText());
    expect(new URL(link).hash).toBe('#join=invite+only');
    expect(link).not.toContain('hunter2');

    const context = await suite.browser.newContext();
    const page = await context.newPage();
    suite.track({ context, page, name: 'Quan' });
    await page.goto(link);
    await login(page, 'Quan');
    await page.getByLabel('Room password').fill('hunter2 hunter2');
    await page.getByRole('button', { name: 'Join', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: /invite only/ }).waitFor();
    await waitConnected(page, 'Phat');
    expect(new URL(page.url()).hash).toBe('');
  });

  it('a hidden tab shows a system notification for a new message', async () => {
    const a = await open('Ngoc');
    const b = await open('Oanh');
    await b.context.grantPermissions(['notifications'], { origin: suite.server.url });
    await b.page.evaluate(() => {
      const shown: string[] = [];
      (window as unknown as { __shown: string[] }).__shown = shown;
      // Record instead of showing: the headless browser has no notification centre.
      class RecordingNotification {
        static permission = 'granted';
        static requestPermission = async () => 'granted';
        constructor(title: string) {
          shown.push(title);
        }
      }
      Object.defineProperty(window, 'Notification', { value: RecordingNotification });
      Object.defineProperty(document, 'visibilityState', { get: () => 'hidden' });
    });
    await createRoom(a.page, 'notify room');
    await joinRoom(b.page, 'notify room');
    await waitConnected(a.page, 'Oanh');
    await sendMessage(a.page, 'are you there?');
    await expect.poll(() => b.page.evaluate(() => (window as unknown as { __shown: string[] }).__shown)).toEqual(['New message from Ngoc']);
    await expect.poll(() => b.page.getByTestId('unread').textContent()).toBe('1');
  });
});
