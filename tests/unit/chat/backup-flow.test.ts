import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { createBackupFile, restoreBackupFile } from '../../../client/src/core/chat/backup-flow.ts';
import { createIdentity } from '../../../client/src/core/chat/identity.ts';
import { verifyBytes, signBytes } from '../../../client/src/core/crypto/sign.ts';
import { ErrorCode, isChatError } from '../../../client/src/core/errors.ts';
import { openKeystore } from '../../../client/src/core/store/keystore.ts';
import { addMessage } from '../../../client/src/core/store/messages.ts';
import { freshName, openFreshDb } from '../store/helpers.ts';

const clock = { now: () => Date.now() };

describe('moving to another browser with a backup', () => {
  it('restores the same identity, contacts and history in a fresh browser', async () => {
    const db = openFreshDb();
    const identity = await createIdentity(clock.now());
    await db.contacts.put({ username: 'binh', publicKey: 'A'.repeat(43), firstSeenAt: 1, verified: true });
    await addMessage(db, { id: 'message-00000001', room: 'lobby', from: 'An', sentAt: clock.now(), kind: 'text', body: 'xin chào', signature: 'sig' }, clock);
    const file = await createBackupFile(db, identity, 'An', 'a long passphrase', true, clock);

    const freshDb = openFreshDb();
    const keystore = await openKeystore(freshName('keys'));
    const { username } = await restoreBackupFile(freshDb, keystore, file, 'a long passphrase', clock);
    expect(username).toBe('An');
    const restored = (await keystore.loadIdentity())!;
    expect(restored.username).toBe('An');
    expect(restored.publicKey).toEqual(identity.publicKey);
    // The restored private key is the same key: what it signs verifies under the old public key.
    const sig = await signBytes(restored.privateKey, new TextEncoder().encode('still me'));
    expect(await verifyBytes(identity.publicKey, sig, new TextEncoder().encode('still me'))).toBe(true);
    expect((await freshDb.contacts.get('binh'))?.verified).toBe(true);
    expect((await freshDb.messages.get('message-00000001'))?.body).toBe('xin chào');
  });

  it('a wrong passphrase is refused and the current identity is untouched', async () => {
    const db = openFreshDb();
    const identity = await createIdentity(clock.now());
    const file = await createBackupFile(db, identity, 'An', 'a long passphrase', false, clock);
    const keystore = await openKeystore(freshName('keys'));
    const current = await keystore.getOrCreateIdentity(() => createIdentity(clock.now()));
    await expect(restoreBackupFile(openFreshDb(), keystore, file, 'not the passphrase', clock)).rejects.toSatisfy((e: unknown) =>
      isChatError(e, ErrorCode.BackupPassphrase),
    );
    expect((await keystore.loadIdentity())!.publicKey).toEqual(current.publicKey);
  });

  it('refuses a short passphrase when exporting', async () => {
    const identity = await createIdentity(clock.now());
    await expect(createBackupFile(openFreshDb(), identity, 'An', 'short', false, clock)).rejects.toSatisfy((e: unknown) =>
      isChatError(e, ErrorCode.BackupPassphrase),
    );
  });
});
