import Dexie from 'dexie';
import { ChatError, ErrorCode } from '../errors.ts';
import { systemClock, type Clock } from './clock.ts';
import { chunkAfterEnd, OPEN_STATES, type FileStore, type FileRowUpdate, type NewFile, type StoredChunk } from '../files/file-store.ts';
import type { ChatDatabase, FileRow, FileState } from './db.ts';
import { wrapQuota } from './quota.ts';
import { expiresAtFor } from './retention.ts';

export type { NewFile } from '../files/file-store.ts';

/**
 * File manifests and their chunks. Chunks are written as they arrive, so a file is never
 * held whole in memory, and they carry the manifest's expiry so the purge finds them
 * through their own index.
 */

/** Stores a manifest; false when the id is already known or the file is already expired. */
export async function addFile(db: ChatDatabase, input: NewFile, clock: Clock = systemClock): Promise<boolean> {
  const now = clock.now();
  const expiresAt = expiresAtFor(input.sentAt, now);
  if (expiresAt <= now) return false;
  const row: FileRow = { ...input, state: input.state ?? 'receiving', receivedChunks: 0, expiresAt };
  return wrapQuota(() =>
    db.transaction('rw', db.files, async () => {
      if ((await db.files.where(':id').equals(row.id).count()) > 0) return false;
      await db.files.add(row);
      return true;
    }),
  );
}

export async function setFileState(db: ChatDatabase, fileId: string, state: FileState, error?: string): Promise<boolean> {
  const changed = await db.files
    .where(':id')
    .equals(fileId)
    .modify((f) => {
      f.state = state;
      if (error === undefined) delete f.error;
      else f.error = error;
    });
  return changed > 0;
}

function chunkRange(db: ChatDatabase, fileId: string) {
  return db.chunks.where('[fileId+index]').between([fileId, Dexie.minKey], [fileId, Dexie.maxKey], true, true);
}

/**
 * Stores chunk `index` of a file and returns how many distinct chunks are now stored.
 * Writing the same chunk twice (a resend) replaces it without counting it twice.
 * A full disk surfaces as ERR_QUOTA and leaves the earlier chunks and history intact.
 */
export async function putChunk(db: ChatDatabase, fileId: string, index: number, data: Uint8Array | Blob): Promise<number> {
  return putChunks(db, fileId, [{ index, data }]);
}

/**
 * Stores several chunks of one file in one transaction and returns how many chunks the
 * file now has. Writers that fall behind hand over everything queued at once: measured in
 * Chromium, storing 64 MiB as 512 one-chunk transactions took about 1.8 s, and as 16
 * transactions of 32 chunks about 0.2 s.
 */
export async function putChunks(db: ChatDatabase, fileId: string, chunks: readonly StoredChunk[]): Promise<number> {
  return wrapQuota(() =>
    db.transaction('rw', db.files, db.chunks, async () => {
      const file = await db.files.get(fileId);
      if (!file) throw new ChatError(ErrorCode.Malformed, 'A file chunk arrived for a file this chat does not know.');
      if (!OPEN_STATES.has(file.state)) throw chunkAfterEnd(file);
      if (chunks.length === 0) return file.receivedChunks;
      let lowest = Infinity;
      let highest = -Infinity;
      for (const { index, data } of chunks) {
        if (!Number.isInteger(index) || index < 0 || index >= file.chunkCount) {
          throw new ChatError(ErrorCode.FileOrder, `Chunk ${index} is outside "${file.name}" (${file.chunkCount} chunks).`);
        }
        const size = data instanceof Uint8Array ? data.byteLength : data.size;
        if (size > file.chunkSize) {
          throw new ChatError(ErrorCode.FileSize, `Chunk ${index} of "${file.name}" is larger than announced.`);
        }
        lowest = Math.min(lowest, index);
        highest = Math.max(highest, index);
      }
      // Keys only: the stored chunks' bytes are never read back.
      const stored = new Set(
        (await db.chunks.where('[fileId+index]').between([fileId, lowest], [fileId, highest], true, true).primaryKeys()).map(([, i]) => i),
      );
      const fresh = new Set<number>();
      for (const { index } of chunks) if (!stored.has(index)) fresh.add(index);
      await db.chunks.bulkPut(chunks.map(({ index, data }) => ({ fileId, index, data, expiresAt: file.expiresAt })));
      if (fresh.size === 0) return file.receivedChunks;
      const receivedChunks = file.receivedChunks + fresh.size;
      await db.files.update(fileId, { receivedChunks });
      return receivedChunks;
    }),
  );
}

export function countChunks(db: ChatDatabase, fileId: string): Promise<number> {
  return db.chunks.where('fileId').equals(fileId).count();
}

/**
 * The index of the last chunk such that every chunk before it is stored; -1 when none.
 * A resumed transfer asks the sender for everything after it. Reads keys only.
 */
