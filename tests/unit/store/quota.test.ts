// Must come first: Dexie picks up the global indexedDB when it is first imported.
import 'fake-indexeddb/auto';
import Dexie, { type DBCore, type DBCoreTable } from 'dexie';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ChatError, ErrorCode } from '../../../client/src/core/errors.ts';
import { addFile, countChunks, putChunk } from '../../../client/src/core/store/files.ts';
import { addMessage } from '../../../client/src/core/store/messages.ts';
import { isQuotaError, QUOTA_MESSAGE, requestPersistence, wrapQuota } from '../../../client/src/core/store/quota.ts';
import { makeFile, makeMessage, ManualClock, openFreshDb, T0 } from './helpers.ts';

afterEach(() => {
  vi.unstubAllGlobals();
});

const quotaError = () => new DOMException('The quota has been exceeded.', 'QuotaExceededError');

describe('quota', () => {
  it('recognises a full disk however it is reported', () => {
    expect(isQuotaError(quotaError())).toBe(true);
    expect(isQuotaError(new Dexie.QuotaExceededError('full'))).toBe(true);
    expect(isQuotaError(new Dexie.AbortError('aborted', quotaError()))).toBe(true);
    expect(isQuotaError(new Error('wrapped', { cause: quotaError() }))).toBe(true);
    expect(isQuotaError(new DOMException('nope', 'AbortError'))).toBe(false);
    expect(isQuotaError(new Error('disk on fire'))).toBe(false);
    expect(isQuotaError(undefined)).toBe(false);
  });

  it('turns a full disk into ERR_QUOTA with words a person understands', async () => {
    const mapped = await wrapQuota(() => Promise.reject(quotaError())).catch((e: unknown) => e);
    expect(mapped).toBeInstanceOf(ChatError);
    expect(mapped).toMatchObject({ code: ErrorCode.Quota, message: QUOTA_MESSAGE });

    const other = new Error('something else');
    await expect(wrapQuota(() => Promise.reject(other))).rejects.toBe(other);
    await expect(wrapQuota(() => Promise.resolve(7))).resolves.toBe(7);
  });

  it('a disk filling up mid-transfer fails with a clear error and keeps earlier history', async () => {
    const db = openFreshDb();
    // Simulate the browser refusing writes to chunks once the disk is full.
    let diskFull = false;
    db.use({
      stack: 'dbcore',
      name: 'full-disk',
      create: (down: DBCore): DBCore => ({
        ...down,
        table: (name: string): DBCoreTable => {
          const table = down.table(name);
          return {
            ...table,
            mutate: (req) => (diskFull && name === 'chunks' ? Promise.reject(quotaError()) : table.mutate(req)),
          };
        },
      }),
    });
    const clock = new ManualClock(T0);
    const earlier = makeMessage({ body: 'earlier history' });
    await addMessage(db, earlier, clock);
    const file = makeFile({ chunkCount: 3 });
    await addFile(db, file, clock);
    await putChunk(db, file.id, 0, new Uint8Array([1, 2, 3]));

    diskFull = true;
    await expect(putChunk(db, file.id, 1, new Uint8Array([4, 5, 6]))).rejects.toMatchObject({
      code: ErrorCode.Quota,
      message: QUOTA_MESSAGE,
    });

    diskFull = false;
    expect((await db.messages.get(earlier.id))?.body).toBe('earlier history');
    expect(await countChunks(db, file.id)).toBe(1);
    // The manifest's count rolled back with the failed transaction.
    expect((await db.files.get(file.id))?.receivedChunks).toBe(1);
    // And the transfer can carry on once there is room.
    expect(await putChunk(db, file.id, 1, new Uint8Array([4, 5, 6]))).toBe(2);
    db.close();
  });

  it('asks the browser to keep our data when it can', async () => {
    vi.stubGlobal('navigator', {});
    expect(await requestPersistence()).toBe(false);

    const persist = vi.fn(async () => true);
    vi.stubGlobal('navigator', { storage: { persisted: async () => false, persist } });
    expect(await requestPersistence()).toBe(true);
    expect(persist).toHaveBeenCalledOnce();

    vi.stubGlobal('navigator', { storage: { persisted: async () => false, persist: async () => { throw new Error('denied'); } } });
    expect(await requestPersistence()).toBe(false);
  });
});
