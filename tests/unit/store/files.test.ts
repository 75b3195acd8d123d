// Must come first: Dexie picks up the global indexedDB when it is first imported.
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../client/src/core/errors.ts';
import type { ChatDatabase } from '../../../client/src/core/store/db.ts';
import {
  addFile,
  countChunks,
  discardFile,
  lastContiguousChunk,
  putChunk,
  putChunks,
  readFileBlob,
  setFileState,
} from '../../../client/src/core/store/files.ts';
import { deleteMessage } from '../../../client/src/core/store/messages.ts';
import { makeFile, ManualClock, openFreshDb, T0 } from './helpers.ts';

const dbs: ChatDatabase[] = [];
afterEach(() => {
  for (const db of dbs.splice(0)) db.close();
});
function fresh(): ChatDatabase {
  const db = openFreshDb();
  dbs.push(db);
  return db;
}
const clock = new ManualClock(T0);

function randomBytes(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

describe('files', () => {
  it('a received file reads back as a Blob with identical bytes, whatever order chunks came in', async () => {
    const db = fresh();
    const bytes = randomBytes(10_000);
    const chunkSize = 1024;
    const chunkCount = Math.ceil(bytes.length / chunkSize);
    const file = makeFile({ size: bytes.length, chunkSize, chunkCount });
    expect(await addFile(db, file, clock)).toBe(true);
    expect(await addFile(db, file, clock)).toBe(false);

    const order = Array.from({ length: chunkCount }, (_, i) => i).reverse();
    let received = 0;
    for (const i of order) {
      const part = bytes.slice(i * chunkSize, (i + 1) * chunkSize);
      // Mix both storage forms: Blob (what browsers should store) and bytes.
      received = await putChunk(db, file.id, i, i % 2 === 0 ? new Blob([part]) : part);
    }
    expect(received).toBe(chunkCount);
    expect(await countChunks(db, file.id)).toBe(chunkCount);
    expect((await db.files.get(file.id))?.receivedChunks).toBe(chunkCount);

    const blob = await readFileBlob(db, file.id, 'application/octet-stream');
    expect(blob.type).toBe('application/octet-stream');
    expect(blob.size).toBe(bytes.length);
    expect(new Uint8Array(await blob.arrayBuffer())).toEqual(bytes);
  });

  it('counts a resent chunk once', async () => {
    const db = fresh();
    const file = makeFile();
    await addFile(db, file, clock);
    expect(await putChunk(db, file.id, 0, new Uint8Array([1]))).toBe(1);
    expect(await putChunk(db, file.id, 0, new Uint8Array([2]))).toBe(1);
    expect(await countChunks(db, file.id)).toBe(1);
  });

  it('stores a batch of chunks in one go, counting resent ones once and refusing any out of range', async () => {
    const db = fresh();
    const file = makeFile({ chunkCount: 6 });
    await addFile(db, file, clock);
    expect(await putChunk(db, file.id, 1, new Uint8Array([1]))).toBe(1);
    expect(await putChunks(db, file.id, [0, 1, 2, 3].map((index) => ({ index, data: new Blob([new Uint8Array([index])]) })))).toBe(4);
    expect(await countChunks(db, file.id)).toBe(4);
    await expect(putChunks(db, file.id, [{ index: 4, data: new Uint8Array([4]) }, { index: 6, data: new Uint8Array([6]) }])).rejects.toMatchObject({ code: ErrorCode.FileOrder });
    // All or nothing: chunk 4 was not stored with the bad one.
    expect(await countChunks(db, file.id)).toBe(4);
    expect(await lastContiguousChunk(db, file.id)).toBe(3);
  });

  it('knows where to resume an interrupted transfer', async () => {
    const db = fresh();
    const file = makeFile({ chunkCount: 6 });
    await addFile(db, file, clock);
    expect(await lastContiguousChunk(db, file.id)).toBe(-1);
    await putChunk(db, file.id, 1, new Uint8Array([1]));
    expect(await lastContiguousChunk(db, file.id)).toBe(-1);
    for (const i of [0, 3, 4]) await putChunk(db, file.id, i, new Uint8Array([i]));
    expect(await lastContiguousChunk(db, file.id)).toBe(1);
    await putChunk(db, file.id, 2, new Uint8Array([2]));
    expect(await lastContiguousChunk(db, file.id)).toBe(4);
  });

  it('will not assemble a file with a missing chunk', async () => {
    const db = fresh();
    const file = makeFile({ chunkCount: 3 });
    await addFile(db, file, clock);
    await putChunk(db, file.id, 0, new Uint8Array([0]));
    await putChunk(db, file.id, 2, new Uint8Array([2]));
    await expect(readFileBlob(db, file.id, 'image/jpeg')).rejects.toMatchObject({ code: ErrorCode.FileOrder });
  });

  it('refuses chunks outside the manifest, larger than announced, or for unknown files', async () => {
    const db = fresh();
    const file = makeFile({ chunkCount: 2, chunkSize: 4 });
    await addFile(db, file, clock);
    await expect(putChunk(db, file.id, 2, new Uint8Array([1]))).rejects.toMatchObject({ code: ErrorCode.FileOrder });
    await expect(putChunk(db, file.id, -1, new Uint8Array([1]))).rejects.toMatchObject({ code: ErrorCode.FileOrder });
    await expect(putChunk(db, file.id, 0, new Uint8Array(5))).rejects.toMatchObject({ code: ErrorCode.FileSize });
    await expect(putChunk(db, 'nope', 0, new Uint8Array(1))).rejects.toMatchObject({ code: ErrorCode.Malformed });
    expect(await countChunks(db, file.id)).toBe(0);
  });

  it('a file that fails verification is marked failed and its data removed', async () => {
    const db = fresh();
    const file = makeFile({ chunkCount: 3 });
    const other = makeFile({ chunkCount: 1 });
    await addFile(db, file, clock);
    await addFile(db, other, clock);
    for (let i = 0; i < 3; i++) await putChunk(db, file.id, i, new Uint8Array([i]));
    await putChunk(db, other.id, 0, new Uint8Array([9]));
    await setFileState(db, file.id, 'verifying');

    await discardFile(db, file.id, 'The file does not match its signature.');
    const row = await db.files.get(file.id);
    expect(row?.state).toBe('failed');
    expect(row?.error).toBe('The file does not match its signature.');
    expect(await countChunks(db, file.id)).toBe(0);
    expect(await countChunks(db, other.id)).toBe(1);
    // A late chunk for a discarded file is not stored.
    await expect(putChunk(db, file.id, 0, new Uint8Array([0]))).rejects.toMatchObject({ code: ErrorCode.FileOrder });
    expect(await countChunks(db, file.id)).toBe(0);
  });

  it('deleting a file message deletes the file with it', async () => {
    const db = fresh();
    const file = makeFile({ chunkCount: 1 });
    await addFile(db, file, clock);
    await putChunk(db, file.id, 0, new Uint8Array([1]));
    await deleteMessage(db, file.id);
    expect(await db.files.get(file.id)).toBeUndefined();
    expect(await countChunks(db, file.id)).toBe(0);
  });
});
