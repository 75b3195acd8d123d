import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { Notice, RoomSession } from '../../../client/src/core/chat/room-session.ts';
import { toB64u } from '../../../client/src/core/crypto/bytes.ts';
import { computeSafetyNumber } from '../../../client/src/core/crypto/safety-number.ts';
import { generateIdentityKeyPair } from '../../../client/src/core/crypto/sign.ts';
import { CliErrorCode, ExitCode } from '../../../cli/src/errors.ts';
import { HeadlessPeer } from '../../../cli/src/headless-peer.ts';
import { Home, HOME_FILES } from '../../../cli/src/home.ts';
import { Printer, runInteractive, showRoom } from '../../../cli/src/interactive.ts';
import { sendFileOnce, sendOnce } from '../../../cli/src/send-once.ts';
import type { SavedFile } from '../../../cli/src/files.ts';
import { DiskFileStore } from '../../../cli/src/disk-file-store.ts';
import { newFileId } from '../../../client/src/core/files/manifest.ts';
import { MemoryHub, MemorySignaling, meshUser, until, type MeshUser } from '../../support/memory-mesh.ts';

/**
 * The headless peer on core's in-memory network: real ChatClients, handshakes and
 * ciphers, the CLI's home folder on disk, no WebRTC (that is what tests/e2e/cli-peer covers).
 */

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function tempHome(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cli-home-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function openBot(hub: MemoryHub, home: string, opts: { user?: string; onRoom?: (r: RoomSession) => void; onFileSaved?: (f: SavedFile) => void } = {}): Promise<HeadlessPeer> {
  const peer = await HeadlessPeer.open({
    server: 'memory://hub',
    room: 'lobby',
    home,
    signaling: new MemorySignaling(hub),
    peers: hub.factory(),
    ...opts,
  });
  cleanups.push(() => peer.close());
  return peer;
}

async function person(hub: MemoryHub, name: string): Promise<{ user: MeshUser; room: RoomSession }> {
  const user = await meshUser(hub, name);
  cleanups.push(() => user.client.close());
  const r = await user.client.joinRoom('lobby', { create: true });
  if (!r.ok) throw new Error(r.message);
  return { user, room: r.value };
}

const connected = (room: RoomSession, n: number) => room.members.filter((m) => m.online && m.connection === 'open').length === n;

function captured() {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (d: Buffer) => (text += d.toString('utf8')));
  return { stream, text: () => text };
}

