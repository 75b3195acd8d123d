import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/** Debian's Chromium; tests never download a browser. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // Keep WebRTC host candidates as plain addresses (no mDNS) inside the test namespace.
  '--disable-features=WebRtcHideLocalIpsWithMdns',
];

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: false, args: CHROMIUM_ARGS });
}

export interface User {
  context: BrowserContext;
  page: Page;
  name: string;
}

/** A fresh browser profile (its own IndexedDB and keys) logged in as `name`. */
export async function openUser(browser: Browser, url: string, name: string, viewport = { width: 1280, height: 800 }): Promise<User> {
  return openUserIn(await browser.newContext({ viewport }), url, name);
}

/** A new page of `context` (a profile prepared by the caller) logged in as `name`. */
export async function openUserIn(context: BrowserContext, url: string, name: string): Promise<User> {
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error(`[${name}] page error:`, e.message));
  await page.goto(url);
  await login(page, name);
  return { context, page, name };
}

export async function login(page: Page, name: string): Promise<void> {
  await page.getByLabel('Your name').fill(name);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByTestId('me').filter({ hasText: name }).waitFor({ state: 'attached' });
}

export async function createRoom(page: Page, room: string, password?: string): Promise<void> {
  await page.getByLabel('Room name').fill(room);
  if (password) await page.getByLabel('Password (optional)').fill(password);
  await page.getByRole('button', { name: 'Create', exact: true }).click();
  await page.getByRole('heading', { level: 1, name: new RegExp(room) }).waitFor();
}

export async function joinRoom(page: Page, room: string, password?: string): Promise<void> {
  await page.getByTestId('room-entry').filter({ hasText: room }).click();
  if (password) {
    await page.getByLabel('Room password').fill(password);
    await page.getByRole('button', { name: 'Join', exact: true }).click();
  }
  await page.getByRole('heading', { level: 1, name: new RegExp(room) }).waitFor();
}

/** Waits until the channel to `peer` is verified and open. */
export async function waitConnected(page: Page, peer: string, timeout = 30_000): Promise<void> {
  await page.locator(`[data-testid="member"][data-username="${peer}"][data-connection="open"]`).waitFor({ timeout });
}

export async function sendMessage(page: Page, text: string): Promise<void> {
  await page.locator('#message-input').fill(text);
  await page.locator('#message-input').press('Enter');
}

export function messages(page: Page) {
  return page.getByTestId('message');
}

/** Opens the room's "⋯" menu and picks an action (e.g. "Leave room", "Delete chat"). */
export async function roomAction(page: Page, action: string): Promise<void> {
  await page.getByLabel('Room actions').click();
  await page.getByRole('button', { name: action }).click();
}
