// Must come first: Dexie picks up the global indexedDB when it is first imported.
import 'fake-indexeddb/auto';
import { createSHA256 } from 'hash-wasm';
import type { DBCore, DBCoreTable } from 'dexie';
import { PeerSession } from '../../../client/src/core/chat/peer-session.ts';
import { generateIdentityKeyPair, type IdentityKeyPair } from '../../../client/src/core/crypto/sign.ts';
import { FileTransfers, type FileTransfersDeps, type TransferInfo } from '../../../client/src/core/files/transfers.ts';
import type { TransferState } from '../../../client/src/core/files/progress.ts';
import { MemoryLink } from '../../../client/src/core/net/memory-link.ts';
import type { PeerLink } from '../../../client/src/core/net/peer-link.ts';
import { ChatDatabase } from '../../../client/src/core/store/db.ts';
import { dexieFileStore, type DexieFileStoreOptions } from '../../../client/src/core/store/files.ts';

export const ROOM = 'general';

export interface Party {
  username: string;
  identity: IdentityKeyPair;
}

export async function newParty(username: string): Promise<Party> {
  return { username, identity: await generateIdentityKeyPair() };
}

let dbCounter = 0;
const openDbs: ChatDatabase[] = [];
const openSessions: PeerSession[] = [];

export function freshDb(): ChatDatabase {
  dbCounter += 1;
  const db = new ChatDatabase(`files-test-${process.pid}-${dbCounter}-${Math.random().toString(36).slice(2)}`);
  openDbs.push(db);
  return db;
}

/** After each test: close every channel, let queued work settle, then close the databases. */
export async function teardown(): Promise<void> {
  for (const s of openSessions.splice(0)) s.close();
  await new Promise((r) => setTimeout(r, 100));
  for (const db of openDbs.splice(0)) db.close();
}

export function randomBlob(size: number, name: string, type: string): File {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i += 65_536) crypto.getRandomValues(bytes.subarray(i, Math.min(size, i + 65_536)));
  return new File([bytes], name, { type });
}

export async function sha256Hex(blob: Blob): Promise<string> {
  const h = await createSHA256();
  h.init();
  h.update(new Uint8Array(await blob.arrayBuffer()));
  return h.digest('hex');
}

/** Two PeerSessions, a talking to b, over the given links (an in-memory pair by default). */
export async function openPair(
  a: Party,
  b: Party,
  links: [PeerLink, PeerLink] = MemoryLink.pair(),
): Promise<{ sa: PeerSession; sb: PeerSession; la: PeerLink; lb: PeerLink }> {
  const [la, lb] = links;
  const sa = new PeerSession({ link: la, room: ROOM, me: { username: a.username, identity: a.identity }, peer: { username: b.username, publicKey: b.identity.publicKey } });
  const sb = new PeerSession({ link: lb, room: ROOM, me: { username: b.username, identity: b.identity }, peer: { username: a.username, publicKey: a.identity.publicKey } });
  openSessions.push(sa, sb);
  const opened = Promise.all([sa, sb].map((s) => waitUntil(() => s.isOpen, 5_000, `${s.peerUsername} session open`)));
  (la as MemoryLink).connect?.();
  await opened;
  return { sa, sb, la, lb };
}

export function transfersFor(
  party: Party,
  db: ChatDatabase,
  { storeAs = 'blob', ...extra }: Partial<FileTransfersDeps> & Pick<DexieFileStoreOptions, 'storeAs'> = {},
): FileTransfers {
  const store = dexieFileStore(db, { storeAs, ...(extra.clock ? { clock: extra.clock } : {}) });
  return new FileTransfers({ store, identity: party.identity, username: party.username, room: ROOM, ...extra });
}