describe('the headless peer', () => {
  it('keeps its identity, username and contacts’ pinned keys across restarts, and notices a lying server after one', async () => {
    const hub = new MemoryHub();
    const home = await tempHome();
    const first = await openBot(hub, home, { user: 'Bot' });
    const an = await person(hub, 'An');
    await until(() => connected(first.room, 1) && connected(an.room, 1));
    const botKey = toB64u(first.client.identity.publicKey);
    await first.close();

    // The key never leaves the folder readable by others.
    expect((await stat(join(home, HOME_FILES.identity))).mode & 0o777).toBe(0o600);
    expect(await readFile(join(home, HOME_FILES.identity), 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);

    // The server now lies about An's key; the restarted bot knows better.
    const impostor = toB64u((await generateIdentityKeyPair()).publicKey);
    hub.rewriteMembers = (members) => members.map((m) => (m.username === 'An' ? { ...m, publicKey: impostor } : m));
    const notices: Notice[] = [];
    const again = await openBot(hub, home, { onRoom: (r) => r.on('notice', (n) => notices.push(n)) });
    expect(again.username).toBe('Bot');
    expect(toB64u(again.client.identity.publicKey)).toBe(botKey);
    expect(again.room.member('An')?.trust).toBe('changed');
    expect(again.room.member('An')?.connection).toBe('blocked');
    expect(notices.map((n) => `${n.kind} ${n.user}`)).toContain('key-changed An');
  });

  it('send mode exits 0 once every member online confirmed delivery', async () => {
    const hub = new MemoryHub();
    const bot = await openBot(hub, await tempHome(), { user: 'Bot' });
    const an = await person(hub, 'An');
    const binh = await person(hub, 'Binh');
    await until(() => connected(bot.room, 2) && connected(an.room, 2) && connected(binh.room, 2));
    const out = captured();
    const err = captured();
    const code = await sendOnce(bot, 'deploy finished', { timeoutMs: 30_000, out: out.stream, errors: err.stream });
    expect(code).toBe(ExitCode.Ok);
    expect(out.text()).toContain('delivered to 2 of 2');
    for (const p of [an, binh]) expect((await p.room.history()).map((m) => m.body)).toEqual(['deploy finished']);
  });

  it('send mode exits 3 and says why when a member cannot confirm, or when no one is there', async () => {
    const hub = new MemoryHub();
    const bot = await openBot(hub, await tempHome(), { user: 'Bot' });
    const err = captured();
    expect(await sendOnce(bot, 'anyone?', { timeoutMs: 30_000, out: new PassThrough(), errors: err.stream })).toBe(ExitCode.NotConfirmed);
    expect(err.text()).toContain('no one else is in lobby');

    const an = await person(hub, 'An');
    await until(() => connected(bot.room, 1));
    // An's key changes under the bot's eyes (a server lie, or An reinstalled): nothing goes to An.
    const other = toB64u((await generateIdentityKeyPair()).publicKey);
    hub.rewriteMembers = (members) => members.map((m) => (m.username === 'An' ? { ...m, publicKey: other } : m));
    hub.pushAll();
    await until(() => bot.room.member('An')?.trust === 'changed');
    const err2 = captured();
    expect(await sendOnce(bot, 'are you there?', { timeoutMs: 30_000, out: new PassThrough(), errors: err2.stream })).toBe(ExitCode.NotConfirmed);
    expect(err2.text()).toContain('delivery confirmed by 0 of 1');
    expect(err2.text()).toContain('An: their key changed');
    expect((await an.room.history()).map((m) => m.body)).not.toContain('are you there?');
  });

  it('interactive mode sends lines and private messages, prints the safety number, and shows peers’ text harmlessly', async () => {
    const hub = new MemoryHub();
    const input = new PassThrough();
    const out = captured();
    let bot: HeadlessPeer | undefined;
    const printer = new Printer(out.stream);
    bot = await openBot(hub, await tempHome(), { user: 'Bot', onRoom: (r) => showRoom(r, (l) => printer.line(l), () => bot?.username ?? 'Bot') });
    const an = await person(hub, 'An');
    const binh = await person(hub, 'Binh');
    await until(() => connected(bot!.room, 2) && connected(an.room, 2) && connected(binh.room, 2));

    const done = runInteractive(bot, printer, { input, output: out.stream, errors: new PassThrough() }, 30_000);
    // A peer's text with terminal escapes (clear screen) is shown, not obeyed.
    await an.room.sendText('\u001b[2Jhello from An');
    await until(() => out.text().includes('hello from An'));
    input.write('good morning everyone\n');
    input.write('/msg An only for you\n');
    input.write('/verify An\n');
    input.write('/members\n');
    input.write('/bogus\n');
    input.end();
    expect(await done).toBe(ExitCode.Ok);

    const text = out.text();
    expect(text).toMatch(/\] An \[unverified\]: \\u\{1b\}\[2Jhello from An/);
    expect(text).not.toContain('\u001b');
    expect(text).toContain('unknown command /bogus');
    expect(text).toMatch(/An\s+online\s+open\s+unverified/);
    // The digits the bot prints are the ones An's app shows for the bot.
    const printed = /safety number with An: ([\d ]+)/.exec(text)?.[1]?.trim();
    const anSees = await computeSafetyNumber(
      { username: 'an', publicKey: an.user.client.identity.publicKey },
      { username: 'bot', publicKey: an.room.pinnedKey('Bot')! },
    );
    expect(printed).toBe(anSees);
    // The group line reached both; the private one only An.
    const anGot = (await an.room.history()).map((m) => `${m.body}${m.to ? ` → ${m.to}` : ''}`);
    const binhGot = (await binh.room.history()).map((m) => m.body);
    expect(anGot).toContain('good morning everyone');
    expect(anGot).toContain('only for you → An');
    expect(binhGot).toContain('good morning everyone');
    expect(binhGot).not.toContain('only for you');
  });

  it('a file from one terminal peer is saved by another once verified, same SHA-256, never over an existing file', async () => {
    const hub = new MemoryHub();
    const work = await tempHome();
    const saved: SavedFile[] = [];
    const sender = await openBot(hub, await tempHome(), { user: 'Sender' });
    const receiverHome = await tempHome();
    const receiver = await openBot(hub, receiverHome, { user: 'Receiver', onFileSaved: (f) => saved.push(f) });
    await until(() => connected(sender.room, 1) && connected(receiver.room, 1));
    const bytes = randomBytes(300 * 1024 + 17);
    const path = join(work, 'report.bin');
    await writeFile(path, bytes);
    const sha = createHash('sha256').update(bytes).digest('hex');

    const err = captured();
    const out = captured();
    expect(await sendFileOnce(sender, path, { timeoutMs: 30_000, out: out.stream, errors: err.stream })).toBe(ExitCode.Ok);
    expect(out.text()).toContain('file verified by 1 of 1: receiver');
    await until(() => saved.length === 1);
    expect(saved[0]).toMatchObject({ from: 'Sender', name: 'report.bin', sha256: sha, path: join(receiverHome, 'downloads', 'report.bin') });
    expect(createHash('sha256').update(await readFile(saved[0]!.path)).digest('hex')).toBe(sha);
    expect((await stat(saved[0]!.path)).mode & 0o777).toBe(0o600);

    // The same name again lands beside it.
    await sender.sendFileAndConfirm(path, { timeoutMs: 30_000 });
    await until(() => saved.length === 2);
    expect(saved[1]!.path).toBe(join(receiverHome, 'downloads', 'report (1).bin'));
    expect((await readdir(join(receiverHome, 'downloads'))).sort()).toEqual(['report (1).bin', 'report.bin']);
  });

  it('a file verified just before the terminal peer stopped is saved when it starts again, and nothing is left in its files folder', async () => {
    const hub = new MemoryHub();
    const home = await tempHome();
    const first = await openBot(hub, home, { user: 'Receiver' });
    const room = first.room.key;
    await first.close();

    // What a stop between "verified" and "saved" leaves behind in the home folder.
    const bytes = randomBytes(40 * 1024 + 5);
    const sha = createHash('sha256').update(bytes).digest('hex');
    const store = await DiskFileStore.open(join(home, HOME_FILES.files));
    const id = newFileId();
    const chunkSize = 16 * 1024;
    await store.add({ id, room, from: 'Sender', name: 'left.bin', size: bytes.length, type: '', sha256: sha, chunkSize, chunkCount: 3, signature: 'sig', sentAt: Date.now() });
    await store.putChunks(id, [0, 1, 2].map((index) => ({ index, data: bytes.subarray(index * chunkSize, (index + 1) * chunkSize) })));
    await store.setState(id, 'verified');
    store.close();

    const saved: SavedFile[] = [];
    await openBot(hub, home, { onFileSaved: (f) => saved.push(f) });
    await until(() => saved.length === 1);
    expect(saved[0]).toMatchObject({ id, name: 'left.bin', sha256: sha, path: join(home, 'downloads', 'left.bin') });
    expect(createHash('sha256').update(await readFile(saved[0]!.path)).digest('hex')).toBe(sha);
    expect(await readdir(join(home, HOME_FILES.files))).toEqual([`${id}.json`]);
  });

  it('one process per home folder; a lock left by a dead process is taken over', async () => {
    const home = await tempHome();
    const first = await Home.open(home);
    cleanups.push(() => first.close());
    await expect(Home.open(home)).rejects.toMatchObject({ code: CliErrorCode.HomeLocked });
    await first.close();
    // A pid that cannot be running (above the kernel's limit).
    await writeFile(join(home, HOME_FILES.lock), '99999999');
    const second = await Home.open(home);
    await second.close();
  });

  it('refuses an identity key file that other users can read', async () => {
    const home = await tempHome();
    await (await Home.open(home)).close();
    await chmod(join(home, HOME_FILES.identity), 0o644);
    await expect(Home.open(home)).rejects.toMatchObject({ code: CliErrorCode.Identity, message: expect.stringContaining('chmod 600') });
  });
});
