import { openAsBlob } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import type { Identity } from '../../client/src/core/chat/identity.ts';
import type { RoomSession } from '../../client/src/core/chat/room-session.ts';
import { FileTransfers, type TransferInfo } from '../../client/src/core/files/transfers.ts';
import { FINAL_STATES } from '../../client/src/core/files/progress.ts';
import { sanitizeFileName } from '../../client/src/core/files/sanitize.ts';
import { DiskFileStore } from './disk-file-store.ts';
import { CliError, CliErrorCode } from './errors.ts';

/**
 * Files for the headless peer: core's FileTransfers unchanged (signed manifest, encrypted
 * chunks, backpressure, SHA-256 check), storing through core's FileStore port on disk
 * (disk-file-store.ts): received chunks go straight to a file under the home folder, so
 * a file is never held whole in memory and a transfer cut by a restart resumes.
 * Files to send are read from disk as they go (`openAsBlob`), never copied into memory,
 * and no second copy of them is kept.
 */
export class NodeFiles {
  readonly store: DiskFileStore;
  readonly #identity: Identity;

  private constructor(identity: Identity, store: DiskFileStore) {
    this.#identity = identity;
    this.store = store;
  }

  /** `dir` holds transfers in progress (see disk-file-store.ts). */
  static async open(identity: Identity, dir: string, opts: { now?: () => number } = {}): Promise<NodeFiles> {
    return new NodeFiles(identity, await DiskFileStore.open(dir, opts));
  }

  /** For ChatClient's `files` dependency: one FileTransfers per joined room. */
  readonly transfersFor = (room: string, username: string): FileTransfers =>
    new FileTransfers({ store: this.store, identity: this.#identity, username, room, keepSentCopy: false });

  close(): void {
    this.store.close();
  }
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
 * touches `dir`. Files verified before a restart but not yet saved are saved now.
 */
export function saveVerifiedFiles(
  room: RoomSession,
  store: DiskFileStore,
  dir: string,
  on: { saved: (f: SavedFile) => void; failed: (info: TransferInfo, why: string) => void },
): () => void {
  const files = room.files;
  if (!files) return () => undefined;
  const handled = new Set<string>();
  const save = (info: TransferInfo) =>
    void saveOne(store, dir, info.id).then(
      (saved) => on.saved(saved),
      (e: unknown) => on.failed(info, `could not be saved: ${(e as Error).message}`),
    );
  void store.inRoom(room.key).then(async (rows) => {
    for (const row of rows) {
      if (row.state !== 'verified' || handled.has(row.id) || (await store.countChunks(row.id)) !== row.chunkCount) continue;
      handled.add(row.id);
      save({ id: row.id, peer: row.from.toLowerCase(), direction: 'receive', state: 'verified', name: row.name, size: row.size });
    }
  });
  return files.on('state', (info) => {
    if (info.direction !== 'receive' || !FINAL_STATES.has(info.state) || handled.has(info.id)) return;
    handled.add(info.id);
    if (info.state !== 'verified') return on.failed(info, info.error ? `${info.error.message} (${info.error.code})` : info.state);
    save(info);
  });
}

async function saveOne(store: DiskFileStore, dir: string, id: string): Promise<SavedFile> {
  const row = await store.get(id);
  if (!row || row.state !== 'verified') throw new Error('the file is not verified');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const name = sanitizeFileName(row.name);
  const dot = name.lastIndexOf('.');
  const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
  for (let n = 0; n < 1000; n++) {
    const path = join(dir, n === 0 ? name : `${stem} (${n})${ext}`);
    try {
      // Moved, not copied, on the same disk; a received file never replaces one already there.
      await store.moveOut(id, path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw e;
    }
    // The row stays (without its bytes), so a re-offer is answered "verified".
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
