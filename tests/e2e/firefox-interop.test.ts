import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import type { Socket } from 'socket.io';
import { launchChromium, openUser, type User } from '../support/browser.ts';
import { ChatTab, playwrightDriver } from '../support/chat-tab.ts';
import { launchFirefox, openFirefoxUser, type FirefoxBrowser, type FirefoxUser } from '../support/firefox.ts';
import { startMaliciousServer, type MaliciousServer } from '../support/malicious-server.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

type BrowserName = 'firefox' | 'chromium';

/**
 * Decides which browser sends the WebRTC offer. Of two members, the one whose socket id
 * sorts first offers (room-session.ts) and socket ids are random, so this prefixes each
 * new socket's id by its browser: a test can then run the same steps with each side
 * offering. Only the id changes; the server is otherwise untouched.
 */
function pinOfferer(server: TestServer): { set(first: BrowserName): void } {
  let first: BrowserName = 'firefox';
  const nsp = server.io.of('/') as unknown as { _preConnectSockets: Map<string, Socket> };
  server.io.use((socket, next) => {
    const browser: BrowserName = /Firefox\//.test(socket.handshake.headers['user-agent'] ?? '') ? 'firefox' : 'chromium';
    const id = `${browser === first ? 'a' : 'b'}${socket.id}`;
    // NOTE: Socket.IO files a connecting socket under its id until the handshake ends.
    nsp._preConnectSockets.delete(socket.id);
    (socket as { id: string }).id = id;
    nsp._preConnectSockets.set(id, socket);
    next();
  });
  return { set: (b) => void (first = b) };
}

/** WebRTC offers the server relayed to a socket of the pinned answering side ('b' prefix). */
const offersToAnswerer = (server: TestServer) => server.received.filter((p) => p.includes('"signal"') && p.includes('"to":"b') && p.includes('"type":"offer"'));

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let chromium: Browser;
let firefox: FirefoxBrowser;
const users: (User | FirefoxUser)[] = [];

beforeAll(async () => {
  [chromium, firefox] = await Promise.all([launchChromium(), launchFirefox()]);
});
afterAll(async () => {
  await chromium?.close();
  await firefox?.close();
});

async function closeUsers(): Promise<void> {
  for (const u of users.splice(0)) await u.context.close().catch(() => undefined);
}

/** A Firefox profile and a Chromium profile, logged in as `fxName` and `crName`. */
async function openPair(url: string, fxName: string, crName: string): Promise<{ fx: ChatTab; cr: ChatTab }> {
  const f = await openFirefoxUser(firefox, url, fxName);
  users.push(f);
  const c = await openUser(chromium, url, crName);
  users.push(c);
  return { fx: f.tab, cr: new ChatTab(playwrightDriver(c.page), crName) };
}

/** `a` creates `room`, `b` joins, and both wait for the verified channel. */
async function meet(a: ChatTab, b: ChatTab, room: string): Promise<void> {
  await a.createRoom(room);
  await b.joinRoom(room);
  await a.waitConnected(b.name);
  await b.waitConnected(a.name);
}

