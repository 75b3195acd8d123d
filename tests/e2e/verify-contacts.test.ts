import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { ClaimResult, Registration, UsernameRegistry } from '../../signaling/src/registry.ts';
import { createRoom, joinRoom, launchChromium, login, messages, openUser, sendMessage, waitConnected, type User } from '../support/browser.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

/**
 * The honest registry rules (first claim wins, the same key logs in again) plus what an
 * operator does when someone lost the device holding their key: release the name so a new
 * key can claim it.
 *
 * Why this and not the malicious server: this test is about a *legitimate* key change (the
 * user's browser storage was wiped), which clients must treat exactly like a lie, warn,
 * block, let the user accept, and require re-verification. The new Binh must then really
 * log in and connect, which needs a server that authenticates him honestly. A real server
 * refuses a new key for a registered name ("username taken", checked below first), so the
 * test releases the name the way an operator would, instead of making the server lie.
 */
class ReleasableRegistry implements UsernameRegistry {
  readonly #users = new Map<string, Registration>();

  async lookup(key: string): Promise<Registration | undefined> {
    return this.#users.get(key);
  }

  async claim(key: string, registration: Registration): Promise<ClaimResult> {
    const existing = this.#users.get(key);
    if (existing) return existing.publicKey === registration.publicKey ? 'same-key' : 'taken';
    this.#users.set(key, registration);
    return 'claimed';
  }

  release(key: string): void {
    this.#users.delete(key);
  }

  async close(): Promise<void> {}
}

/**
 * How long a channel may take to come up. NOTE: generous on purpose, not a performance
 * bound: an offer the other side ignores (e.g. while the key is in question) is only
 * repeated after the handshake timeout plus the retry delay (about 35 s).
 */
const CONNECT_MS = 90_000;

const row = (page: Page, peer: string) => page.locator(`[data-testid="member"][data-username="${peer}"]`);

/** Opens the verify dialog for `peer`, reads the safety number, and leaves the dialog open. */
async function openVerify(page: Page, peer: string): Promise<string> {
  await row(page, peer).getByRole('button', { name: 'Verify' }).click();
  const digits = page.getByRole('dialog').getByTestId('safety-number');
  await expect.poll(async () => ((await digits.textContent()) ?? '').replace(/\D/g, '').length).toBe(60);
  return ((await digits.textContent()) ?? '').replace(/\D/g, '');
}

async function closeDialog(page: Page): Promise<void> {
  await page.getByRole('dialog').getByRole('button', { name: 'Close' }).click();
  await expect.poll(() => page.getByRole('dialog').count()).toBe(0);
}

