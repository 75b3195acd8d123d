import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { createRoom, joinRoom, launchChromium, messages, openUser, sendMessage, waitConnected, type User } from '../support/browser.ts';
import { attackerKey, startMaliciousServer, type MaliciousServer } from '../support/malicious-server.ts';

/** The member row `peer` in `page`'s member list. */
const row = (page: Page, peer: string) => page.locator(`[data-testid="member"][data-username="${peer}"]`);

/**
 * How long a channel may take to come up or be refused. NOTE: generous on purpose, not a
 * performance bound: an attempt that goes nowhere is only repeated after the handshake
 * timeout plus the retry delay (about 35 s).
 */
const CONNECT = { timeout: 90_000 };

/** Waits until `page` shows the channel to `peer` as failed (refused by the handshake). */
async function waitFailed(page: Page, peer: string, hasText?: string): Promise<void> {
  const failed = page.locator(`[data-testid="member"][data-username="${peer}"][data-connection="failed"]`);
  await (hasText ? failed.filter({ hasText }) : failed).waitFor(CONNECT);
}

/** Sends a private message to `peer` through the composer's recipient picker. */
async function sendPrivately(page: Page, peer: string, text: string): Promise<void> {
  await page.locator('#recipient').selectOption(peer);
  await sendMessage(page, text);
}

/** `signal` events one user's socket sent to another's socket, in a slice of the server's packet log. */
function signalsFromTo(log: MaliciousServer['log'], from: string, toSocket: string | undefined): string[] {
  return log
    .filter((p) => p.dir === 'in' && p.user?.toLowerCase() === from.toLowerCase())
    .map((p) => p.data)
    .filter((d) => d.includes('"signal"') && toSocket !== undefined && d.includes(`"to":"${toSocket}"`));
}

