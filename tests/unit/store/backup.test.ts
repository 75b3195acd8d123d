// Must come first: Dexie picks up the global indexedDB when it is first imported.
import 'fake-indexeddb/auto';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../client/src/core/errors.ts';
import {
  exportBackup,
  FILE_NOT_IN_BACKUP,
  importBackup,
  readBackupData,
  restoreBackup,
  restoreBackupFile,
  type BackupInput,
} from '../../../client/src/core/store/backup.ts';
import type { ChatDatabase } from '../../../client/src/core/store/db.ts';
import { addFile, putChunk } from '../../../client/src/core/store/files.ts';
import { BACKUP_PBKDF2_ITERATIONS } from '../../../client/src/core/store/limits.ts';
import { addMessages } from '../../../client/src/core/store/messages.ts';
import { pinContactKey } from '../../../client/src/core/store/contacts.ts';
import { saveRoom } from '../../../client/src/core/store/rooms.ts';
import { searchMessages } from '../../../client/src/core/store/search.ts';
import { DAY_MS, makeFile, makeMessage, ManualClock, openFreshDb, T0 } from './helpers.ts';

const dbs: ChatDatabase[] = [];
afterEach(() => {
  for (const db of dbs.splice(0)) db.close();
});
function fresh(): ChatDatabase {
  const db = openFreshDb();
  dbs.push(db);
  return db;
}

// Few iterations keep the suite fast; one test checks the real default.
const FAST = { iterations: 1_000 };
const PASSPHRASE = 'correct horse battery staple';
const clock = new ManualClock(T0 + DAY_MS);

let identity: BackupInput['identity'];
let signingKey: CryptoKey;
beforeAll(async () => {
  const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as CryptoKeyPair;
  signingKey = pair.publicKey;
  identity = {
    publicKey: new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey)),
    privateKeyPkcs8: new Uint8Array(await crypto.subtle.exportKey('pkcs8', pair.privateKey)),
    username: 'an',
  };
});

/** A database with a bit of everything, as a user would have it. */
async function populated(): Promise<ChatDatabase> {
  const db = fresh();
  await saveRoom(db, { name: 'general', locked: false }, clock);
  await saveRoom(db, { name: 'dm:an:binh', locked: false, direct: 'binh' }, clock);
  await pinContactKey(db, 'binh', 'YmluaC1rZXk', clock);
  await pinContactKey(db, 'chi', 'Y2hpLWtleQ', clock);
  const file = makeFile({ name: 'Ảnh Đà Lạt.jpg', chunkCount: 1 });
  await addMessages(
    db,
    [
      makeMessage({ body: 'Chúng ta đi Đà Nẵng nhé', status: 'delivered', deliveredTo: ['binh'] }),
      makeMessage({ room: 'dm:an:binh', to: 'binh', body: 'riêng tư', sentAt: T0 + 1 }),
      makeMessage({ id: file.id, kind: 'file', body: JSON.stringify({ file: file.id }), searchText: file.name }),
    ],
    clock,
  );
  await addFile(db, file, clock);
  await putChunk(db, file.id, 0, new Uint8Array([1, 2, 3]));
  return db;
}

async function snapshot(db: ChatDatabase) {
  return {
    rooms: await db.rooms.toArray(),
    messages: await db.messages.toArray(),
    files: await db.files.toArray(),
    chunks: await db.chunks.count(),
    contacts: await db.contacts.toArray(),
  };
}

// ----- tools to damage a backup file the way the world would

function headerOf(file: Uint8Array): { length: number; json: Record<string, unknown> } {
  const length = new DataView(file.buffer, file.byteOffset).getUint32(4);
  const json = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + length))) as Record<string, unknown>;
  return { length, json };
}

async function withChecksum(body: Uint8Array): Promise<Uint8Array> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', body.slice()));
  const out = new Uint8Array(body.length + digest.length);
  out.set(body);
  out.set(digest, body.length);
  return out;
}

/** Rewrites the header and fixes the length and checksum, as a careful forger would. */
async function forgeHeader(file: Uint8Array, edit: (h: Record<string, unknown>) => void): Promise<Uint8Array> {
  const { length, json } = headerOf(file);
  edit(json);
  const header = new TextEncoder().encode(JSON.stringify(json));
  const rest = file.subarray(8 + length, file.length - 32);
  const body = new Uint8Array(8 + header.length + rest.length);
  body.set(file.subarray(0, 4));
  new DataView(body.buffer).setUint32(4, header.length);
  body.set(header, 8);
  body.set(rest, 8 + header.length);
  return withChecksum(body);
}