/** Resolves once `cond` holds, polling; rejects after `ms` with `what`. */
export async function waitUntil(cond: () => boolean | Promise<boolean>, ms = 10_000, what = 'condition'): Promise<void> {
  const start = Date.now();
  for (;;) {
    if (await cond()) return;
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Resolves with the first state event of `id` (and direction) in one of `states`. */
export function waitForState(
  t: FileTransfers,
  states: TransferState[],
  filter: { id?: string; direction?: 'send' | 'receive'; peer?: string } = {},
  ms = 20_000,
): Promise<TransferInfo> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out waiting for ${states.join('|')} (${JSON.stringify(filter)})`));
    }, ms);
    const off = t.on('state', (info) => {
      if (filter.id && info.id !== filter.id) return;
      if (filter.direction && info.direction !== filter.direction) return;
      if (filter.peer && info.peer !== filter.peer) return;
      if (!states.includes(info.state)) return;
      clearTimeout(timer);
      off();
      resolve(info);
    });
  });
}

/** The chunk index of a sealed chunk frame on the wire, or null for any other frame. */
export function chunkIndexOf(frame: string | Uint8Array): number | null {
  if (typeof frame === 'string' || frame[1] !== 2) return null;
  return new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(2 + 12 + 16);
}

/** The peer vanishes when chunk `index` is on the wire: that frame and everything after it is lost. */
export function cutAtChunk(link: PeerLink, index: number): void {
  let cut = false;
  (link as MemoryLink).tap = (frame) => {
    if (cut) return null;
    if (chunkIndexOf(frame) === index) {
      cut = true;
      setTimeout(() => link.close(), 0);
      return null;
    }
    return frame;
  };
}

/**
 * A new channel between `a` (sending through `ta`) and `b` (receiving through `tb`): the
 * chunk indexes sent again on it, and the end state of each side.
 */
export async function reconnectTransfers(a: Party, b: Party, ta: FileTransfers, tb: FileTransfers) {
  const second = await openPair(a, b);
  const resent: number[] = [];
  (second.la as MemoryLink).tap = (frame) => {
    const i = chunkIndexOf(frame);
    if (i !== null) resent.push(i);
    return frame;
  };
  const verified = waitForState(tb, ['verified', 'failed'], { direction: 'receive' });
  const done = waitForState(ta, ['done', 'failed'], { direction: 'send' });
  ta.attach(second.sa);
  tb.attach(second.sb);
  return { resent, verified, done };
}

/** Makes chunk writes fail as a full disk would, while `full()` says so. */
export function simulateFullDisk(db: ChatDatabase, full: () => boolean): void {
  db.use({
    stack: 'dbcore',
    name: 'full-disk',
    create: (down: DBCore): DBCore => ({
      ...down,
      table: (name: string): DBCoreTable => {
        const table = down.table(name);
        return {
          ...table,
          mutate: (req) =>
            full() && name === 'chunks' && req.type === 'put'
              ? Promise.reject(new DOMException('The quota has been exceeded.', 'QuotaExceededError'))
              : table.mutate(req),
        };
      },
    }),
  });
}

/**
 * Calls `onPut` for every chunk written, and makes every read-write transaction start
 * `delayMs` late: a slow disk. (The delay cannot go inside a transaction: IndexedDB
 * commits a transaction that waits on a timer.)
 */
export function watchChunkWrites(db: ChatDatabase, onPut: () => void, delayMs = 0): void {
  db.use({
    stack: 'dbcore',
    name: 'watch-chunks',
    create: (down: DBCore): DBCore => ({
      ...down,
      table: (name: string): DBCoreTable => {
        const table = down.table(name);
        if (name !== 'chunks') return table;
        return {
          ...table,
          mutate: async (req) => {
            const res = await table.mutate(req);
            // One call per chunk, also when a batch of chunks is put at once.
            if (req.type === 'put') for (let k = 0; k < req.values.length; k++) onPut();
            return res;
          },
        };
      },
    }),
  });
  if (delayMs > 0) {
    const original = db.transaction.bind(db) as (...args: unknown[]) => Promise<unknown>;
    (db as unknown as { transaction: (...args: unknown[]) => Promise<unknown> }).transaction = async (...args: unknown[]) => {
      if (args[0] === 'rw') await new Promise((r) => setTimeout(r, delayMs));
      return original(...args);
    };
  }
}
