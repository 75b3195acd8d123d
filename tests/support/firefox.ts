/**
 * Firefox for the browser tests: Debian's firefox-esr driven by puppeteer-core over
 * WebDriver BiDi. No browser is downloaded and no preference is changed: the app must
 * work in Firefox as users get it.
 */
import puppeteer, { type Browser, type BrowserContext, type ElementHandle, type Page } from 'puppeteer-core';
import { ChatTab, type PageDriver } from './chat-tab.ts';

export const FIREFOX = process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr';

export type FirefoxBrowser = Browser;

export async function launchFirefox(): Promise<Browser> {
  return puppeteer.launch({ browser: 'firefox', executablePath: FIREFOX, headless: true });
}

export function puppeteerDriver(page: Page): PageDriver {
  return {
    browserName: 'firefox',
    evaluate: (fn, arg) => page.evaluate(fn as (a: unknown) => unknown, arg as unknown) as Promise<never>,
    click: (s) => page.click(s),
    fill: (s, text) => page.locator(s).fill(text),
    press: async (s, key) => {
      await page.focus(s);
      await page.keyboard.press(key);
    },
    select: async (s, value) => void (await page.select(s, value)),
    setInputFile: async (s, path) => {
      const input = (await page.$(s)) as ElementHandle<HTMLInputElement> | null;
      if (!input) throw new Error(`no ${s} to attach a file to`);
      await input.uploadFile(path);
    },
    reload: async () => void (await page.reload()),
  };
}

export interface FirefoxUser {
  context: BrowserContext;
  page: Page;
  name: string;
  tab: ChatTab;
}

/** A fresh Firefox profile (its own IndexedDB and keys) logged in as `name`. */
export async function openFirefoxUser(browser: Browser, url: string, name: string): Promise<FirefoxUser> {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error(`[${name} firefox] page error:`, (e as Error).message));
  page.on('console', (m) => {
    if (m.type() !== 'log' && m.type() !== 'info' && m.type() !== 'debug') console.error(`[${name} firefox] console ${m.type()}:`, m.text());
  });
  await page.setViewport({ width: 1280, height: 800 });
  await page.goto(url);
  const tab = new ChatTab(puppeteerDriver(page), name);
  try {
    await tab.login();
  } catch (e) {
    await context.close().catch(() => undefined);
    throw e;
  }
  return { context, page, name, tab };
}
