// Must come first: Dexie picks up the global indexedDB when it is first imported.
import 'fake-indexeddb/auto';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../client/src/core/errors.ts';
import type { FileStore, NewFile } from '../../../client/src/core/files/file-store.ts';
import { newFileId } from '../../../client/src/core/files/manifest.ts';
import { ChatDatabase } from '../../../client/src/core/store/db.ts';
import { dexieFileStore } from '../../../client/src/core/store/files.ts';
import { HISTORY_TTL_MS } from '../../../client/src/core/store/limits.ts';
import { DiskFileStore } from '../../../cli/src/disk-file-store.ts';

const CHUNK = 1024;

let dir: string;
const opened: { close(): void }[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cli-files-'));
});
afterEach(async () => {
  for (const s of opened.splice(0)) s.close();
  await rm(dir, { recursive: true, force: true });
});

async function openDisk(now?: () => number): Promise<DiskFileStore> {
  const store = await DiskFileStore.open(join(dir, 'files'), now ? { now } : {});
  opened.push(store);
  return store;
}

function openDexie(): FileStore {
  const db = new ChatDatabase(`disk-file-store-test-${Math.random().toString(36).slice(2)}`);
  opened.push(db);
  return dexieFileStore(db, { storeAs: 'bytes' });
}

/** A file of `chunks` chunks (the last one `lastBytes` long), and its chunks' bytes. */
function newFile(chunks: number, lastBytes = 300, over: Partial<NewFile> = {}): { file: NewFile; data: (i: number) => Uint8Array; bytes: Uint8Array } {
  const size = (chunks - 1) * CHUNK + lastBytes;
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 7 + (i >> 10)) & 0xff;
  const file: NewFile = {
    id: newFileId(),
    room: 'lobby',
    from: 'An',
    name: 'notes.bin',
    size,
    type: 'application/octet-stream',
    sha256: createHash('sha256').update(bytes).digest('hex'),
    chunkSize: CHUNK,
    chunkCount: chunks,
    signature: 'sig',
    sentAt: Date.now(),
    ...over,
  };
  return { file, bytes, data: (i) => bytes.slice(i * CHUNK, Math.min(size, (i + 1) * CHUNK)) };
}

async function sha256Of(chunks: AsyncIterable<Uint8Array>): Promise<string> {
  const h = createHash('sha256');
  for await (const c of chunks) h.update(c);
  return h.digest('hex');
}

