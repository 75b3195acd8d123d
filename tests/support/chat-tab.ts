/**
 * Page helpers that work in any browser: the app driven through its DOM (the same ids and
 * test ids as browser.ts uses), over a small driver that playwright (Chromium) and
 * puppeteer (Firefox over WebDriver BiDi) both implement. Cross-browser tests write each
 * step once and run it on either side.
 */
import type { Page as PlaywrightPage } from 'playwright-core';

/** What the helpers need from a page, whichever library drives the browser. */
export interface PageDriver {
  readonly browserName: 'chromium' | 'firefox';
  /** Runs `fn(arg)` in the page; `arg` and the result must be JSON-serialisable. */
  evaluate<A, R>(fn: (arg: A) => R | Promise<R>, arg: A): Promise<R>;
  /** A real click (input events, not element.click()) on the first match. */
  click(selector: string): Promise<void>;
  fill(selector: string, text: string): Promise<void>;
  press(selector: string, key: 'Enter'): Promise<void>;
  select(selector: string, value: string): Promise<void>;
  setInputFile(selector: string, path: string): Promise<void>;
  reload(): Promise<void>;
}

export function playwrightDriver(page: PlaywrightPage): PageDriver {
  return {
    browserName: 'chromium',
    evaluate: (fn, arg) => page.evaluate(fn as (a: unknown) => unknown, arg as unknown) as Promise<never>,
    click: (s) => page.locator(s).first().click(),
    fill: (s, text) => page.locator(s).fill(text),
    press: (s, key) => page.locator(s).press(key),
    select: async (s, value) => void (await page.locator(s).selectOption(value)),
    setInputFile: (s, path) => page.locator(s).setInputFiles(path),
    reload: async () => void (await page.reload()),
  };
}

/** How long a step may wait by default. Not a performance bound: room for a loaded CI machine. */
const STEP_MS = 30_000;

export interface MessageView {
  from: string;
  text: string;
  private: boolean;
}

export interface MemberRow {
  username: string;
  connection: string;
  trust: string;
}

/** A CSS attribute selector value, quoted. */
const q = (s: string) => JSON.stringify(s);
const memberSel = (peer: string) => `[data-testid="member"][data-username=${q(peer)}]`;

/**
 * One logged-in tab of the app. Elements picked by their text are first tagged in the page
 * (data-e2e-pick) so that the driver's real click lands on exactly that element.
 */
export class ChatTab {
  #picks = 0;

  constructor(
    readonly driver: PageDriver,
    readonly name: string,
  ) {}

