import { ChatError, ErrorCode } from '../errors.ts';
import { checkChunkFits, chunkAfterEnd, OPEN_STATES, type FileStore, type StoredChunk } from '../files/file-store.ts';
import { chunkLengthOf } from '../files/limits.ts';
import { systemClock, type Clock } from './clock.ts';
import type { ChatDatabase, FileRow } from './db.ts';
import { dexieFileStore } from './files.ts';
import type { OpfsReply, OpfsRequest, OpfsWritePart } from './opfs-protocol.ts';
import { wrapQuota } from './quota.ts';

/**
 * File bytes in the origin private file system, one file per transfer, written in place
 * by a worker; manifests stay rows in the history database. Measured in Chromium on disk,
 * 128 MiB in 128 KiB chunks, 8 per batch: IndexedDB took 1.1-1.3 s of CPU (chunks as Blobs
 * or bytes alike), these files 0.2 s; and a stored file reads back as one disk-backed File,
 * so preview and download never assemble it.
 */

/** Folder of the origin private file system that holds received and sent files. */
const FOLDER = 'files';
/** A worker that does not answer the probe in this long is treated as absent. */
const PROBE_TIMEOUT_MS = 5_000;
/** Chunks read per worker request when a resumed transfer hashes what is stored. */
const READ_PAGE = 16;
/**
 * A file being written counts its stored chunks in its row once this many bytes (or
 * PERSIST_EVERY_MS) have been written since the last count, and when it is complete; in
 * between the count lives in memory. Measured on the receiver of a 128 MiB transfer
 * (files bench, CPU profile): counting every batch cost ~0.5 s of the page's main thread
 * in IndexedDB calls, plus a flush to disk per batch. A reload resumes from the last
 * count: at most this much is sent again.
 */
export const PERSIST_EVERY_BYTES = 8 * 1024 * 1024;
const PERSIST_EVERY_MS = 1_000;
/** File ids are base64url; anything else never names a file in the folder. */
const SAFE_NAME = /^[A-Za-z0-9_-]{8,64}$/;

type Op = OpfsRequest extends infer R ? (R extends OpfsRequest ? Omit<R, 'seq' | 'dir'> : never) : never;

/** The page's side of opfs-worker.ts: one request at a time, answered in order. */
export class OpfsFiles {
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve(v: OpfsReply['value']): void; reject(e: Error): void }>();
  #seq = 0;

  private constructor(worker: Worker) {
    this.#worker = worker;
    worker.onmessage = (e: MessageEvent<OpfsReply>) => {
      const waiter = this.#pending.get(e.data.seq);
      if (!waiter) return;
      this.#pending.delete(e.data.seq);
      if (e.data.error) waiter.reject(Object.assign(new Error(e.data.error.message), { name: e.data.error.name }));
      else waiter.resolve(e.data.value);
    };
    worker.onerror = (e) => {
      for (const w of this.#pending.values()) w.reject(new Error(`The file storage worker failed: ${e.message}`));
      this.#pending.clear();
    };
  }

  /**
   * Starts the worker and checks that it can write here; null where it cannot (no
   * workers, no origin private file system, a private window that refuses it), and the
   * caller keeps file bytes in IndexedDB instead.
   */
  static async open(): Promise<OpfsFiles | null> {
    if (typeof Worker === 'undefined' || typeof navigator === 'undefined' || !navigator.storage?.getDirectory) return null;
    let files: OpfsFiles | undefined;
    try {
      // The page reads finished files itself (file()): it must be allowed in too.
      await navigator.storage.getDirectory();
      files = new OpfsFiles(new Worker(new URL('./opfs-worker.ts', import.meta.url), { type: 'module', name: 'file-storage' }));
      const probe = files.#call({ op: 'probe' });
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('no answer')), PROBE_TIMEOUT_MS)));
      await Promise.race([probe, timeout]).finally(() => clearTimeout(timer));
      return files;
    } catch {
      if (files) files.#worker.terminate();
      return null;
    }
  }

  /**
   * Writes, and with `flush` makes what was written so far durable; byte parts are
   * transferred to the worker (detached here).
   */
  write(name: string, parts: OpfsWritePart[], flush = true): Promise<void> {
    const transfer = [...new Set(parts.flatMap(({ data }) => (data instanceof Uint8Array ? [data.buffer as ArrayBuffer] : [])))];
    return this.#call({ op: 'write', name: checked(name), parts, flush }, transfer).then(() => undefined);
  }

  async read(name: string, at: number, length: number): Promise<Uint8Array> {
    return (await this.#call({ op: 'read', name: checked(name), at, length })) as Uint8Array;
  }

  /** Lets go of the file so the page can read it (getFile). */
  close(name: string): Promise<void> {
    return this.#call({ op: 'close', name: checked(name) }).then(() => undefined);
  }

  remove(name: string): Promise<void> {
    return this.#call({ op: 'remove', name: checked(name) }).then(() => undefined);
  }

  async list(): Promise<string[]> {
    return (await this.#call({ op: 'list' })) as string[];
  }

  /** The whole file as written, disk-backed: read as it is consumed. */
  async file(name: string): Promise<File> {
    await this.close(name);
    const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle(FOLDER, { create: true });
    return (await dir.getFileHandle(checked(name))).getFile();
  }

  #call(op: Op, transfer: Transferable[] = []): Promise<OpfsReply['value']> {
    const seq = ++this.#seq;
    return new Promise((resolve, reject) => {
      this.#pending.set(seq, { resolve, reject });
      this.#worker.postMessage({ ...op, seq, dir: FOLDER } as OpfsRequest, transfer);
    });
  }
}

