import { pbkdf2Sync } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { createRoom, joinRoom, login, messages, sendMessage, waitConnected, type User } from '../support/browser.ts';
import { browserSuite } from '../support/suite.ts';
import { describeProblems, DESKTOP, PHONE, SCREENSHOT_DIR, seriousA11yProblems, smallTouchTargets } from '../support/ui.ts';

const DIRECT_ROOM = /dm-[a-z2-7]{16}/g;

/**
 * Records every 32-byte draw from crypto.getRandomValues in the page: a direct chat's
 * password is one of them, so the test can look for it in what the server received
 * without the app exposing its secrets to anyone.
 */
async function recordRandomDraws(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const draws: string[] = [];
    (window as unknown as { randomDraws: string[] }).randomDraws = draws;
    const original = crypto.getRandomValues.bind(crypto);
    crypto.getRandomValues = <T extends ArrayBufferView | null>(array: T): T => {
      const out = original(array as never) as T;
      if (out instanceof Uint8Array && out.length === 32) {
        draws.push(btoa(String.fromCharCode(...out)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''));
      }
      return out;
    };
  });
}

const directEntry = (page: Page, person: string) => page.locator(`[data-testid="direct-chat"][data-with="${person}"]`);

describe('direct chats', () => {
  const suite = browserSuite();

  /** A user whose every WebSocket frame from the server is kept, opened before the app loads. */
  async function openWatched(name: string): Promise<User & { frames: string[] }> {
    const context = await suite.browser.newContext({ viewport: DESKTOP });
    const page = await context.newPage();
    const frames: string[] = [];
    page.on('websocket', (ws) => ws.on('framereceived', (f) => frames.push(typeof f.payload === 'string' ? f.payload : f.payload.toString('latin1'))));
    page.on('pageerror', (e) => console.error(`[${name}] page error:`, e.message));
    await recordRandomDraws(page);
    await page.goto(suite.server.url);
    await login(page, name);
    const user = { context, page, name, frames };
    suite.track(user);
    return user;
  }

  it('An starts a direct chat with Binh from the member list; only they see it, and the server never gets its password', async () => {
    const an = await openWatched('An');
    const binh = await openWatched('Binh');
    const chi = await openWatched('Chi');
    await createRoom(an.page, 'lop 12b');
    await joinRoom(binh.page, 'lop 12b');
    await joinRoom(chi.page, 'lop 12b');
    for (const [u, v] of [[an, binh], [an, chi], [binh, an], [binh, chi], [chi, an], [chi, binh]] as const) await waitConnected(u.page, v.name);

    // Only what is drawn from now on can be the new chat's password (and fewer PBKDF2 runs below).
    await an.page.evaluate(() => ((window as unknown as { randomDraws: string[] }).randomDraws.length = 0));
    await an.page.locator('[data-testid="member"][data-username="Binh"] [data-testid="start-direct"]').click();
    // An is in the new chat at once, titled with Binh's name, listed under direct chats.
    await an.page.getByRole('heading', { level: 1, name: 'Binh', exact: true }).waitFor();
    await directEntry(an.page, 'Binh').waitFor();

    // Binh is told, and the chat appears in Binh's list under An's name.
    await binh.page.getByRole('status').filter({ hasText: 'An started a direct chat with you' }).waitFor();
    await directEntry(binh.page, 'An').waitFor();
    await waitConnected(an.page, 'Binh');

    // A message while Binh looks elsewhere counts as unread on the entry.
    await sendMessage(an.page, 'chào Bình, chỉ hai ta direct-1');
    await expect.poll(() => directEntry(binh.page, 'An').getByTestId('unread').textContent()).toBe('1');
    await directEntry(binh.page, 'An').click();
    await binh.page.getByRole('heading', { level: 1, name: 'An', exact: true }).waitFor();
    await expect.poll(() => messages(binh.page).filter({ hasText: 'direct-1' }).count()).toBe(1);
    await sendMessage(binh.page, 'chào An direct-2');
    await expect.poll(() => messages(an.page).filter({ hasText: 'direct-2' }).count()).toBe(1);
    await expect.poll(() => directEntry(binh.page, 'An').getByTestId('unread').count()).toBe(0);

    // Chi shares the room but never sees the direct chat, in the list or on the wire.
    const seen = suite.server.received.join('\n');
    const roomNames = [...new Set(seen.match(DIRECT_ROOM) ?? [])];
    expect(roomNames).toHaveLength(1);
    const dmName = roomNames[0]!;
    expect(seen).toContain(`"unlisted":true`);
    expect(await chi.page.getByTestId('direct-chat').count()).toBe(0);
    expect(await chi.page.getByTestId('room-entry').filter({ hasText: 'dm-' }).count()).toBe(0);
    expect(chi.frames.join('\n')).not.toContain(dmName);
    expect(await messages(chi.page).filter({ hasText: 'direct-' }).count()).toBe(0);
    // Nobody's room list shows it either: An's and Binh's pushes never named it.
    for (const u of [an, binh]) {
      expect(u.frames.filter((f) => f.includes('"rooms"') && f.includes(dmName))).toEqual([]);
    }

    // The password is one of An's 32-byte random draws; neither it nor the key derived
    // from it ever reached the server, nor did any message text.
    const draws = await an.page.evaluate(() => (window as unknown as { randomDraws: string[] }).randomDraws);
    expect(draws.length).toBeGreaterThan(0);
    for (const password of draws) {
      expect(seen).not.toContain(password);
      const roomKey = pbkdf2Sync(password.normalize('NFKC'), `room:${dmName}`, 600_000, 32, 'sha256');
      for (const encoding of ['base64url', 'base64', 'hex'] as const) expect(seen).not.toContain(roomKey.toString(encoding));
    }
    expect(seen).not.toContain('direct-1');
    expect(seen).not.toContain('direct-2');

    // Pictures of the member list, the chat list and the chat; every control big enough for a thumb.
    await mkdir(SCREENSHOT_DIR, { recursive: true });
    const small: string[] = [];
    const shoot = async (name: string) => {
      // A toast may go by itself between being found and being clicked: then there is nothing to do.
      for (const close of await an.page.getByLabel('Dismiss').all()) await close.click({ timeout: 500 }).catch(() => undefined);
      await an.page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
      await an.page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`) });
      small.push(...(await smallTouchTargets(an.page)).map((s) => `${name}: ${s}`));
    };

    // Pressing "Direct chat" again opens the same chat rather than a second one.
    await an.page.getByTestId('joined-room').filter({ hasText: 'lop 12b' }).click();
    await shoot('direct-start-desktop');
    await an.page.locator('[data-testid="member"][data-username="Binh"] [data-testid="start-direct"]').click();
    await an.page.getByRole('heading', { level: 1, name: 'Binh', exact: true }).waitFor();
    expect(await an.page.getByTestId('direct-chat').count()).toBe(1);

    await shoot('direct-chat-desktop');
    expect(describeProblems('direct chat', await seriousA11yProblems(an.page))).toBe('');
    await an.page.setViewportSize(PHONE);
    await shoot('direct-chat-phone');
    expect(await an.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width);
    await an.page.getByLabel('Back to rooms').click();
    await sendMessage(binh.page, 'one more direct-3');
    await expect.poll(() => directEntry(an.page, 'Binh').getByTestId('unread').textContent()).toBe('1');
    await shoot('direct-list-phone');
    expect(await an.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width);
    expect(small).toEqual([]);

    // Leaving works like any room: the entry goes, on An's side only.
    await an.page.setViewportSize(DESKTOP);
    await directEntry(an.page, 'Binh').click();
    await an.page.getByLabel('Room actions').click();
    await an.page.getByRole('button', { name: 'Leave room' }).click();
    await expect.poll(() => an.page.getByTestId('direct-chat').count()).toBe(0);
    await binh.page.getByTestId('notice').filter({ hasText: 'An left' }).waitFor();
    expect(await binh.page.getByTestId('direct-chat').count()).toBe(1);
  });
});