  /** Polls `fn(arg)` in the page until it returns a truthy value, and returns it. */
  async until<A, R>(what: string, fn: (arg: A) => R | Promise<R>, arg: A, timeout = STEP_MS): Promise<NonNullable<R>> {
    const deadline = Date.now() + timeout;
    let last: unknown;
    for (;;) {
      try {
        const r = await this.driver.evaluate(fn, arg);
        if (r) return r as NonNullable<R>;
        last = undefined;
      } catch (e) {
        // A navigation (reload) destroys the context mid-call; the next poll runs in the new one.
        last = e;
      }
      if (Date.now() > deadline) {
        const alerts = await this.driver.evaluate(() => [...document.querySelectorAll('[role="alert"]')].map((e) => e.textContent?.trim()).join(' | '), null).catch(() => '');
        throw new Error(`${this.driver.browserName} (${this.name}): timed out waiting for ${what}${alerts ? `; alerts on the page: ${alerts}` : ''}${last ? ` (last error: ${(last as Error).message})` : ''}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Tags the first element matching `selector` (whose text contains `text`, if given) and clicks it. */
  async clickOn(selector: string, text?: string, timeout = STEP_MS): Promise<void> {
    const id = `p${++this.#picks}`;
    await this.until(
      `${selector}${text ? ` with "${text}"` : ''}`,
      ({ selector, text, id }) => {
        const el = [...document.querySelectorAll(selector)].find((e) => text === null || (e.textContent ?? '').includes(text));
        if (!el || (el as HTMLButtonElement).disabled) return false;
        el.setAttribute('data-e2e-pick', id);
        return true;
      },
      { selector, text: text ?? null, id },
      timeout,
    );
    await this.driver.click(`[data-e2e-pick="${id}"]`);
  }

  async login(): Promise<void> {
    await this.until('the login form', () => document.querySelector('#username') !== null, null);
    await this.driver.fill('#username', this.name);
    await this.clickOn('form button[type="submit"]:not([disabled])');
    await this.until('the logged-in name', (name) => document.querySelector('[data-testid="me"]')?.textContent?.includes(name) ?? false, this.name);
  }

  async waitRoomOpen(room: string): Promise<void> {
    await this.until(`room "${room}" open`, (room) => document.querySelector('#room-title')?.textContent?.includes(room) ?? false, room);
  }

  async createRoom(room: string): Promise<void> {
    await this.driver.fill('#room-name', room);
    await this.clickOn('form.create button[type="submit"]');
    await this.waitRoomOpen(room);
  }

  /** Joins a room from the list of all rooms. */
  async joinRoom(room: string): Promise<void> {
    await this.clickOn('[data-testid="room-entry"]', room);
    await this.waitRoomOpen(room);
  }

  /** Opens a room this tab already joined (e.g. after a reload). */
  async openJoinedRoom(room: string): Promise<void> {
    await this.clickOn('[data-testid="joined-room"]', room);
    await this.waitRoomOpen(room);
  }

  async members(): Promise<MemberRow[]> {
    return this.driver.evaluate(
      () =>
        [...document.querySelectorAll<HTMLElement>('[data-testid="member"]')].map((el) => ({
          username: el.dataset.username ?? '',
          connection: el.dataset.connection ?? '',
          trust: el.dataset.trust ?? '',
        })),
      null,
    );
  }

  /** Waits until the channel to `peer` is verified and open. */
  async waitConnected(peer: string, timeout = 60_000): Promise<void> {
    await this.until(`a verified channel to ${peer}`, (sel) => document.querySelector(`${sel}[data-connection="open"]`) !== null, memberSel(peer), timeout);
  }

  /** The connection path shown for `peer` once it includes a round-trip time, e.g. "Direct · 0.4 ms". */
  async waitPath(peer: string, timeout = STEP_MS): Promise<string> {
    return this.until(
      `the path to ${peer} with its round-trip time`,
      (sel) => {
        const text = document.querySelector(`${sel} [data-testid="path"]`)?.textContent ?? '';
        return / ms$/.test(text) ? text : null;
      },
      memberSel(peer),
      timeout,
    );
  }

  /** Waits until the channel to `peer` shows as failed (refused), with `text` in its row if given. */
  async waitFailed(peer: string, text = '', timeout = 90_000): Promise<void> {
    await this.until(
      `the channel to ${peer} refused`,
      ({ sel, text }) => {
        const row = document.querySelector(`${sel}[data-connection="failed"]`);
        return row !== null && (row.textContent ?? '').includes(text);
      },
      { sel: memberSel(peer), text },
      timeout,
    );
  }

  /** Waits for a notice in the room's timeline containing `text`. */
  async waitNotice(text: string, timeout = STEP_MS): Promise<void> {
    await this.until(`notice "${text}"`, (text) => [...document.querySelectorAll('[data-testid="notice"]')].some((e) => (e.textContent ?? '').includes(text)), text, timeout);
  }

  /** Sends to everyone, or privately to `to` through the composer's recipient picker. */
  async send(text: string, to = ''): Promise<void> {
    if (to) await this.until(`${to} in the recipient picker`, (to) => [...document.querySelectorAll<HTMLOptionElement>('#recipient option')].some((o) => o.value === to), to);
    await this.driver.select('#recipient', to);
    await this.driver.fill('#message-input', text);
    await this.driver.press('#message-input', 'Enter');
    await this.waitMessage(text);
  }

  async messages(): Promise<MessageView[]> {
    return this.driver.evaluate(
      () =>
        [...document.querySelectorAll<HTMLElement>('[data-testid="message"]')].map((el) => ({
          from: el.dataset.from ?? '',
          text: el.querySelector('.text')?.textContent ?? '',
          private: el.classList.contains('private'),
        })),
      null,
    );
  }

  async waitMessage(text: string, timeout = STEP_MS): Promise<MessageView> {
    await this.until(`message "${text}"`, (text) => [...document.querySelectorAll('[data-testid="message"] .text')].some((e) => e.textContent === text), text, timeout);
    return (await this.messages()).find((m) => m.text === text)!;
  }

  /** Opens the verify dialog for `peer` and reads the 60-digit safety number; the dialog stays open. */
  async openVerify(peer: string): Promise<string> {
    await this.clickOn(`${memberSel(peer)} .actions button.secondary`);
    return this.until(
      'a 60-digit safety number',
      () => {
        const digits = (document.querySelector('dialog[open] [data-testid="safety-number"]')?.getAttribute('aria-label') ?? '').replace(/\D/g, '');
        return digits.length === 60 ? digits : null;
      },
      null,
    );
  }

  /** In the open verify dialog: "Mark as verified" (which closes it). */
  async markVerified(peer: string): Promise<void> {
    await this.clickOn('dialog[open] .actions button.btn:not(.secondary)');
    await this.until(`${peer} shown as verified`, (sel) => document.querySelector(`${sel}[data-trust="verified"]`) !== null && !document.querySelector('dialog[open]'), memberSel(peer));
  }

  async closeDialog(): Promise<void> {
    await this.clickOn('dialog[open] .actions button.secondary');
    await this.until('the dialog closed', () => !document.querySelector('dialog[open]'), null);
  }

  async sendFile(path: string): Promise<void> {
    await this.driver.setInputFile('#file-input', path);
  }

  /** Waits until the file card `name` shows "Verified from ...", and returns that line. */
  async waitFileVerified(name: string, timeout = 120_000): Promise<string> {
    return this.until(
      `file ${name} verified`,
      (name) => {
        const card = [...document.querySelectorAll('[data-testid="file"]')].find((c) => c.querySelector('.name')?.textContent === name);
        if (card?.getAttribute('data-state') === 'failed') return `failed: ${card.textContent}`;
        return card?.querySelector('[data-testid="file-verified"]')?.textContent ?? null;
      },
      name,
      timeout,
    );
  }

  /** SHA-256 (hex) and size of what the file card's download link gives, computed in the page. */
  async downloadDigest(name: string): Promise<{ sha256: string; size: number }> {
    await this.until(
      `a download link for ${name}`,
      (name) => [...document.querySelectorAll('[data-testid="file"]')].some((c) => c.querySelector('.name')?.textContent === name && c.querySelector('[data-testid="file-download"]')),
      name,
    );
    return this.driver.evaluate(async (name) => {
      const card = [...document.querySelectorAll('[data-testid="file"]')].find((c) => c.querySelector('.name')?.textContent === name)!;
      const href = card.querySelector<HTMLAnchorElement>('[data-testid="file-download"]')!.href;
      const bytes = await (await fetch(href)).arrayBuffer();
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
      return { sha256: [...digest].map((b) => b.toString(16).padStart(2, '0')).join(''), size: bytes.byteLength };
    }, name);
  }

  async reload(): Promise<void> {
    await this.driver.reload();
  }
}