function checked(name: string): string {
  if (!SAFE_NAME.test(name)) throw new ChatError(ErrorCode.Malformed, 'This file id cannot name a stored file.');
  return name;
}

/**
 * Bytes to hand to the worker: a chunk that fills its buffer is transferred (moved, not
 * copied, so its memory is garbage in one place only); a view over part of a larger
 * buffer is copied first, since transferring it would take the whole buffer.
 */
function movable(data: Uint8Array): Uint8Array<ArrayBuffer> {
  const whole = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && data.buffer instanceof ArrayBuffer;
  return whole ? (data as Uint8Array<ArrayBuffer>) : data.slice();
}

export interface OpfsFileStore extends FileStore {
  /**
   * Removes bytes no row accounts for any more: files of deleted chats and messages, of
   * expired or discarded files, of a write that raced a discard. Run after each purge.
   */
  sweep(): Promise<number>;
}

/**
 * Core's FileStore port with bytes in origin-private files. Rows added here say so
 * (`bytesIn: 'opfs'`); rows from before (chunks in IndexedDB) are still read, extended
 * and removed through the IndexedDB store. Chunks of a file are written in index order
 * (both the receiver and the sender's own copy do), so the stored chunks are always the
 * first `receivedChunks`: a chunk past them would leave a gap and is refused.
 */
