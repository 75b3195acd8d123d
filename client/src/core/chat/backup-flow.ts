import { ChatError, ErrorCode } from '../errors.ts';
import type { Clock } from '../store/clock.ts';
import type { ChatDatabase } from '../store/db.ts';
import { exportBackup, importBackup, readBackupData, restoreBackup } from '../store/backup.ts';
import type { Keystore, StoredIdentity } from '../store/keystore.ts';
import { restoreIdentity, unsealPrivateKey } from './identity.ts';

/** Minimum passphrase length: the backup is only as strong as what guards it. */
export const MIN_BACKUP_PASSPHRASE = 10;

/** The encrypted backup file for moving to another browser: identity, contacts, optionally history. */
export async function createBackupFile(
  db: ChatDatabase,
  identity: StoredIdentity,
  username: string,
  passphrase: string,
  includeHistory: boolean,
  clock: Clock,
): Promise<Uint8Array> {
  if ([...passphrase].length < MIN_BACKUP_PASSPHRASE) {
    throw new ChatError(ErrorCode.BackupPassphrase, `use a passphrase of at least ${MIN_BACKUP_PASSPHRASE} characters`);
  }
  const pkcs8 = await unsealPrivateKey(identity);
  if (!pkcs8) throw new ChatError(ErrorCode.Backup, 'this identity was created before backups existed and cannot be exported');
  try {
    const data = await readBackupData(db);
    return await exportBackup(
      {
        identity: { publicKey: identity.publicKey, privateKeyPkcs8: pkcs8, username },
        contacts: data.contacts,
        ...(includeHistory ? { history: data.history } : {}),
      },
      passphrase,
      clock,
    );
  } finally {
    pkcs8.fill(0);
  }
}

/**
 * Restores a backup into this browser. The whole file is decrypted and validated first,
 * and the key pair checked, before anything is written: a wrong passphrase or a damaged
 * file leaves both the history and the current identity untouched.
 */
export async function restoreBackupFile(
  db: ChatDatabase,
  keystore: Keystore,
  file: Uint8Array,
  passphrase: string,
  clock: Clock,
): Promise<{ username: string }> {
  const contents = await importBackup(file, passphrase);
  const identity = await restoreIdentity(contents.identity.publicKey, contents.identity.privateKeyPkcs8, contents.identity.username, clock.now());
  await restoreBackup(db, contents, clock);
  await keystore.saveIdentity(identity);
  return { username: contents.identity.username };
}