export async function lastContiguousChunk(db: ChatDatabase, fileId: string): Promise<number> {
  const keys = await chunkRange(db, fileId).primaryKeys();
  let next = 0;
  for (const [, index] of keys) {
    if (index !== next) break;
    next++;
  }
  return next - 1;
}

/**
 * The whole file as one Blob, assembled from its chunks in index order. No bytes are
 * copied: a Blob of Blobs only references its parts, and browsers back Blobs read from
 * IndexedDB with files on disk, so a multi-gigabyte file does not land in memory (store
 * chunks as Blobs in the browser to get this; Uint8Array chunks are held in memory).
 * `type` is the caller's choice, so a dangerous type can be downgraded to
 * application/octet-stream before anything renders it.
 */
export async function readFileBlob(db: ChatDatabase, fileId: string, type: string): Promise<Blob> {
  return db.transaction('r', db.files, db.chunks, async () => {
    const file = await db.files.get(fileId);
    if (!file) throw new ChatError(ErrorCode.Malformed, 'This file is no longer stored on this device.');
    const parts: BlobPart[] = [];
    await chunkRange(db, fileId).each((chunk) => {
      // Chunks come back in index order; a gap means the file is incomplete.
      if (chunk.index === parts.length) parts.push(chunk.data as BlobPart);
    });
    if (parts.length !== file.chunkCount) {
      throw new ChatError(
        ErrorCode.FileOrder,
        `"${file.name}" is incomplete: chunk ${parts.length} of ${file.chunkCount} is missing.`,
      );
    }
    return new Blob(parts, { type });
  });
}

/**
 * Gives up on a file (failed hash or signature, cancelled transfer): the manifest stays,
 * marked failed so the chat can say why, and every chunk is removed.
 */
export async function discardFile(db: ChatDatabase, fileId: string, error: string = 'The file was discarded.'): Promise<void> {
  await db.transaction('rw', db.files, db.chunks, async () => {
    await db.files.update(fileId, { state: 'failed', error, receivedChunks: 0 });
    await db.chunks.where('fileId').equals(fileId).delete();
  });
}

/** Chunks read per transaction when a resumed transfer hashes what is stored. */
const READ_PAGE = 16;

/**
 * The stored chunks `from`..`to` in index order, READ_PAGE rows per transaction: rows
 * first, bytes after, since a Blob read cannot run inside an IndexedDB transaction.
 */
export async function* readChunks(db: ChatDatabase, fileId: string, from: number, to: number): AsyncGenerator<Uint8Array> {
  for (let start = from; start <= to; start += READ_PAGE) {
    const end = Math.min(to, start + READ_PAGE - 1);
    const rows = await db.chunks.where('[fileId+index]').between([fileId, start], [fileId, end], true, true).toArray();
    for (const row of rows) yield row.data instanceof Uint8Array ? row.data : new Uint8Array(await row.data.arrayBuffer());
  }
}

export interface DexieFileStoreOptions {
  clock?: Clock;
  /**
   * How received chunks are stored. 'blob' (default): IndexedDB in browsers keeps Blobs on
   * disk, so assembling the file later costs no memory. 'bytes' keeps Uint8Arrays (what
   * fake-indexeddb holds most cheaply in tests).
   */
  storeAs?: 'blob' | 'bytes';
}

/** Core's FileStore port over the browser's history database. */
export function dexieFileStore(db: ChatDatabase, opts: DexieFileStoreOptions = {}): FileStore {
  const clock = opts.clock ?? systemClock;
  const asBlob = (opts.storeAs ?? 'blob') === 'blob';
  const stored = (data: StoredChunk['data']): StoredChunk['data'] =>
    asBlob && data instanceof Uint8Array ? new Blob([data as Uint8Array<ArrayBuffer>]) : data;
  return {
    add: (file) => addFile(db, file, clock),
    get: (id) => db.files.get(id),
    update: async (id, changes: FileRowUpdate) => {
      await db.files.update(id, changes);
    },
    delete: (id) =>
      db.transaction('rw', db.files, db.chunks, async () => {
        await db.chunks.where('fileId').equals(id).delete();
        await db.files.delete(id);
      }),
    inRoom: (room) => db.files.where('room').equals(room).toArray(),
    putChunks: (id, chunks) => putChunks(db, id, chunks.map(({ index, data }) => ({ index, data: stored(data) }))),
    countChunks: (id) => countChunks(db, id),
    lastContiguousChunk: (id) => lastContiguousChunk(db, id),
    readChunks: (id, from, to) => readChunks(db, id, from, to),
    setState: (id, state, error) => setFileState(db, id, state, error),
    discard: (id, error) => discardFile(db, id, error),
    readBlob: (id, type) => readFileBlob(db, id, type),
  };
}