export function opfsFileStore(db: ChatDatabase, files: OpfsFiles, opts: { clock?: Clock } = {}): OpfsFileStore {
  const clock = opts.clock ?? systemClock;
  const legacy = dexieFileStore(db, { clock });
  /** Files being written here: their row as read first, and chunks written, counted or not. */
  const writing = new Map<string, { row: FileRow; count: number; counted: number; countedAt: number }>();
  const inOpfs = async (id: string): Promise<FileRow | undefined> => {
    const row = await db.files.get(id);
    return row?.bytesIn === 'opfs' ? row : undefined;
  };
  /** Chunks stored: those written in this page, else those the row counts. */
  const storedChunks = (row: FileRow) => writing.get(row.id)?.count ?? row.receivedChunks;

  const putChunks = async (id: string, chunks: readonly StoredChunk[]): Promise<number> => {
    let w = writing.get(id);
    if (!w) {
      const row = await db.files.get(id);
      if (!row) throw new ChatError(ErrorCode.Malformed, 'A file chunk arrived for a file this chat does not know.');
      if (row.bytesIn !== 'opfs') return legacy.putChunks(id, chunks);
      if (!OPEN_STATES.has(row.state)) throw chunkAfterEnd(row);
      w = { row, count: row.receivedChunks, counted: row.receivedChunks, countedAt: clock.now() };
      writing.set(id, w);
    }
    const { row } = w;
    if (chunks.length === 0) return w.count;
    let count = w.count;
    for (const chunk of [...chunks].sort((a, b) => a.index - b.index)) {
      checkChunkFits(row, chunk);
      const { index } = chunk;
      if (index > count) throw new ChatError(ErrorCode.FileOrder, `Chunk ${index} of "${row.name}" would leave chunk ${count} missing.`);
      if (index === count) count++;
    }
    const due = count === row.chunkCount || (count - w.counted) * row.chunkSize >= PERSIST_EVERY_BYTES || clock.now() - w.countedAt >= PERSIST_EVERY_MS;
    // NOTE: chunks that are views into one larger buffer (the sender's own copy) are copied
    // one by one rather than the buffer transferred whole: measured (files bench), writing
    // whole 4 MiB read blocks cost the worker ~1 s of CPU per 128 MiB, copies 0.05 s.
    const parts = chunks.map(({ index, data }) => ({ at: index * row.chunkSize, data: data instanceof Uint8Array ? movable(data) : data }));
    await wrapQuota(() => files.write(id, parts, due));
    w.count = Math.max(w.count, count);
    if (!due || w.count === w.counted) return w.count;
    const counting = w.count;
    try {
      await db.transaction('rw', db.files, async () => {
        const now = await db.files.get(id);
        // Discarded or finished while the bytes were being written: the sweep removes them.
        if (!now || !OPEN_STATES.has(now.state)) throw chunkAfterEnd(row);
        if (counting > now.receivedChunks) await db.files.update(id, { receivedChunks: counting });
      });
    } catch (e) {
      writing.delete(id);
      throw e;
    }
    w.counted = counting;
    w.countedAt = clock.now();
    return w.count;
  };

  return {
    ownCopyFrom: 'bytes',
    add: (file) => legacy.add({ ...file, bytesIn: 'opfs' }),
    get: (id) => legacy.get(id),
    update: (id, changes) => legacy.update(id, changes),
    async delete(id) {
      writing.delete(id);
      const row = await inOpfs(id);
      await legacy.delete(id);
      if (row) await files.remove(id);
    },
    inRoom: (room) => legacy.inRoom(room),
    putChunks,
    async countChunks(id) {
      const row = await inOpfs(id);
      return row ? storedChunks(row) : legacy.countChunks(id);
    },
    async lastContiguousChunk(id) {
      const row = await inOpfs(id);
      return row ? storedChunks(row) - 1 : legacy.lastContiguousChunk(id);
    },
    async *readChunks(id, from, to) {
      const row = await inOpfs(id);
      if (!row) {
        yield* legacy.readChunks(id, from, to);
        return;
      }
      const last = Math.min(to, storedChunks(row) - 1);
      for (let start = Math.max(0, from); start <= last; start += READ_PAGE) {
        const end = Math.min(last, start + READ_PAGE - 1);
        const length = end * row.chunkSize + chunkLengthOf(row, end) - start * row.chunkSize;
        const page = await files.read(id, start * row.chunkSize, length);
        if (page.byteLength !== length) throw new ChatError(ErrorCode.FileOrder, `"${row.name}" is shorter on disk than its stored chunks.`);
        for (let i = start; i <= end; i++) {
          const offset = (i - start) * row.chunkSize;
          yield page.subarray(offset, offset + chunkLengthOf(row, i));
        }
      }
    },
    async setState(id, state, error) {
      if (!OPEN_STATES.has(state)) writing.delete(id);
      const changed = await legacy.setState(id, state, error);
      // Finished either way: let go of the file so it can be read.
      if (changed && !OPEN_STATES.has(state) && (await inOpfs(id))) await files.close(id);
      return changed;
    },
    async discard(id, error) {
      writing.delete(id);
      const row = await inOpfs(id);
      await legacy.discard(id, error);
      if (row) await files.remove(id);
    },
    async readBlob(id, type) {
      const row = await inOpfs(id);
      if (!row) return legacy.readBlob(id, type);
      if (row.receivedChunks !== row.chunkCount) {
        throw new ChatError(ErrorCode.FileOrder, `"${row.name}" is incomplete: chunk ${row.receivedChunks} of ${row.chunkCount} is missing.`);
      }
      let file: File;
      try {
        file = await files.file(id);
      } catch (e) {
        throw new ChatError(ErrorCode.FileUnavailable, `"${row.name}" is no longer stored on this device.`, { cause: e });
      }
      if (file.size < row.size) throw new ChatError(ErrorCode.FileOrder, `"${row.name}" is shorter on disk than its stored chunks.`);
      return file.slice(0, row.size, type);
    },
    async sweep() {
      const now = clock.now();
      let removed = 0;
      for (const name of await files.list()) {
        if (!SAFE_NAME.test(name)) continue;
        const row = await db.files.get(name);
        // A row still receiving keeps its file even before its first batch is counted.
        const keep = row?.bytesIn === 'opfs' && row.expiresAt > now && row.state !== 'failed';
        if (keep) continue;
        await files.remove(name);
        removed++;
      }
      return removed;
    },
  };
}
