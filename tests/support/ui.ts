import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import sirv from 'sirv';
import type { Browser, Page } from 'playwright-core';
import { login, type User } from './browser.ts';

/** Where screenshots go (git-ignored with the rest of test-results/). */
export const SCREENSHOT_DIR = resolve('test-results/screenshots');

export const DESKTOP = { width: 1280, height: 800 } as const;
export const PHONE = { width: 390, height: 844 } as const;

export interface StaticHost {
  /** The folder URL the client is served from, ending in '/'. */
  url: string;
  close(): Promise<void>;
}

/**
 * A plain static file server, like any web host: the built client under `folder` (to
 * prove relative paths), and a `config.json` beside index.html when `config` is given.
 * No SPA fallback, no special headers.
 */
export async function startStaticHost(dir: string, opts: { folder?: string; config?: () => unknown } = {}): Promise<StaticHost> {
  const folder = `/${(opts.folder ?? '').replace(/^\/+|\/+$/g, '')}/`.replace('//', '/');
  const files = sirv(dir, { dev: true });
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (!path.startsWith(folder)) return void res.writeHead(404).end('not found');
    if (path === `${folder}config.json` && opts.config) {
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(opts.config()));
    }
    req.url = `/${(req.url ?? '/').slice(folder.length)}`;
    files(req, res, () => void res.writeHead(404).end('not found'));
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${folder}`,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

/** A fresh profile opened at `url` and logged in, the Content-Security-Policy in force. */
export async function openUserAt(browser: Browser, url: string, name: string, viewport: { width: number; height: number } = DESKTOP): Promise<User> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error(`[${name}] page error:`, e.stack ?? e.message));
  await page.goto(url);
  await login(page, name);
  return { context, page, name };
}

const axeSource = readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeProblem {
  id: string;
  impact: string;
  help: string;
  nodes: string[];
}

/**
 * Runs axe-core on the page as it is now and returns the serious and critical violations,
 * each with the elements at fault. The script is evaluated through the debugging
 * protocol, so the page keeps its Content-Security-Policy.
 */
export async function seriousA11yProblems(page: Page): Promise<AxeProblem[]> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(await axeSource);
  return page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(ctx: Document, opts: object): Promise<{ violations: { id: string; impact?: string | null; help: string; nodes: { target: unknown[]; failureSummary?: string }[] }[] }> } }).axe;
    const { violations } = await axe.run(document, { resultTypes: ['violations'] });
    return violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => ({
        id: v.id,
        impact: v.impact ?? '',
        help: v.help,
        nodes: v.nodes.map((n) => `${n.target.join(' ')}: ${(n.failureSummary ?? '').replace(/\s+/g, ' ')}`),
      }));
  });
}

/** Readable lines for an assertion message. */
export function describeProblems(where: string, problems: AxeProblem[]): string {
  return problems.map((p) => `${where}: ${p.id} (${p.impact}) ${p.help}\n    ${p.nodes.join('\n    ')}`).join('\n');
}

/** Opens Settings from the status bar, picks a theme and closes Settings again. */
export async function chooseTheme(page: Page, theme: 'system' | 'light' | 'dark'): Promise<void> {
  await page.getByTestId('open-settings').click();
  await page.locator(`[data-testid="settings"] input[name="theme"][value="${theme}"]`).check();
  await page.getByTestId('settings').locator('button.btn').click();
  await page.getByTestId('settings').waitFor({ state: 'detached' });
}

/** Interactive elements smaller than the 44 px touch target, as "tag text: w x h". */
export async function smallTouchTargets(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const small: string[] = [];
    for (const el of document.querySelectorAll<HTMLElement>('button, a[href], input:not([type=radio]):not([type=checkbox]), select, textarea, label:has(> input[type=radio]), label:has(> input[type=checkbox])')) {
      const r = el.getBoundingClientRect();
      const style = getComputedStyle(el);
      if (r.width === 0 || r.height === 0 || style.visibility === 'hidden') continue;
      if (el.closest('.sr-only')) continue;
      if (r.width < 44 || r.height < 44) small.push(`${el.tagName.toLowerCase()} "${(el.textContent ?? el.getAttribute('aria-label') ?? '').trim().slice(0, 30)}": ${Math.round(r.width)}x${Math.round(r.height)}`);
    }
    return small;
  });
}
