// Must come first: idb and Dexie use the global indexedDB.
import 'fake-indexeddb/auto';
import { openDB } from 'idb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_SETTINGS, Keystore, openKeystore, type StoredIdentity } from '../../../client/src/core/store/keystore.ts';
import { freshName, T0 } from './helpers.ts';

const opened: Keystore[] = [];
async function open(name: string): Promise<Keystore> {
  const ks = await openKeystore(name);
  opened.push(ks);
  return ks;
}
afterEach(() => {
  for (const ks of opened.splice(0)) ks.close();
  vi.unstubAllGlobals();
});

async function generateIdentity(username?: string): Promise<StoredIdentity> {
  const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])) as CryptoKeyPair;
  const publicKey = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
  return { publicKey, privateKey: pair.privateKey, createdAt: T0, ...(username && { username }) };
}

/** A minimal Web Locks stand-in: callbacks for one name run one at a time. */
function fakeLocks() {
  const tails = new Map<string, Promise<unknown>>();
  return {
    request<T>(name: string, callback: () => Promise<T>): Promise<T> {
      const run = (tails.get(name) ?? Promise.resolve()).then(callback, callback);
      tails.set(name, run.catch(() => undefined));
      return run;
    },
  };
}

describe('keystore', () => {
  it('keeps the identity across restarts, and its private key stays non-extractable', async () => {
    const name = freshName('keys');
    const first = await open(name);
    const identity = await generateIdentity('an');
    await first.saveIdentity(identity);
    first.close();

    const second = await open(name);
    const loaded = await second.loadIdentity();
    expect(loaded?.username).toBe('an');
    expect(loaded?.createdAt).toBe(T0);
    expect(loaded?.publicKey).toEqual(identity.publicKey);
    expect(loaded?.privateKey.extractable).toBe(false);
    expect(loaded?.privateKey.type).toBe('private');
    if (!loaded) throw new Error('no identity');

    // It still signs, and what it signs verifies under the stored public key.
    const data = new TextEncoder().encode('challenge');
    const signature = await crypto.subtle.sign('Ed25519', loaded.privateKey, data);
    const pub = await crypto.subtle.importKey('raw', loaded.publicKey, 'Ed25519', false, ['verify']);
    expect(await crypto.subtle.verify('Ed25519', pub, signature, data)).toBe(true);
    await expect(crypto.subtle.exportKey('pkcs8', loaded.privateKey)).rejects.toThrow();
  });

  it('after the browser wiped storage, a new identity is made', async () => {
    const ks = await open(freshName('keys'));
    expect(await ks.loadIdentity()).toBeUndefined();
    const made = await ks.getOrCreateIdentity(() => generateIdentity());
    expect(await ks.loadIdentity()).toMatchObject({ publicKey: made.publicKey });
  });

  it('treats an unreadable stored identity as none instead of crashing', async () => {
    const name = freshName('keys');
    (await open(name)).close();
    const raw = await openDB(name, 1);
    await raw.put('identity', { publicKey: 'not bytes', privateKey: {} }, 'identity');
    raw.close();
    const ks = await open(name);
    expect(await ks.loadIdentity()).toBeUndefined();
  });

  it('two tabs starting at once end up with one identity (no Web Locks)', async () => {
    vi.stubGlobal('navigator', {});
    const name = freshName('keys');
    const [tabA, tabB] = await Promise.all([open(name), open(name)]);
    const create = vi.fn(() => generateIdentity());
    const [a, b] = await Promise.all([tabA.getOrCreateIdentity(create), tabB.getOrCreateIdentity(create)]);
    // Both tabs saw no identity and generated one: the race really happened...
    expect(create).toHaveBeenCalledTimes(2);
    // ...and the write re-check made the first stored identity everybody's.
    expect(a.publicKey).toEqual(b.publicKey);
    expect((await tabA.loadIdentity())?.publicKey).toEqual(a.publicKey);
    expect((await tabB.loadIdentity())?.publicKey).toEqual(a.publicKey);
  });

  it('two tabs starting at once end up with one identity, created once (Web Locks)', async () => {
    vi.stubGlobal('navigator', { locks: fakeLocks() });
    const name = freshName('keys');
    const [tabA, tabB] = await Promise.all([open(name), open(name)]);
    const create = vi.fn(() => generateIdentity());
    const results = await Promise.all([
      tabA.getOrCreateIdentity(create),
      tabB.getOrCreateIdentity(create),
      tabA.getOrCreateIdentity(create),
    ]);
    expect(create).toHaveBeenCalledOnce();
    for (const r of results) expect(r.publicKey).toEqual(results[0]?.publicKey);
  });

  it('settings fall back to defaults and keep what the user chose', async () => {
    const name = freshName('keys');
    const ks = await open(name);
    expect(await ks.loadSettings()).toEqual(DEFAULT_SETTINGS);
    expect(await ks.getSetting('theme')).toBe('system');

    await ks.setSetting('theme', 'dark');
    await ks.saveSettings({ language: 'vi', acceptDeleteRequests: true });
    expect(await ks.getSetting('theme')).toBe('dark');
    expect(await ks.loadSettings()).toEqual({ ...DEFAULT_SETTINGS, theme: 'dark', language: 'vi', acceptDeleteRequests: true });

    // A bad value is refused on the way in...
    await expect(ks.setSetting('theme', 'neon' as 'dark')).rejects.toThrow();
    // ...and one written by something else reads as the default.
    ks.close();
    const raw = await openDB(name, 1);
    await raw.put('settings', 'neon', 'theme');
    raw.close();
    const again = await open(name);
    expect(await again.getSetting('theme')).toBe('system');
    expect(await again.getSetting('language')).toBe('vi');
  });
});