describe('verifying a contact', () => {
  let server: TestServer;
  let browser: Browser;
  const registry = new ReleasableRegistry();
  const users: User[] = [];

  beforeAll(async () => {
    server = await startTestServer({ registry });
    browser = await launchChromium();
  });
  afterAll(async () => {
    for (const u of users) await u.context.close().catch(() => undefined);
    await browser?.close();
    await server?.stop();
  });

  it('two users compare safety numbers, and a changed key blocks sending until accepted and needs verifying again', async () => {
    const an = await openUser(browser, server.url, 'An');
    const binh = await openUser(browser, server.url, 'Binh');
    users.push(an, binh);
    await createRoom(an.page, 'gia dinh');
    await joinRoom(binh.page, 'gia dinh');
    await waitConnected(an.page, 'Binh', CONNECT_MS);
    await waitConnected(binh.page, 'An', CONNECT_MS);
    expect(await row(an.page, 'Binh').getAttribute('data-trust')).toBe('new');

    // Both open the verify dialog for each other: the same 60 digits in both tabs.
    const seenByAn = await openVerify(an.page, 'Binh');
    const seenByBinh = await openVerify(binh.page, 'An');
    expect(seenByAn).toMatch(/^\d{60}$/);
    expect(seenByBinh).toBe(seenByAn);

    // They match, so both mark each other verified.
    await an.page.getByRole('dialog').getByRole('button', { name: 'Mark as verified' }).click();
    await binh.page.getByRole('dialog').getByRole('button', { name: 'Mark as verified' }).click();
    // Marking closes the dialog (and gives the page back).
    await expect.poll(() => an.page.getByRole('dialog').count()).toBe(0);
    await expect.poll(() => binh.page.getByRole('dialog').count()).toBe(0);
    await expect.poll(() => row(an.page, 'Binh').getAttribute('data-trust')).toBe('verified');
    await expect.poll(() => row(binh.page, 'An').getAttribute('data-trust')).toBe('verified');

    // Binh's browser storage is wiped: a fresh profile is a fresh identity key.
    await binh.context.close();
    await an.page.getByTestId('notice').filter({ hasText: 'Binh left' }).waitFor();
    const fresh = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const binhPage = await fresh.newPage();
    users.push({ context: fresh, page: binhPage, name: 'Binh' });
    await binhPage.goto(server.url);

    // The honest server will not give the name to a new key...
    await binhPage.getByLabel('Your name').fill('Binh');
    await binhPage.getByRole('button', { name: 'Continue' }).click();
    await binhPage.getByRole('alert').filter({ hasText: 'already taken' }).waitFor();
    // ...until the operator releases it for him (he lost his old key).
    registry.release('binh');
    await login(binhPage, 'Binh');
    await joinRoom(binhPage, 'gia dinh');

    // An is warned: Binh's key changed, and his verified status is gone.
    const banner = an.page.getByTestId('key-changed').filter({ hasText: 'Binh' });
    await banner.waitFor();
    await expect.poll(() => row(an.page, 'Binh').getAttribute('data-trust')).toBe('changed');
    await expect.poll(() => row(an.page, 'Binh').getAttribute('data-connection')).toBe('blocked');
    // Verifying is not offered for a key An has not accepted.
    expect(await row(an.page, 'Binh').getByRole('button', { name: 'Verify' }).count()).toBe(0);

    // Sending to Binh is blocked: privately it is refused with a reason...
    await an.page.locator('#recipient').selectOption('Binh');
    await sendMessage(an.page, 'are you really Binh? blocked-p-61c2');
    await an.page.getByRole('alert').filter({ hasText: 'key changed; accept or verify it before sending' }).waitFor();
    // ...and a message to everyone is not sent to him.
    await an.page.locator('#recipient').selectOption('');
    await sendMessage(an.page, 'while his key is in question, blocked-g-0d95');
    await expect.poll(() => messages(an.page).filter({ hasText: 'blocked-g-0d95' }).count()).toBe(1);
    // No channel exists to carry anything to him meanwhile.
    expect(await row(an.page, 'Binh').getAttribute('data-connection')).toBe('blocked');
    expect(await messages(binhPage).filter({ hasText: 'blocked-' }).count()).toBe(0);

    // An checks with Binh and accepts the new key: he is a contact again, but unverified.
    await banner.getByRole('button', { name: 'Accept new key' }).click();
    await expect.poll(() => an.page.getByTestId('key-changed').count()).toBe(0);
    await expect.poll(() => row(an.page, 'Binh').getAttribute('data-trust')).toBe('new');
    // NOTE: if Binh's socket is the one that offers, his offer was ignored while An was
    // blocked, and a new one comes only after his handshake timeout and retry delay.
    await waitConnected(an.page, 'Binh', CONNECT_MS);
    await waitConnected(binhPage, 'An', CONNECT_MS);

    // Messages flow again, both ways.
    await sendMessage(an.page, 'welcome back, after-accept-3e8b');
    await expect.poll(() => messages(binhPage).filter({ hasText: 'after-accept-3e8b' }).count()).toBe(1);
    await sendMessage(binhPage, 'thanks, new-key-reply-b7f4');
    await expect.poll(() => messages(an.page).filter({ hasText: 'new-key-reply-b7f4' }).count()).toBe(1);
    // The private message An was refused was never sent at all. (The room message An wrote
    // meanwhile may reach Binh now through history sync, which every accepted member gets.)
    expect(await messages(binhPage).filter({ hasText: 'blocked-p-61c2' }).count()).toBe(0);

    // The new key gives a new safety number, again the same on both sides, to re-verify.
    const againByAn = await openVerify(an.page, 'Binh');
    const againByBinh = await openVerify(binhPage, 'An');
    expect(againByAn).toMatch(/^\d{60}$/);
    expect(againByAn).not.toBe(seenByAn);
    expect(againByBinh).toBe(againByAn);
    await closeDialog(an.page);
    await closeDialog(binhPage);
    expect(await row(an.page, 'Binh').getAttribute('data-trust')).toBe('new');

    // The server never saw any of it.
    const seen = server.received.join('\n');
    for (const text of ['blocked-p-61c2', 'blocked-g-0d95', 'after-accept-3e8b', 'new-key-reply-b7f4']) expect(seen).not.toContain(text);
  });
});
