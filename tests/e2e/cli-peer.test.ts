import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { HeadlessPeer } from '../../cli/src/headless-peer.ts';
import { createRoom, launchChromium, messages, openUser, sendMessage, waitConnected, type User } from '../support/browser.ts';
import { attackerKey, startMaliciousServer, type MaliciousServer } from '../support/malicious-server.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

/**
 * The terminal peer (cli/) and the web app in one room, over real WebRTC: Chromium on one
 * side, libdatachannel in Node on the other. The first tests run the real command
 * (`cli/bin/p2p-chat-cli.js`) as a child process and talk to it through its standard
 * input and output; the crowded room uses the same peer in-process to stay light.
 */

const BIN = fileURLToPath(new URL('../../cli/bin/p2p-chat-cli.js', import.meta.url));

/** The CLI as a user runs it: lines in, lines out, an exit code at the end. */
class CliProcess {
  readonly child: ChildProcessWithoutNullStreams;
  readonly exited: Promise<number>;
  #out = '';
  #err = '';

  constructor(args: string[]) {
    this.child = spawn(process.execPath, [BIN, ...args], { stdio: 'pipe', env: process.env });
    this.child.stdout.on('data', (d: Buffer) => (this.#out += d.toString('utf8')));
    this.child.stderr.on('data', (d: Buffer) => (this.#err += d.toString('utf8')));
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : -1))));
  }

  get output(): string {
    return this.#out;
  }
  get errors(): string {
    return this.#err;
  }