async function failure(p: Promise<unknown>): Promise<{ code?: string; message?: string }> {
  try {
    await p;
  } catch (e) {
    return e as { code?: string; message?: string };
  }
  throw new Error('expected a failure');
}

describe('backup', () => {
  it('moves identity, contacts and history to another device', async () => {
    const source = await populated();
    const data = await readBackupData(source);
    const file = await exportBackup({ identity, ...data }, PASSPHRASE, clock, FAST);

    const contents = await importBackup(file, PASSPHRASE);
    expect(contents.identity.username).toBe('an');
    // A view into a larger buffer (a file read in pieces, a Node Buffer) opens too.
    const padded = new Uint8Array(file.length + 16);
    padded.set(file, 7);
    await expect(importBackup(padded.subarray(7, 7 + file.length), PASSPHRASE)).resolves.toEqual(contents);
    expect(contents.identity.publicKey).toEqual(identity.publicKey);
    expect(contents.identity.privateKeyPkcs8).toEqual(identity.privateKeyPkcs8);

    // The restored private key signs for the same public key.
    const key = await crypto.subtle.importKey('pkcs8', contents.identity.privateKeyPkcs8, 'Ed25519', false, ['sign']);
    const msg = new TextEncoder().encode('hello');
    expect(await crypto.subtle.verify('Ed25519', signingKey, await crypto.subtle.sign('Ed25519', key, msg), msg)).toBe(true);

    const target = fresh();
    const restored = await restoreBackup(target, contents, clock);
    expect(restored).toEqual({ contacts: 2, rooms: 2, messages: 3, files: 1 });

    const before = await snapshot(source);
    const after = await snapshot(target);
    expect(after.contacts).toEqual(before.contacts);
    expect(after.rooms).toEqual(before.rooms);
    expect(after.messages.map(({ receivedAt: _r, expiresAt: _e, ...m }) => m)).toEqual(
      before.messages.map(({ receivedAt: _r, expiresAt: _e, ...m }) => m),
    );
    // Manifests only: the file is listed but its data did not travel.
    expect(after.chunks).toBe(0);
    expect(after.files[0]).toMatchObject({ name: 'Ảnh Đà Lạt.jpg', state: 'failed', error: FILE_NOT_IN_BACKUP });
    // Search works on the new device, file names included.
    expect(await searchMessages(target, 'da nang')).toHaveLength(1);
    expect(await searchMessages(target, 'anh da lat')).toHaveLength(1);

    // Restoring twice adds nothing.
    expect(await restoreBackup(target, contents, clock)).toEqual({ contacts: 0, rooms: 0, messages: 0, files: 0 });
  });

  it('can leave history out', async () => {
    const source = await populated();
    const { contacts } = await readBackupData(source);
    const file = await exportBackup({ identity, contacts }, PASSPHRASE, clock, FAST);
    const contents = await importBackup(file, PASSPHRASE);
    expect(contents.history).toBeUndefined();
    const target = fresh();
    expect(await restoreBackup(target, contents, clock)).toEqual({ contacts: 2, rooms: 0, messages: 0, files: 0 });
  });

  it('uses 600,000 PBKDF2 iterations unless told otherwise', async () => {
    const file = await exportBackup({ identity, contacts: [] }, PASSPHRASE, clock);
    expect(BACKUP_PBKDF2_ITERATIONS).toBe(600_000);
    expect(headerOf(file).json).toMatchObject({
      format: 'p2p-chat-backup',
      version: 1,
      cipher: 'AES-256-GCM',
      kdf: { name: 'PBKDF2-SHA256', iterations: 600_000 },
    });
  });

  it('opens with the same passphrase typed with composed or decomposed accents', async () => {
    const file = await exportBackup({ identity, contacts: [] }, 'mật khẩu bí mật'.normalize('NFC'), clock, FAST);
    await expect(importBackup(file, 'mật khẩu bí mật'.normalize('NFD'))).resolves.toMatchObject({ identity: { username: 'an' } });
  });

  it('refuses a wrong passphrase clearly and overwrites nothing', async () => {
    const db = await populated();
    const file = await exportBackup({ identity, ...(await readBackupData(db)) }, PASSPHRASE, clock, FAST);
    const before = await snapshot(db);
    const e = await failure(restoreBackupFile(db, file, 'Correct horse battery staple'));
    expect(e.code).toBe(ErrorCode.BackupPassphrase);
    expect(e.message).toMatch(/wrong passphrase/i);
    expect(await snapshot(db)).toEqual(before);
    await expect(exportBackup({ identity, contacts: [] }, '', clock, FAST)).rejects.toMatchObject({
      code: ErrorCode.BackupPassphrase,
    });
  });

  it('refuses a damaged, truncated or altered file clearly and overwrites nothing', async () => {
    const source = await populated();
    const file = await exportBackup({ identity, ...(await readBackupData(source)) }, PASSPHRASE, clock, FAST);
    const target = fresh();
    await saveRoom(target, { name: 'keep-me', locked: false }, clock);
    await addMessages(target, [makeMessage({ room: 'keep-me', body: 'local only' })], clock);
    const before = await snapshot(target);

    const { length } = headerOf(file);
    const cipherStart = 8 + length;
    const flipped = file.slice();
    flipped[cipherStart + 5] = (flipped[cipherStart + 5] ?? 0) ^ 0x01;
    const flippedHeader = file.slice();
    flippedHeader[20] = (flippedHeader[20] ?? 0) ^ 0x01;
    const tamperedCiphertext = file.slice(0, -32);
    tamperedCiphertext[cipherStart + 5] = (tamperedCiphertext[cipherStart + 5] ?? 0) ^ 0x01;

    const cases: [string, Uint8Array | Promise<Uint8Array>, RegExp][] = [
      ['one byte flipped in the ciphertext', flipped, /damaged/],
      ['one byte flipped in the header', flippedHeader, /damaged/],
      ['cut short', file.slice(0, file.length - 100), /damaged|incomplete/],
      ['cut to almost nothing', file.slice(0, 10), /damaged|incomplete/],
      ['not a backup at all', new TextEncoder().encode('just some text file, not a backup at all......'), /not a chat backup/],
      ['ciphertext altered, checksum fixed', withChecksum(tamperedCiphertext), /altered/],
      ['iv altered, checksum fixed', forgeHeader(file, (h) => void (h.iv = 'AAAAAAAAAAAAAAAA')), /altered/],
      ['createdAt altered, checksum fixed', forgeHeader(file, (h) => void (h.createdAt = 1)), /altered/],
      ['unknown format version', forgeHeader(file, (h) => void (h.version = 2)), /version 2/],
      ['unknown cipher', forgeHeader(file, (h) => void (h.cipher = 'ROT13')), /does not understand/],
      ['absurd iteration count', forgeHeader(file, (h) => void ((h.kdf as { iterations: number }).iterations = 1e12)), /does not understand/],
    ];
    for (const [what, bytes, message] of cases) {
      const e = await failure(restoreBackupFile(target, await bytes, PASSPHRASE, clock));
      expect({ what, code: e.code }).toEqual({ what, code: ErrorCode.Backup });
      expect(e.message, what).toMatch(message);
      expect(e.message, what).toMatch(/nothing was restored/);
    }
    expect(await snapshot(target)).toEqual(before);
  });

  it('never replaces a key already pinned on this device', async () => {
    const source = await populated();
    const file = await exportBackup({ identity, ...(await readBackupData(source)) }, PASSPHRASE, clock, FAST);
    const target = fresh();
    await pinContactKey(target, 'binh', 'b3RoZXIta2V5', clock);
    const { restored } = await restoreBackupFile(target, file, PASSPHRASE, clock);
    expect(restored.contacts).toBe(1);
    expect((await target.contacts.get('binh'))?.publicKey).toBe('b3RoZXIta2V5');
    expect((await target.contacts.get('chi'))?.publicKey).toBe('Y2hpLWtleQ');
  });

  it('skips history that expired while the backup sat in a drawer', async () => {
    const source = await populated();
    const file = await exportBackup({ identity, ...(await readBackupData(source)) }, PASSPHRASE, clock, FAST);
    const target = fresh();
    const { restored } = await restoreBackupFile(target, file, PASSPHRASE, new ManualClock(T0 + 30 * DAY_MS));
    expect(restored).toEqual({ contacts: 2, rooms: 2, messages: 0, files: 0 });
  });
});
