import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { waitConnected } from '../support/browser.ts';
import { browserSuite } from '../support/suite.ts';

const MiB = 1024 * 1024;
const file = (page: Page, name: string) => page.getByTestId('file').filter({ hasText: name });
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
/**
 * The progress shown for `name`: on the line of files on their way (until the signed
 * manifest brings the card) or on its card; -1 while neither shows it.
 */
const percentOf = async (page: Page, name: string): Promise<number> => {
  const shown = await page.getByRole('progressbar', { name, exact: true }).evaluateAll((bars) => bars.map((b) => Number(b.getAttribute('aria-valuenow'))));
  return Math.max(-1, ...shown);
};
/** The card of `name`, or its line while it has no card yet, in `state`. */
const inState = (page: Page, name: string, state: string) =>
  page.locator(`[data-testid="file"][data-state="${state}"], [data-testid="file-pending"][data-state="${state}"]`).filter({ hasText: name }).first();

/**
 * TEST-CASES "peer closes mid-transfer": the receiving tab goes away in the middle of a
 * file; the sender shows the transfer interrupted; the receiver comes back (same browser
 * profile, new tab) and the file carries on from the chunks it had stored, not from zero,
 * and arrives byte-identical.
 */
describe('file transfer across a closed tab', () => {
  const suite = browserSuite();
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'chat-resume-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is interrupted when the receiver closes its tab, then resumes from its stored chunks and completes', async () => {
    const [a, b] = await suite.pair('Quan', 'Suong', 'resume room');

    const data = randomBytes(60 * MiB);
    const path = join(dir, 'footage.bin');
    await writeFile(path, data);
    await a.page.locator('#file-input').setInputFiles(path);

    // Past a quarter, so that more than the in-flight window (8 MiB) is stored.
    await expect.poll(() => percentOf(b.page, 'footage.bin'), { timeout: 120_000, interval: 50 }).toBeGreaterThanOrEqual(25);
    await b.page.close();
    await a.page.locator('[data-testid="member"][data-username="Suong"]').waitFor({ state: 'detached', timeout: 30_000 }).catch(() => undefined);
    await inState(a.page, 'footage.bin', 'interrupted').waitFor({ timeout: 30_000 });

    // Back in a new tab of the same profile: it logs in by itself and re-joins the room.
    const page = await b.context.newPage();
    b.page = page;
    await page.goto(suite.server.url);
    await page.getByTestId('joined-room').filter({ hasText: 'resume room' }).click();
    await waitConnected(page, 'Quan');
    // The first progress shown after the return counts the chunks stored before it.
    await expect.poll(() => percentOf(page, 'footage.bin'), { timeout: 60_000, interval: 20 }).toBeGreaterThan(0);
    expect(await percentOf(page, 'footage.bin')).toBeGreaterThanOrEqual(5);

    await file(page, 'footage.bin').getByTestId('file-verified').waitFor({ timeout: 180_000 });
    const download = page.waitForEvent('download');
    await file(page, 'footage.bin').getByTestId('file-download').click();
    const got = await readFile(await (await download).path());
    expect(got.length).toBe(data.length);
    expect(sha256(got)).toBe(sha256(data));
    await file(a.page, 'footage.bin').and(a.page.locator('[data-state="done"]')).waitFor({ timeout: 30_000 });
  });
});