  /** Waits for a line of output matching `pattern` and returns its match. */
  async waitFor(pattern: RegExp, timeout = 60_000): Promise<RegExpExecArray> {
    let found: RegExpExecArray | null = null;
    await expect
      .poll(() => (found = pattern.exec(this.#out)) !== null, { timeout, message: `CLI output never matched ${pattern}:\n${this.#out}\n${this.#err}` })
      .toBe(true);
    return found!;
  }

  type(line: string): void {
    this.child.stdin.write(line + '\n');
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    await this.exited;
  }
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const fileCard = (page: Page, name: string) => page.getByTestId('file').filter({ hasText: name });

const row = (page: Page, peer: string) => page.locator(`[data-testid="member"][data-username="${peer}"]`);

/** Opens the web app's verify dialog for `peer` and reads the 60 digits. */
async function safetyNumberInTab(page: Page, peer: string): Promise<string> {
  await row(page, peer).getByRole('button', { name: 'Verify' }).click();
  const digits = page.getByRole('dialog').getByTestId('safety-number');
  await expect.poll(async () => ((await digits.textContent()) ?? '').replace(/\D/g, '').length).toBe(60);
  return ((await digits.textContent()) ?? '').replace(/\D/g, '');
}

describe('a terminal peer and a browser tab', () => {
  let browser: Browser;
  const cleanups: (() => Promise<unknown>)[] = [];
  const homes: string[] = [];
  const newHome = async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cli-e2e-'));
    homes.push(dir);
    return dir;
  };
  const cli = (args: string[]) => {
    const p = new CliProcess(args);
    cleanups.push(() => p.stop());
    return p;
  };
  const tab = async (url: string, name: string): Promise<User> => {
    const u = await openUser(browser, url, name);
    cleanups.push(() => u.context.close().catch(() => undefined));
    return u;
  };

  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  afterAll(async () => {
    await browser?.close();
    for (const dir of homes) await rm(dir, { recursive: true, force: true });
  });

  it('chat and files both ways, privately too, agree on the safety number, and the restarted terminal is the same contact', async () => {
    const server = await startTestServer();
    cleanups.push(() => server.stop());
    const an = await tab(server.url, 'An');
    await createRoom(an.page, 'terminal room');
    const home = await newHome();
    const bot = cli(['--server', server.url, '--user', 'Bot', '--room', 'terminal room', '--home', home]);
    await bot.waitFor(/joined terminal room as Bot/);
    await waitConnected(an.page, 'Bot');

    // Tab to terminal: shown with who wrote it and how far they are trusted.
    await sendMessage(an.page, 'hello terminal, tab-to-cli-3b1f');
    await bot.waitFor(/\] An \[unverified\]: hello terminal, tab-to-cli-3b1f/);
    // Terminal to tab, and the receipt comes back to the terminal.
    bot.type('hello An, cli-to-tab-8c2e');
    await expect.poll(() => messages(an.page).filter({ hasText: 'cli-to-tab-8c2e' }).count()).toBe(1);
    await bot.waitFor(/✓ message delivered to 1 of 1/);

    // Private both ways.
    bot.type('/msg An private-from-cli-5d7a');
    await expect.poll(() => an.page.locator('.msg.private').filter({ hasText: 'private-from-cli-5d7a' }).count()).toBe(1);
    await an.page.locator('#recipient').selectOption('Bot');
    await sendMessage(an.page, 'private-from-tab-e19b');
    await bot.waitFor(/\] An \[unverified\] → you \(private\): private-from-tab-e19b/);
    await an.page.locator('#recipient').selectOption('');

    // Files both ways, each checked against its signed SHA-256 before anyone may keep it.
    const work = await newHome();
    const fromCli = randomBytes(700 * 1024 + 3);
    await writeFile(join(work, 'from-cli.bin'), fromCli);
    bot.type(`/send ${join(work, 'from-cli.bin')}`);
    await fileCard(an.page, 'from-cli.bin').getByTestId('file-verified').waitFor({ timeout: 60_000 });
    const download = an.page.waitForEvent('download');
    await fileCard(an.page, 'from-cli.bin').getByTestId('file-download').click();
    expect(sha256(await readFile(await (await download).path()))).toBe(sha256(fromCli));
    await bot.waitFor(/✓ file from-cli\.bin verified by an/);
    const fromTab = randomBytes(500 * 1024 + 11);
    await an.page.locator('#file-input').setInputFiles({ name: 'from-tab.bin', mimeType: 'application/octet-stream', buffer: fromTab });
    const saved = await bot.waitFor(/\* file from An verified \(SHA-256 ([0-9a-f]{64})\) and saved: (.+from-tab\.bin)$/m);
    expect(saved[1]).toBe(sha256(fromTab));
    expect(sha256(await readFile(saved[2]!))).toBe(sha256(fromTab));

    // The 60 digits /verify prints are the ones the tab shows for the terminal peer.
    bot.type('/verify An');
    const printed = (await bot.waitFor(/safety number with An: ([\d ]+)/))[1]!.replace(/\D/g, '');
    expect(printed).toMatch(/^\d{60}$/);
    expect(await safetyNumberInTab(an.page, 'Bot')).toBe(printed);
    // They match: both mark each other verified, and the terminal shows it on An's messages.
    await an.page.getByRole('dialog').getByRole('button', { name: 'Mark as verified' }).click();
    await expect.poll(() => row(an.page, 'Bot').getAttribute('data-trust')).toBe('verified');
    bot.type('/verified An');
    await bot.waitFor(/\* An is now verified/);
    await sendMessage(an.page, 'now verified, v-4a90');
    await bot.waitFor(/\] An \[verified\]: now verified, v-4a90/);

    bot.type('/quit');
    expect(await bot.exited).toBe(0);
    await an.page.getByTestId('notice').filter({ hasText: 'Bot left' }).waitFor();

    // The same home again, for a script this time: no --user needed, the same key, so the
    // tab still trusts it as verified; exit 0 once the tab confirmed delivery.
    const script = cli(['--server', server.url, '--room', 'terminal room', '--home', home, '--send', 'backup done, send-mode-71c3']);
    expect(await script.exited).toBe(0);
    expect(script.output).toContain('delivered to 1 of 1: an');
    await expect.poll(() => messages(an.page).filter({ hasText: 'send-mode-71c3' }).count()).toBe(1);
    expect(await row(an.page, 'Bot').getAttribute('data-trust')).toBe('verified');
    expect(await an.page.getByTestId('key-changed').count()).toBe(0);

    // A file from a script: exit 0 once the tab checked it.
    const fileScript = cli(['--server', server.url, '--room', 'terminal room', '--home', home, '--send-file', join(work, 'from-cli.bin')]);
    expect(await fileScript.exited).toBe(0);
    expect(fileScript.output).toContain('file verified by 1 of 1: an');

    // With nobody left to confirm, the script says so and fails.
    await an.context.close();
    const alone = cli(['--server', server.url, '--room', 'terminal room', '--home', home, '--send', 'anyone?']);
    expect(await alone.exited).toBe(3);
    expect(alone.errors).toContain('no one else is in terminal room');

    // The server relayed signals only.
    const seen = server.received.join('\n');
    for (const text of ['tab-to-cli-3b1f', 'cli-to-tab-8c2e', 'private-from-cli-5d7a', 'private-from-tab-e19b', 'send-mode-71c3']) expect(seen).not.toContain(text);
  });

  it('a server swapping the terminal peer’s key is caught by the tab, and one swapping the tab’s key by the terminal', async () => {
    const server: MaliciousServer = await startMaliciousServer();
    cleanups.push(() => server.stop());
    const an = await tab(server.url, 'An');
    await createRoom(an.page, 'watched room');
    const bot = cli(['--server', server.url, '--user', 'Bot', '--room', 'watched room', '--home', await newHome()]);
    await bot.waitFor(/joined watched room as Bot/);
    // They meet honestly first: each pins the other's real key.
    await waitConnected(an.page, 'Bot');
    bot.type('hello before the lie, honest-2f6d');
    await expect.poll(() => messages(an.page).filter({ hasText: 'honest-2f6d' }).count()).toBe(1);

    // The server tells An that Bot has another key; Chi joining brings the next roster.
    server.announceKey('Bot', attackerKey(), { to: ['An'] });
    const chi = await HeadlessPeer.open({ server: server.url, user: 'Chi', room: 'watched room', home: await newHome() });
    cleanups.push(() => chi.close());
    await an.page.getByTestId('key-changed').filter({ hasText: 'Bot' }).waitFor();
    await expect.poll(() => row(an.page, 'Bot').getAttribute('data-trust')).toBe('changed');
    await expect.poll(() => row(an.page, 'Bot').getAttribute('data-connection')).toBe('blocked');

    // Now the other way round: the terminal is told An has another key (Chi leaving brings the roster).
    server.stopAnnouncing();
    server.announceKey('An', attackerKey(), { to: ['Bot'] });
    await chi.close();
    await bot.waitFor(/! An's key changed\. Nothing is sent to An until you check it/);
    bot.type('/members');
    await bot.waitFor(/An\s+online\s+blocked\s+KEY CHANGED/);
    bot.type('/msg An are you really An? lie-blocked-9e1c');
    await bot.waitFor(/! not sent: An's key changed; accept or verify it before sending \(ERR_KEY_CHANGED\)/);

    expect(server.everythingSeen()).not.toContain('lie-blocked-9e1c');
    expect(server.everythingSeen()).not.toContain('honest-2f6d');
  });

  it('a room of one tab and seven terminal peers: every member receives every group message exactly once', async () => {
    const server = await startTestServer();
    cleanups.push(() => server.stop());
    const an = await tab(server.url, 'An');
    await createRoom(an.page, 'octet', 'octet password');
    const names = ['N1', 'N2', 'N3', 'N4', 'N5', 'N6', 'N7'];
    const received = new Map<string, Map<string, number>>(names.map((n) => [n, new Map()]));
    // They join one after another. NOTE: joined all at once, some would never see each
    // other: the signaling server can answer a join with a roster older than a push the
    // joiner already dropped (reported; see cli/README.md).
    const peers: HeadlessPeer[] = [];
    for (const name of names) {
      const peer = await HeadlessPeer.open({
        server: server.url,
        user: name,
        room: 'octet',
        password: 'octet password',
        home: await newHome(),
        onRoom: (room) =>
          room.on('message', (m, incoming) => {
            if (!incoming) return;
            const counts = received.get(name)!;
            counts.set(m.body, (counts.get(m.body) ?? 0) + 1);
          }),
      });
      cleanups.push(() => peer.close());
      peers.push(peer);
    }
    for (const name of names) await waitConnected(an.page, name, 60_000);
    await expect.poll(() => peers.every((p) => p.room.members.filter((m) => m.online).length === 7 && p.allConnected), { timeout: 60_000 }).toBe(true);

    // Everyone speaks once; each sender waits for the seven receipts.
    const body = (who: string) => `from ${who}, fanout-${who}-c0de`;
    await sendMessage(an.page, body('An'));
    const reports = await Promise.all(peers.map((p) => p.sendAndConfirm(body(p.username), { timeoutMs: 60_000 })));
    for (const r of reports) expect(r.missing).toEqual([]);
    for (const r of reports) expect(r.confirmed).toHaveLength(7);

    const everyone = ['An', ...names];
    for (const name of names) {
      await expect.poll(() => received.get(name)!.get(body('An'))).toBe(1);
      const counts = received.get(name)!;
      expect([...counts.entries()].sort()).toEqual(everyone.filter((w) => w !== name).map((w) => [body(w), 1]).sort());
    }
    for (const name of names) await expect.poll(() => messages(an.page).filter({ hasText: body(name) }).count()).toBe(1);
    // The tab's own message is confirmed by all seven.
    await expect.poll(() => an.page.getByTestId('delivery').first().textContent()).toContain('Delivered to 7 of 7');
  });
});
