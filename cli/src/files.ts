import { openAsBlob } from 'node:fs';
import { mkdir, open, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb';
import type { Identity } from '../../client/src/core/chat/identity.ts';
import type { RoomSession } from '../../client/src/core/chat/room-session.ts';
import { FileTransfers, type TransferInfo } from '../../client/src/core/files/transfers.ts';
import { FINAL_STATES } from '../../client/src/core/files/progress.ts';
import { sanitizeFileName } from '../../client/src/core/files/sanitize.ts';
import { ChatDatabase } from '../../client/src/core/store/db.ts';
import { readFileBlob } from '../../client/src/core/store/files.ts';
import { CliError, CliErrorCode } from './errors.ts';

/**
 * Files for the headless peer: core's FileTransfers unchanged (signed manifest, encrypted
 * chunks, backpressure, SHA-256 check), over core's ChatDatabase.
 *
 * FileTransfers takes a Dexie database rather than a storage port, so in Node the database
 * is fake-indexeddb, held in memory for this process only: a transfer cut by a restart
 * starts over instead of resuming. Chunks of a received file are dropped once it is saved.
 * Files to send are read from disk as they go (`openAsBlob`), never copied into memory.
 */
export class NodeFiles {
  readonly db: ChatDatabase;
  readonly #identity: Identity;

  constructor(identity: Identity) {
    this.#identity = identity;
    this.db = new ChatDatabase(`p2p-chat-cli-files`, { indexedDB: new IDBFactory(), IDBKeyRange });
  }

  /** For ChatClient's `files` dependency: one FileTransfers per joined room. */
  readonly transfersFor = (room: string, username: string): FileTransfers =>
    new FileTransfers({ db: this.db, identity: this.#identity, username, room, storeAs: 'bytes', keepSentCopy: false });
}

/** A file on disk as the Blob RoomSession.sendFile takes, read lazily. */
export async function fileFromPath(path: string): Promise<Blob & { name: string }> {
  let info;
  try {
    info = await stat(path);
  } catch (e) {
    throw new CliError(CliErrorCode.Usage, `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  if (!info.isFile()) throw new CliError(CliErrorCode.Usage, `${path} is not a file`);
  const blob = await openAsBlob(path, { type: typeFor(path) });
  return Object.assign(blob, { name: basename(path) });
}

/** Types receivers may preview; everything else goes as plain bytes. */
function typeFor(path: string): string {
  const types: Record<string, string> = {
    '.png': 'image/png',
    '.jpg': 'image/jpeg',
    '.jpeg': 'image/jpeg',
    '.gif': 'image/gif',
    '.webp': 'image/webp',
    '.txt': 'text/plain',
    '.pdf': 'application/pdf',
    '.mp3': 'audio/mpeg',
    '.mp4': 'video/mp4',
  };
  return types[extname(path).toLowerCase()] ?? 'application/octet-stream';
}

export interface SavedFile {
  id: string;
  from: string;
  name: string;
  size: number;
  sha256: string;
  path: string;
}

/**
 * Writes every received file that core verified (signature and SHA-256) into `dir`,
 * under a sanitised name that never overwrites an existing file. Nothing unverified
 * touches the disk.
 */
export function saveVerifiedFiles(
  room: RoomSession,
  db: ChatDatabase,
  dir: string,
  on: { saved: (f: SavedFile) => void; failed: (info: TransferInfo, why: string) => void },
): () => void {
  const files = room.files;
  if (!files) return () => undefined;
  const handled = new Set<string>();
  return files.on('state', (info) => {
    if (info.direction !== 'receive' || !FINAL_STATES.has(info.state) || handled.has(info.id)) return;
    handled.add(info.id);
    if (info.state !== 'verified') return on.failed(info, info.error ? `${info.error.message} (${info.error.code})` : info.state);
    void saveOne(db, dir, info.id).then(
      (saved) => on.saved(saved),
      (e: unknown) => on.failed(info, `could not be saved: ${(e as Error).message}`),
    );
  });
}

async function saveOne(db: ChatDatabase, dir: string, id: string): Promise<SavedFile> {
  const row = await db.files.get(id);
  if (!row || row.state !== 'verified') throw new Error('the file is not verified');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const blob = await readFileBlob(db, id, 'application/octet-stream');
  const name = sanitizeFileName(row.name);
  const dot = name.lastIndexOf('.');
  const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
  for (let n = 0; n < 1000; n++) {
    const path = join(dir, n === 0 ? name : `${stem} (${n})${ext}`);
    let handle;
    try {
      // 'wx': a received file never replaces one already there.
      handle = await open(path, 'wx', 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw e;
    }
    try {
      for await (const part of blob.stream() as unknown as AsyncIterable<Uint8Array>) await handle.write(part);
      await handle.sync();
    } finally {
      await handle.close();
    }
    // Saved: the in-memory copy can go (the row stays, so a re-offer is answered "verified").
    await db.chunks.where('fileId').equals(id).delete();
    return { id, from: row.from, name, size: row.size, sha256: row.sha256, path };
  }
  throw new Error(`no free name for ${name} in ${dir}`);
}

/**
 * Waits until every expected recipient of file `id` has verified it (sender state
 * 'done') or can no longer (failed, cancelled), or until `timeoutMs`.
 */
export function waitForFileDelivery(
  files: FileTransfers,
  id: string,
  expected: string[],
  timeoutMs: number,
): Promise<{ confirmed: string[]; missing: { username: string; why: string }[] }> {
  const latest = new Map<string, TransferInfo>();
  for (const info of files.list()) if (info.id === id && info.direction === 'send') latest.set(info.peer, info);
  return new Promise((resolve) => {
    const finish = () => {
      clearTimeout(timer);
      off();
      const confirmed = expected.filter((u) => latest.get(u)?.state === 'done');
      const missing = expected
        .filter((u) => latest.get(u)?.state !== 'done')
        .map((u) => {
          const info = latest.get(u);
          const why = !info ? 'it was never offered to them' : info.error ? `${info.state}: ${info.error.message}` : `still ${info.state}`;
          return { username: u, why };
        });
      resolve({ confirmed, missing });
    };
    const check = () => {
      if (expected.every((u) => FINAL_STATES.has(latest.get(u)?.state ?? 'waiting'))) finish();
    };
    const off = files.on('state', (info) => {
      if (info.id !== id || info.direction !== 'send') return;
      latest.set(info.peer, info);
      check();
    });
    const timer = setTimeout(finish, timeoutMs);
    check();
  });
}
