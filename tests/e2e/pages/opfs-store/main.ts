/**
 * The browser side of tests/e2e/opfs-store.test.ts: the real origin-private file store
 * (worker, synchronous access handles, IndexedDB rows) behind a few calls the test makes
 * through page.evaluate. Bytes cross as arrays of numbers; errors come back as their code.
 */
import { isChatError } from '../../../../client/src/core/errors.ts';
import { ChatDatabase } from '../../../../client/src/core/store/db.ts';
import { dexieFileStore } from '../../../../client/src/core/store/files.ts';
import { OpfsFiles, opfsFileStore, type OpfsFileStore } from '../../../../client/src/core/store/opfs-files.ts';
import type { NewFile } from '../../../../client/src/core/files/file-store.ts';

const DAY = 24 * 60 * 60 * 1000;
let now = Date.now();
const clock = { now: () => now };
let db: ChatDatabase;
let files: OpfsFiles;
let store: OpfsFileStore;

async function attempt<T>(fn: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; code: string; message: string }> {
  try {
    return { ok: true, value: await fn() };
  } catch (e) {
    return { ok: false, code: isChatError(e) ? e.code : String((e as Error).name), message: (e as Error).message };
  }
}

function row(id: string, size: number, chunkSize: number, extra: Partial<NewFile> = {}): NewFile {
  return {
    id,
    room: 'store room',
    from: 'An',
    name: `${id}.bin`,
    size,
    type: 'application/octet-stream',
    sha256: '0'.repeat(64),
    chunkSize,
    chunkCount: Math.ceil(size / chunkSize),
    signature: '',
    sentAt: now,
    ...extra,
  };
}

const bytes = (values: number[]) => new Uint8Array(values);

const api = {
  async open(): Promise<boolean> {
    db = new ChatDatabase(`opfs-store-test-${Math.random().toString(36).slice(2)}`);
    await db.open();
    const opened = await OpfsFiles.open();
    if (!opened) return false;
    files = opened;
    store = opfsFileStore(db, files, { clock });
    return true;
  },
  /** The store as a reloaded page has it: same database and files, nothing in memory. */
  reopen(): void {
    store = opfsFileStore(db, files, { clock });
  },
  add: (id: string, size: number, chunkSize: number, state?: 'receiving' | 'sending') => store.add(row(id, size, chunkSize, state ? { state } : {})),
  put: (id: string, chunks: { index: number; data: number[] }[]) => attempt(() => store.putChunks(id, chunks.map((c) => ({ index: c.index, data: bytes(c.data) })))),
  /**
   * Stores a `size`-byte file (byte k is 7k mod 256) as the sender's own copy does: chunks
   * are views into blocks of `perBlock` chunks, read and hashed together, one block per call.
   */
  putAsViews: (id: string, size: number, chunkSize: number, perBlock: number) =>
    attempt(async () => {
      const count = Math.ceil(size / chunkSize);
      let stored = 0;
      for (let first = 0; first < count; first += perBlock) {
        const start = first * chunkSize;
        const block = new Uint8Array(Math.min(size, start + perBlock * chunkSize) - start).map((_, i) => ((start + i) * 7) % 256);
        const chunks = [];
        for (let i = first; i < Math.min(count, first + perBlock); i++) {
          const at = (i - first) * chunkSize;
          chunks.push({ index: i, data: block.subarray(at, Math.min(block.length, at + chunkSize)) });
        }
        stored = await store.putChunks(id, chunks);
      }
      return stored;
    }),
  /** Chunks `from`..`to` of `chunkSize` bytes, one call each; chunk i is filled with i. */
  putFilled: (id: string, from: number, to: number, chunkSize: number) =>
    attempt(async () => {
      let count = 0;
      for (let i = from; i <= to; i++) count = await store.putChunks(id, [{ index: i, data: new Uint8Array(chunkSize).fill(i) }]);
      return count;
    }),
  /** Every byte of the finished file equals its chunk's index. */
  async filledRight(id: string, chunkSize: number): Promise<boolean> {
    const blob = await store.readBlob(id, 'application/octet-stream');
    const all = new Uint8Array(await blob.arrayBuffer());
    return all.every((b, at) => b === Math.floor(at / chunkSize));
  },
  advanceMs(ms: number): void {
    now += ms;
  },
  count: (id: string) => store.countChunks(id),
  last: (id: string) => store.lastContiguousChunk(id),
  async read(id: string, from: number, to: number): Promise<number[][]> {
    const out: number[][] = [];
    for await (const chunk of store.readChunks(id, from, to)) out.push([...chunk]);
    return out;
  },
  setState: (id: string, state: 'verified' | 'receiving') => store.setState(id, state),
  readBlob: (id: string) => attempt(async () => {
    const blob = await store.readBlob(id, 'image/png');
    return { type: blob.type, bytes: [...new Uint8Array(await blob.arrayBuffer())] };
  }),
  discard: (id: string) => store.discard(id, 'altered'),
  row: (id: string) => store.get(id),
  /** Names and sizes in the store's folder of the origin private file system (-1: being written, locked). */
  async onDisk(): Promise<Record<string, number>> {
    const dir = (await (await navigator.storage.getDirectory()).getDirectoryHandle('files', { create: true })) as FileSystemDirectoryHandle & {
      entries(): AsyncIterable<[string, FileSystemFileHandle]>;
    };
    const out: Record<string, number> = {};
    for await (const [name, handle] of dir.entries()) out[name] = await handle.getFile().then((f) => f.size, () => -1);
    return out;
  },
  /** A row gone behind the store's back, as deleting a chat does. */
  async dropRow(id: string): Promise<void> {
    await db.files.delete(id);
  },
  sweep: () => store.sweep(),
  advanceDays(days: number): void {
    now += days * DAY;
  },
  /** A file stored the old way: chunk rows in IndexedDB, no bytesIn marker. */
  async addLegacy(id: string, chunks: readonly (readonly number[])[], chunkSize: number): Promise<void> {
    const legacy = dexieFileStore(db, { clock, storeAs: 'blob' });
    const size = chunks.reduce((n, c) => n + c.length, 0);
    await legacy.add(row(id, size, chunkSize));
    await legacy.putChunks(id, chunks.map((data, index) => ({ index, data: bytes([...data]) })));
    await legacy.setState(id, 'verified');
  },
};

declare global {
  interface Window {
    opfsStore: typeof api;
  }
}
window.opfsStore = api;