describe('Firefox and Chromium users in one room', () => {
  let server: TestServer;
  let offerer: { set(first: BrowserName): void };
  let dir: string;

  beforeAll(async () => {
    server = await startTestServer();
    offerer = pinOfferer(server);
    dir = await mkdtemp(join(tmpdir(), 'chat-firefox-'));
  });
  afterEach(closeUsers);
  afterAll(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it.each(['firefox', 'chromium'] as const)('chat in the room and privately works both ways when %s offers the connection', async (first) => {
    offerer.set(first);
    const tag = first === 'firefox' ? 'f' : 'c';
    const { fx, cr } = await openPair(server.url, `Fox-${tag}`, `Crom-${tag}`);
    const offersBefore = offersToAnswerer(server).length;
    // The offering side also creates the room here, so each browser plays both parts once.
    const [creator, joiner] = first === 'firefox' ? [fx, cr] : [cr, fx];
    await meet(creator, joiner, `mixed room ${tag}`);
    // The pinned side really did offer: the offer went to the other browser's socket.
    expect(offersToAnswerer(server).length).toBeGreaterThan(offersBefore);

    await fx.send(`from firefox to everyone ${tag}`);
    expect(await cr.waitMessage(`from firefox to everyone ${tag}`)).toEqual({ from: fx.name, text: `from firefox to everyone ${tag}`, private: false });
    await cr.send(`from chromium to everyone ${tag}`);
    expect(await fx.waitMessage(`from chromium to everyone ${tag}`)).toEqual({ from: cr.name, text: `from chromium to everyone ${tag}`, private: false });

    await fx.send(`firefox, privately ${tag}`, cr.name);
    expect(await cr.waitMessage(`firefox, privately ${tag}`)).toEqual({ from: fx.name, text: `firefox, privately ${tag}`, private: true });
    await cr.send(`chromium, privately ${tag}`, fx.name);
    expect(await fx.waitMessage(`chromium, privately ${tag}`)).toEqual({ from: cr.name, text: `chromium, privately ${tag}`, private: true });

    // Delivery receipts come back across browsers too.
    for (const tab of [fx, cr]) {
      await tab.until(
        'both own messages delivered',
        () => {
          const receipts = [...document.querySelectorAll('[data-testid="delivery"]')];
          return receipts.length === 2 && receipts.every((d) => d.textContent?.includes('Delivered to 1 of 1'));
        },
        null,
      );
    }
    // Each side shows the direct path and its measured round trip, from its own stats.
    expect(await fx.waitPath(cr.name)).toMatch(/^Direct · [\d.]+ ms$/);
    expect(await cr.waitPath(fx.name)).toMatch(/^Direct · [\d.]+ ms$/);
    // Nothing went through the server in the clear.
    expect(server.received.join('\n')).not.toContain(`privately ${tag}`);
  });

  it('the verify dialog shows the same safety number in Firefox and in Chromium', async () => {
    offerer.set('firefox');
    const { fx, cr } = await openPair(server.url, 'Fox-v', 'Crom-v');
    await meet(fx, cr, 'verify across');
    const seenInFirefox = await fx.openVerify(cr.name);
    const seenInChromium = await cr.openVerify(fx.name);
    expect(seenInFirefox).toMatch(/^\d{60}$/);
    expect(seenInChromium).toBe(seenInFirefox);
    await fx.markVerified(cr.name);
    await cr.markVerified(fx.name);
  });

  it('a 20 MB file crosses each way and arrives verified with the same SHA-256', async () => {
    offerer.set('chromium');
    const { fx, cr } = await openPair(server.url, 'Fox-file', 'Crom-file');
    await meet(cr, fx, 'files across');
    const files = { fromFirefox: randomBytes(20 * 1024 * 1024), fromChromium: randomBytes(20 * 1024 * 1024) };
    await writeFile(join(dir, 'from-firefox.bin'), files.fromFirefox);
    await writeFile(join(dir, 'from-chromium.bin'), files.fromChromium);

    // Both at once: each browser sends and receives over the same channel.
    await fx.sendFile(join(dir, 'from-firefox.bin'));
    await cr.sendFile(join(dir, 'from-chromium.bin'));
    expect(await cr.waitFileVerified('from-firefox.bin')).toContain(`Verified from ${fx.name}`);
    expect(await fx.waitFileVerified('from-chromium.bin')).toContain(`Verified from ${cr.name}`);
    expect(await cr.downloadDigest('from-firefox.bin')).toEqual({ sha256: sha256(files.fromFirefox), size: files.fromFirefox.length });
    expect(await fx.downloadDigest('from-chromium.bin')).toEqual({ sha256: sha256(files.fromChromium), size: files.fromChromium.length });
  });

  it('a Firefox tab reloaded mid-chat comes back as one member with its history', async () => {
    // Firefox offers, so after the reload Chromium gets a new offer from the same user for a
    // channel it still holds: it must start a new connection, never renegotiate the old one.
    offerer.set('firefox');
    const { fx, cr } = await openPair(server.url, 'Fox-r', 'Crom-r');
    await meet(fx, cr, 'reload across');
    await fx.send('before the reload, from firefox');
    await cr.waitMessage('before the reload, from firefox');
    await cr.send('before the reload, from chromium');
    await fx.waitMessage('before the reload, from chromium');
    const before = await fx.messages();

    await fx.reload();
    await fx.until('the app back, logged in', (name) => document.querySelector('[data-testid="me"]')?.textContent?.includes(name) ?? false, fx.name);
    await fx.openJoinedRoom('reload across');
    await fx.waitConnected(cr.name);
    await cr.waitConnected(fx.name);
    // Chat flows again both ways over the new channel.
    await fx.send('after the reload, from firefox');
    await cr.waitMessage('after the reload, from firefox');
    await cr.send('after the reload, from chromium');
    await fx.waitMessage('after the reload, from chromium');

    // One member each side, not two, and the history is whole and in order, without duplicates.
    expect((await cr.members()).filter((m) => m.username === fx.name)).toEqual([{ username: fx.name, connection: 'open', trust: 'new' }]);
    expect((await fx.members()).map((m) => m.username)).toEqual([cr.name]);
    const texts = ['before the reload, from firefox', 'before the reload, from chromium', 'after the reload, from firefox', 'after the reload, from chromium'];
    expect((await fx.messages()).map((m) => m.text)).toEqual(texts);
    expect((await cr.messages()).map((m) => m.text)).toEqual(texts);
    expect((await fx.messages()).slice(0, 2)).toEqual(before);
  });
});

describe('a malicious signaling server between Firefox and Chromium', () => {
  let server: MaliciousServer;
  afterEach(async () => {
    await closeUsers();
    await server?.stop();
  });

  it('a server in the middle of the connection is detected by both browsers before any message', async () => {
    server = await startMaliciousServer();
    const interception = server.interceptPair('Anh', 'Bao');
    const { fx: an, cr: binh } = await openPair(server.url, 'Anh', 'Bao');
    await an.createRoom('phong giua');
    await binh.joinRoom('phong giua');

    // Both browsers reach the attacker's WebRTC peer and send their signed hello into it;
    // each hello names certificates the other side never saw, so both refuse.
    const mismatch = 'DTLS fingerprints do not match this connection';
    const intercepted = (name: string) => `Could not verify ${name}: the connection may be intercepted. (${mismatch})`;
    await an.waitNotice(intercepted('Bao'), 90_000);
    await binh.waitNotice(intercepted('Anh'), 90_000);
    await an.waitFailed('Bao', mismatch);
    await binh.waitFailed('Anh', mismatch);

    // The attacker really held both legs (Firefox's and Chromium's) and relayed both hellos.
    const full = interception.connections.find((c) => c.opened.size === 2);
    expect(full, 'the attacker never held both legs').toBeDefined();
    expect(full!.errors).toEqual([]);
    const hellos = full!.seen.filter((f) => !f.binary && (JSON.parse(f.text) as { t?: string }).t === 'hello');
    expect(hellos.map((f) => (JSON.parse(f.text) as { hello: { username: string } }).hello.username).sort()).toEqual(['Anh', 'Bao']);

    // What Firefox's user writes meanwhile waits in the outbox.
    await an.send('qua nguoi o giua? secret-fx-51c8');

    // No application frame crossed the attacker: only hellos and refusals.
    for (const c of interception.connections) {
      for (const f of c.seen) {
        expect(f.binary).toBe(false);
        expect(['hello', 'bye']).toContain((JSON.parse(f.text) as { t?: string }).t);
      }
    }

    // Once the server stops interfering, the next attempt is verified end to end and the
    // waiting message arrives.
    server.stopIntercepting();
    await an.waitConnected('Bao', 90_000);
    await binh.waitConnected('Anh', 90_000);
    await binh.waitMessage('qua nguoi o giua? secret-fx-51c8');
    expect(server.everythingSeen()).not.toContain('secret-fx-51c8');
  });
});
