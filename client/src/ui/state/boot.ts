import { resolveAppConfig } from '../../core/app-config.ts';
import { ChatClient } from '../../core/chat/chat-client.ts';
import { createDbStorage } from '../../core/chat/db-storage.ts';
import { ChatDatabase } from '../../core/store/db.ts';
import { systemClock } from '../../core/store/clock.ts';
import { startRetention } from '../../core/store/retention.ts';
import { requestPersistence } from '../../core/store/quota.ts';
import { createIdentity } from '../../core/chat/identity.ts';
import { FileTransfers } from '../../core/files/transfers.ts';
import { dexieFileStore } from '../../core/store/files.ts';
import { OpfsFiles, opfsFileStore } from '../../core/store/opfs-files.ts';
import { createBackupFile, restoreBackupFile } from '../../core/chat/backup-flow.ts';
import { highlightRanges, searchMessages } from '../../core/store/search.ts';
import { simplePeerFactory } from '../../core/net/simple-peer-link.ts';
import { SocketIoSignaling } from '../../core/net/socketio-signaling.ts';
import { openKeystore } from '../../core/store/keystore.ts';
import { AppState } from './app.svelte.ts';
import { SettingsState } from './settings.svelte.ts';
import { receiveShare, type ShareState } from './share.svelte.ts';

export interface Booted {
  app: AppState;
  settings: SettingsState;
  share: ShareState;
}

/** The composition root: configuration, identity, storage, transports, state. */
export async function boot(): Promise<Booted> {
  const config = await resolveAppConfig(window.location, async (url) => {
    const res = await fetch(url, { cache: 'no-store' });
    if (!res.ok) throw new Error(String(res.status));
    return res.json();
  });
  const keystore = await openKeystore();
  const identity = await keystore.getOrCreateIdentity(() => createIdentity(Date.now()));
  const db = new ChatDatabase();
  await db.open();
  // Purge what is older than 7 days now and on a timer; ask the browser not to evict us.
  // File bytes go to origin-private files where the browser allows it (measured several
  // times cheaper than IndexedDB), else to IndexedDB.
  const opfs = await OpfsFiles.open();
  const opfsStore = opfs ? opfsFileStore(db, opfs, { clock: systemClock }) : null;
  const fileStore = opfsStore ?? dexieFileStore(db, { clock: systemClock });
  // Bytes of files whose rows were purged or deleted go after each purge.
  const sweep = () => void opfsStore?.sweep().catch((e: unknown) => console.warn('file sweep', e));
  startRetention(db, systemClock, undefined, { onPurged: sweep, onError: (e) => console.warn('purge', e) });
  void requestPersistence();
  const client = new ChatClient({
    signaling: new SocketIoSignaling(config.signalingUrl),
    peers: simplePeerFactory(),
    identity,
    storage: createDbStorage(db, systemClock, { afterRoomDeleted: sweep }),
    files: (room, username) => new FileTransfers({ store: fileStore, identity, username, room }),
  });
  const app = new AppState(client, navigator.languages, {
    invite: takeInvite(window),
    savedUsername: identity.username ?? null,
    rememberUsername: (username) => keystore.saveIdentity({ ...identity, username }),
    search: async (query, room) =>
      (await searchMessages(db, query, room ? { room } : {})).map((m) => ({
        id: m.id,
        room: m.room,
        from: m.from,
        body: m.body,
        sentAt: m.sentAt,
        ranges: highlightRanges(m.body, query),
      })),
    readFile: (id, type) => fileStore.readBlob(id, type),
    fileState: async (id) => {
      const row = await db.files.get(id);
      return row ? { state: row.state, ...(row.error ? { error: row.error } : {}) } : undefined;
    },
    createBackup: (passphrase, includeHistory) =>
      createBackupFile(db, identity, client.username ?? identity.username ?? '', passphrase, includeHistory, systemClock),
    restoreBackup: async (file, passphrase) => {
      await restoreBackupFile(db, keystore, file, passphrase, systemClock);
      // Start over as the restored identity.
      window.location.reload();
    },
  });
  // Saved theme and language apply before the first paint; a share the page was opened with waits for a room.
  const settings = await SettingsState.load(keystore, app, {
    languages: navigator.languages,
    root: document.documentElement,
    onStorageError: (e) => app.toast(app.t('settings.saveFailed', { detail: e instanceof Error ? e.message : String(e) }), 'error'),
  });
  const share = await receiveShare(window);
  client.start();
  return { app, settings, share };
}

/** Reads (and removes, so a reload does not join again) an invite from the URL fragment. */
function takeInvite(win: Window): { room: string } | null {
  const params = new URLSearchParams(win.location.hash.slice(1));
  const room = params.get('join');
  if (!room) return null;
  win.history.replaceState(null, '', win.location.pathname + win.location.search);
  return { room };
}