describe('a malicious signaling server', () => {
  let server: MaliciousServer;
  let browser: Browser;
  const users: User[] = [];
  const open = async (name: string) => {
    const u = await openUser(browser, server.url, name);
    users.push(u);
    return u;
  };

  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterEach(async () => {
    for (const u of users.splice(0)) await u.context.close();
    await server?.stop();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('server announcing another key for a known user raises a key-changed warning and nothing reaches the impostor', async () => {
    server = await startMaliciousServer();
    const an = await open('An');
    const binh = await open('Binh');
    const chi = await open('Chi');

    // An and Binh meet honestly: each pins the other's real key (trust on first use).
    await createRoom(an.page, 'nhom hoc');
    await joinRoom(binh.page, 'nhom hoc');
    await waitConnected(an.page, 'Binh', CONNECT.timeout);
    await waitConnected(binh.page, 'An', CONNECT.timeout);
    await expect.poll(() => row(an.page, 'Binh').getAttribute('data-trust')).toBe('new');
    await sendMessage(an.page, 'before the lie, hello-7a1e');
    await expect.poll(() => messages(binh.page).filter({ hasText: 'hello-7a1e' }).count()).toBe(1);

    // The server starts telling An that Binh's key is one the attacker made; the next
    // roster push (Chi joining) carries the lie.
    const fakeKey = attackerKey();
    server.announceKey('Binh', fakeKey, { to: ['An'] });
    const lieStartsAt = server.log.length;
    await joinRoom(chi.page, 'nhom hoc');

    // An is warned loudly, and Binh's row shows the changed key with sending paused.
    const banner = an.page.getByTestId('key-changed');
    await banner.filter({ hasText: 'Binh' }).waitFor();
    await expect.poll(() => row(an.page, 'Binh').getAttribute('data-trust')).toBe('changed');
    await expect.poll(() => row(an.page, 'Binh').getAttribute('data-connection')).toBe('blocked');
    await an.page.getByTestId('notice').filter({ hasText: "Binh's security key changed" }).waitFor();
    // Chi was told the truth and connects to both.
    await waitConnected(an.page, 'Chi', CONNECT.timeout);
    await waitConnected(chi.page, 'Binh', CONNECT.timeout);

    // A private message to Binh is refused on the spot, with a visible reason.
    const privateSecret = 'private to binh, secret-p-4c21';
    await sendPrivately(an.page, 'Binh', privateSecret);
    await an.page.getByRole('alert').filter({ hasText: 'key changed; accept or verify it before sending' }).waitFor();
    expect(await messages(an.page).filter({ hasText: 'secret-p-4c21' }).count()).toBe(0);

    // A message to everyone reaches Chi but not Binh (and no one holding the fake key).
    await an.page.locator('#recipient').selectOption('');
    const groupSecret = 'to everyone, secret-g-9b07';
    await sendMessage(an.page, groupSecret);
    await expect.poll(() => messages(chi.page).filter({ hasText: 'secret-g-9b07' }).count()).toBe(1);
    // Binh answers everyone: Chi gets it, An refuses the channel it would come over.
    await sendMessage(binh.page, 'binh to everyone, reply-5d3a');
    await expect.poll(() => messages(chi.page).filter({ hasText: 'reply-5d3a' }).count()).toBe(1);

    // Nothing An wrote after the lie reached Binh, and nothing Binh wrote reached An.
    for (const text of ['secret-p-4c21', 'secret-g-9b07']) expect(await messages(binh.page).filter({ hasText: text }).count()).toBe(0);
    expect(await messages(an.page).filter({ hasText: 'reply-5d3a' }).count()).toBe(0);
    await expect.poll(() => row(an.page, 'Binh').getAttribute('data-connection')).toBe('blocked');
    // While the key is in question An does not even try to connect to Binh's socket.
    const binhSocket = server.socketIdOf('Binh');
    expect(binhSocket).toBeDefined();
    expect(signalsFromTo(server.log.slice(lieStartsAt), 'An', binhSocket)).toEqual([]);
    // ...while it did before (the check looks at the right packets).
    expect(signalsFromTo(server.log.slice(0, lieStartsAt), 'An', binhSocket).length + signalsFromTo(server.log.slice(0, lieStartsAt), 'Binh', server.socketIdOf('An')).length).toBeGreaterThan(0);

    // The server relayed only names, keys and WebRTC signals: no plaintext, ever.
    const seen = server.everythingSeen();
    expect(seen).toContain(fakeKey); // the lie itself went out
    for (const text of ['hello-7a1e', 'secret-p-4c21', 'secret-g-9b07', 'reply-5d3a']) expect(seen).not.toContain(text);
  });

  it('a stranger the server lets into a password room gets no channel: the members refuse it in the handshake', async () => {
    server = await startMaliciousServer();
    server.admitEveryone('lop bi mat');
    const an = await open('An');
    const binh = await open('Binh');
    await createRoom(an.page, 'lop bi mat', 'correct horse battery');
    await joinRoom(binh.page, 'lop bi mat', 'correct horse battery');
    await waitConnected(an.page, 'Binh');
    await waitConnected(binh.page, 'An');

    // Eve guesses the password; the server lets her in anyway, and she is in the roster.
    const eve = await open('Eve');
    await joinRoom(eve.page, 'lop bi mat', 'a wrong guess');
    await row(an.page, 'Eve').waitFor({ state: 'attached', ...CONNECT });
    // Her hello cannot prove the password: both members refuse her, and say so.
    for (const page of [an.page, binh.page]) {
      await page.getByTestId('notice').filter({ hasText: 'Could not verify Eve' }).first().waitFor(CONNECT);
      await waitFailed(page, 'Eve');
    }

    // The members go on talking; nothing reaches Eve, nor the server.
    await sendMessage(an.page, 'members only secret-s-71ab');
    await expect.poll(() => messages(binh.page).filter({ hasText: 'secret-s-71ab' }).count()).toBe(1);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await messages(eve.page).filter({ hasText: 'secret-s-71ab' }).count()).toBe(0);
    expect(server.everythingSeen()).not.toContain('secret-s-71ab');
  });

  it('server giving a newcomer another key for a user gets no channel: both handshakes refuse it', async () => {
    server = await startMaliciousServer();
    const binh = await open('Binh');
    await createRoom(binh.page, 'lop toan');

    // An has never met Binh, so he pins whatever the server announces (trust on first use
    // can do no better); the server announces the attacker's key, in An's join ack and pushes.
    const fakeKey = attackerKey();
    server.announceKey('Binh', fakeKey, { to: ['An'] });
    const an = await open('An');
    await joinRoom(an.page, 'lop toan');
    expect(server.sent.some((p) => p.startsWith('3') && p.includes(fakeKey))).toBe(true);

    // Binh's signed hello carries his real key, and An's hello says which key An was given
    // for Binh: each side refuses, and says why.
    await an.page.getByTestId('notice').filter({ hasText: 'Could not verify Binh' }).filter({ hasText: 'not the announced key' }).first().waitFor(CONNECT);
    // Binh refuses by his own check ("given a different key for us") or on An's refusal,
    // whichever comes first.
    await binh.page.getByTestId('notice').filter({ hasText: 'Could not verify An' }).filter({ hasText: /different key for us|refused the connection/ }).first().waitFor(CONNECT);
    await waitFailed(an.page, 'Binh');
    await waitFailed(binh.page, 'An');

    // Their safety numbers differ, so comparing them would expose the substitution.
    const digits = async (page: Page, peer: string) => {
      await row(page, peer).getByRole('button', { name: 'Verify' }).click();
      const number = page.getByRole('dialog').getByTestId('safety-number');
      await expect.poll(async () => ((await number.textContent()) ?? '').replace(/\D/g, '').length).toBe(60);
      const value = ((await number.textContent()) ?? '').replace(/\D/g, '');
      await page.getByRole('dialog').getByRole('button', { name: 'Close' }).click();
      return value;
    };
    expect(await digits(an.page, 'Binh')).not.toBe(await digits(binh.page, 'An'));

    // What An writes waits in his outbox: no verified channel, no delivery.
    await sendMessage(an.page, 'to the real Binh? secret-n-2f90');
    await expect.poll(() => messages(an.page).filter({ hasText: 'secret-n-2f90' }).count()).toBe(1);
    expect(await messages(binh.page).filter({ hasText: 'secret-n-2f90' }).count()).toBe(0);
    expect(server.everythingSeen()).not.toContain('secret-n-2f90');
  });

  it('a server in the middle of the connection is detected before any message', async () => {
    server = await startMaliciousServer();
    const interception = server.interceptPair('An', 'Binh');
    const an = await open('An');
    const binh = await open('Binh');

    await createRoom(an.page, 'phong rieng');
    await joinRoom(binh.page, 'phong rieng');

    // Both browsers reach the attacker's WebRTC peer, DTLS and all, and send their signed
    // hello into it; each hello names certificates the other side never saw, so both
    // refuse the connection and say why.
    // (The UI shows the error's message; this is the one handshake.ts gives ERR_FINGERPRINT_MISMATCH.)
    const mismatch = 'DTLS fingerprints do not match this connection';
    const intercepted = (name: string) => `Could not verify ${name}: the connection may be intercepted. (${mismatch})`;
    await an.page.getByTestId('notice').filter({ hasText: intercepted('Binh') }).first().waitFor(CONNECT);
    await binh.page.getByTestId('notice').filter({ hasText: intercepted('An') }).first().waitFor(CONNECT);
    await waitFailed(an.page, 'Binh', mismatch);
    await waitFailed(binh.page, 'An', mismatch);

    // The attacker really was in the middle: both legs opened and it relayed both hellos.
    const full = interception.connections.find((c) => c.opened.size === 2);
    expect(full, 'the attacker never held both legs').toBeDefined();
    expect(full!.errors).toEqual([]);
    const hellos = full!.seen.filter((f) => !f.binary && (JSON.parse(f.text) as { t?: string }).t === 'hello');
    const helloUsers = hellos.map((f) => (JSON.parse(f.text) as { hello: { username: string } }).hello.username).sort();
    expect(helloUsers).toEqual(['An', 'Binh']);

    // An writes while the channel is refused: it stays in An's outbox, nothing goes out.
    const secret = 'through the middle? secret-m-38f6';
    await sendMessage(an.page, secret);
    await expect.poll(() => messages(an.page).filter({ hasText: 'secret-m-38f6' }).count()).toBe(1);

    expect(await messages(binh.page).filter({ hasText: 'secret-m-38f6' }).count()).toBe(0);

    // No application frame ever crossed the attacker: only hellos (and refusals, which it
    // kept), no sealed binary frame, in any connection attempt it sat in.
    for (const c of interception.connections) {
      for (const f of c.seen) {
        expect(f.binary).toBe(false);
        expect(['hello', 'bye']).toContain((JSON.parse(f.text) as { t?: string }).t);
      }
    }

    // Once the server stops interfering, the next attempt is verified end to end and the
    // waiting message arrives: it was held, never sent over the intercepted channel.
    server.stopIntercepting();
    await waitConnected(an.page, 'Binh', CONNECT.timeout);
    await waitConnected(binh.page, 'An', CONNECT.timeout);
    await expect.poll(() => messages(binh.page).filter({ hasText: 'secret-m-38f6' }).count(), { timeout: 30_000 }).toBe(1);

    // Neither the server nor its WebRTC peers ever held the plaintext.
    const seen = server.everythingSeen();
    expect(seen).toContain('"hello"'); // the attacker did read the hellos in the clear
    expect(seen).not.toContain('secret-m-38f6');
    expect(seen).not.toContain('through the middle');
  });
});