/** The same answers from the disk store as from the browser's: both implement core's port. */
describe.each([
  ['Dexie store (reference)', async () => openDexie()],
  ['disk store', async (): Promise<FileStore> => openDisk()],
])('%s keeps the FileStore port', (_name, make: () => Promise<FileStore>) => {
  it('stores a batch of chunks and counts a chunk sent twice once', async () => {
    const s = await make();
    const { file, data } = newFile(5);
    expect(await s.add(file)).toBe(true);
    expect(await s.add(file)).toBe(false);
    expect(await s.putChunks(file.id, [0, 1, 2].map((index) => ({ index, data: data(index) })))).toBe(3);
    expect(await s.putChunks(file.id, [{ index: 2, data: data(2) }, { index: 3, data: data(3) }])).toBe(4);
    expect(await s.countChunks(file.id)).toBe(4);
    expect((await s.get(file.id))?.receivedChunks).toBe(4);
  });

  it('refuses a chunk outside the file, or for a transfer that ended, and stores nothing of that batch', async () => {
    const s = await make();
    const { file, data } = newFile(3);
    await s.add(file);
    await expect(s.putChunks(file.id, [{ index: 0, data: data(0) }, { index: 3, data: data(0) }])).rejects.toMatchObject({ code: ErrorCode.FileOrder });
    await expect(s.putChunks(file.id, [{ index: -1, data: data(0) }])).rejects.toMatchObject({ code: ErrorCode.FileOrder });
    await expect(s.putChunks(file.id, [{ index: 1, data: new Uint8Array(CHUNK + 1) }])).rejects.toMatchObject({ code: ErrorCode.FileSize });
    expect(await s.countChunks(file.id)).toBe(0);
    await expect(s.putChunks(newFileId(), [{ index: 0, data: data(0) }])).rejects.toMatchObject({ code: ErrorCode.Malformed });
    await s.setState(file.id, 'verified');
    await expect(s.putChunks(file.id, [{ index: 0, data: data(0) }])).rejects.toMatchObject({ code: ErrorCode.FileOrder });
  });

  it('knows the last chunk before the first gap, and hashes what is stored in order', async () => {
    const s = await make();
    const { file, data, bytes } = newFile(6);
    await s.add(file);
    expect(await s.lastContiguousChunk(file.id)).toBe(-1);
    await s.putChunks(file.id, [1, 2].map((index) => ({ index, data: data(index) })));
    expect(await s.lastContiguousChunk(file.id)).toBe(-1);
    await s.putChunks(file.id, [{ index: 0, data: data(0) }, { index: 4, data: data(4) }]);
    expect(await s.lastContiguousChunk(file.id)).toBe(2);
    expect(await sha256Of(s.readChunks(file.id, 0, 2))).toBe(createHash('sha256').update(bytes.subarray(0, 3 * CHUNK)).digest('hex'));
    await s.putChunks(file.id, [3, 5].map((index) => ({ index, data: data(index) })));
    expect(await s.lastContiguousChunk(file.id)).toBe(5);
    expect(await sha256Of(s.readChunks(file.id, 0, 5))).toBe(file.sha256);
    const blob = await s.readBlob(file.id, 'text/plain');
    expect(blob.type).toBe('text/plain');
    expect(new Uint8Array(await blob.arrayBuffer())).toEqual(bytes);
  });

  it('says which chunk is missing when the whole file is asked for too early', async () => {
    const s = await make();
    const { file, data } = newFile(3);
    await s.add(file);
    await s.putChunks(file.id, [{ index: 0, data: data(0) }, { index: 2, data: data(2) }]);
    await expect(s.readBlob(file.id, 'application/octet-stream')).rejects.toMatchObject({ code: ErrorCode.FileOrder });
  });

  it('discards a file: chunks gone, the row kept as failed with why', async () => {
    const s = await make();
    const { file, data } = newFile(2);
    await s.add(file);
    await s.putChunks(file.id, [{ index: 0, data: data(0) }]);
    await s.discard(file.id, 'this file was altered in transit and was discarded');
    expect(await s.countChunks(file.id)).toBe(0);
    expect(await s.get(file.id)).toMatchObject({ state: 'failed', error: 'this file was altered in transit and was discarded', receivedChunks: 0 });
    expect(await s.setState(file.id, 'receiving')).toBe(true);
    expect((await s.get(file.id))?.error).toBeUndefined();
    expect(await s.setState(newFileId(), 'failed')).toBe(false);
  });

  it('updates, lists by room, and deletes rows', async () => {
    const s = await make();
    const a = newFile(1).file;
    const b = newFile(1, 10, { room: 'other' }).file;
    await s.add({ ...a, state: 'sending' });
    await s.add(b);
    await s.update(a.id, { sha256: 'f'.repeat(64), signature: 'signed' });
    expect(await s.get(a.id)).toMatchObject({ state: 'sending', sha256: 'f'.repeat(64), signature: 'signed' });
    expect((await s.inRoom('lobby')).map((r) => r.id)).toEqual([a.id]);
    await s.delete(a.id);
    expect(await s.get(a.id)).toBeUndefined();
    expect(await s.inRoom('lobby')).toEqual([]);
  });

  it('refuses a file sent more than 7 days ago', async () => {
    const s = await make();
    expect(await s.add(newFile(1, 10, { sentAt: Date.now() - HISTORY_TTL_MS - 1000 }).file)).toBe(false);
  });
});

describe('the terminal peer’s file store on disk', () => {
  it('writes chunks into one file at their offsets, never the whole file in memory', async () => {
    const s = await openDisk();
    const { file, data, bytes } = newFile(4);
    await s.add(file);
    await s.putChunks(file.id, [3, 0].map((index) => ({ index, data: data(index) })));
    await s.putChunks(file.id, [{ index: 1, data: new Blob([data(1) as Uint8Array<ArrayBuffer>]) }, { index: 2, data: data(2) }]);
    expect(new Uint8Array(await readFile(s.partPath(file.id)))).toEqual(bytes);
  });

  it('resumes after the store is reopened from disk (a restarted CLI)', async () => {
    const first = await openDisk();
    const { file, data } = newFile(8);
    await first.add(file);
    await first.putChunks(file.id, [0, 1, 2, 3, 5].map((index) => ({ index, data: data(index) })));
    first.close();

    const again = await openDisk();
    expect(await again.get(file.id)).toMatchObject({ state: 'receiving', receivedChunks: 5, name: 'notes.bin' });
    expect(await again.lastContiguousChunk(file.id)).toBe(3);
    expect(await again.inRoom('lobby')).toHaveLength(1);
    await again.putChunks(file.id, [4, 6, 7].map((index) => ({ index, data: data(index) })));
    expect(await sha256Of(again.readChunks(file.id, 0, 7))).toBe(file.sha256);
  });

  it('removes files whose 7 days are up, bytes and manifest, at start-up and while running', async () => {
    let now = Date.now();
    const s = await openDisk(() => now);
    const old = newFile(2);
    await s.add(old.file);
    await s.putChunks(old.file.id, [{ index: 0, data: old.data(0) }]);
    now += HISTORY_TTL_MS + 1;
    const fresh = newFile(1, 10, { sentAt: now });
    // Adding a file purges first.
    expect(await s.add(fresh.file)).toBe(true);
    expect(await s.get(old.file.id)).toBeUndefined();
    expect((await readdir(join(dir, 'files'))).sort()).toEqual([`${fresh.file.id}.json`, `${fresh.file.id}.part`].sort());
    s.close();

    now += HISTORY_TTL_MS + 1;
    const later = await openDisk(() => now);
    expect(await later.get(fresh.file.id)).toBeUndefined();
    expect(await readdir(join(dir, 'files'))).toEqual([]);
  });

  it('cleans up after a crash: bytes without a manifest, half-written manifests, temporary files', async () => {
    const s = await openDisk();
    const kept = newFile(1);
    await s.add(kept.file);
    const lost = newFile(2);
    await s.add(lost.file);
    await s.putChunks(lost.file.id, [{ index: 0, data: lost.data(0) }]);
    s.close();
    const files = join(dir, 'files');
    await rm(s.partPath(lost.file.id));
    const orphan = newFileId();
    await writeFile(join(files, `${orphan}.part`), 'bytes nobody counted');
    await writeFile(join(files, `${newFileId()}.json`), '{"v":1,"row":');
    await writeFile(join(files, `.${kept.file.id}.json.123.tmp`), 'partial');
    const again = await openDisk();
    expect(await again.get(kept.file.id)).toBeDefined();
    // Bytes deleted by hand: the manifest no longer claims them, so they are fetched again.
    expect(await again.get(lost.file.id)).toMatchObject({ state: 'receiving', receivedChunks: 0 });
    expect(await again.lastContiguousChunk(lost.file.id)).toBe(-1);
    expect((await readdir(files)).sort()).toEqual([`${kept.file.id}.json`, `${kept.file.id}.part`, `${lost.file.id}.json`].sort());
  });

  it('moves a complete file out without replacing anything, and keeps the row', async () => {
    const s = await openDisk();
    const { file, data, bytes } = newFile(2);
    await s.add(file);
    const dest = join(dir, 'saved.bin');
    await expect(s.moveOut(file.id, dest)).rejects.toMatchObject({ code: ErrorCode.FileOrder });
    await s.putChunks(file.id, [0, 1].map((index) => ({ index, data: data(index) })));
    await s.setState(file.id, 'verified');
    await writeFile(dest, 'already here');
    await expect(s.moveOut(file.id, dest)).rejects.toMatchObject({ code: 'EEXIST' });
    expect(await readFile(dest, 'utf8')).toBe('already here');
    const other = join(dir, 'saved (1).bin');
    await s.moveOut(file.id, other);
    expect(new Uint8Array(await readFile(other))).toEqual(bytes);
    expect((await stat(other)).mode & 0o777).toBe(0o600);
    expect(await s.get(file.id)).toMatchObject({ state: 'verified' });
    expect(await s.countChunks(file.id)).toBe(0);
    await expect(stat(s.partPath(file.id))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('never turns a file id into a path outside its folder', async () => {
    const s = await openDisk();
    expect(() => s.partPath('../../etc/passwd')).toThrow();
    await expect(s.add({ ...newFile(1).file, id: '../escape' })).rejects.toMatchObject({ code: ErrorCode.Malformed });
  });
});
