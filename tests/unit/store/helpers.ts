import 'fake-indexeddb/auto';
import type { DBCore, DBCoreCursor, DBCoreTable, Dexie } from 'dexie';
import { ChatDatabase } from '../../../client/src/core/store/db.ts';
import type { NewMessage } from '../../../client/src/core/store/messages.ts';
import type { NewFile } from '../../../client/src/core/store/files.ts';

let counter = 0;

/** A unique database name per test, so tests never see each other's rows. */
export function freshName(prefix = 'store-test'): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}-${Math.random().toString(36).slice(2)}`;
}

export function openFreshDb(): ChatDatabase {
  return new ChatDatabase(freshName());
}

export const DAY_MS = 24 * 60 * 60 * 1000;
export const T0 = Date.UTC(2025, 0, 6, 9, 0, 0);

/** A clock tests can move forward. */
export class ManualClock {
  constructor(public time: number = T0) {}
  now(): number {
    return this.time;
  }
  advance(ms: number): void {
    this.time += ms;
  }
}

let messageSeq = 0;

export function makeMessage(overrides: Partial<NewMessage> = {}): NewMessage {
  messageSeq += 1;
  return {
    id: `m-${messageSeq}-${Math.random().toString(36).slice(2, 8)}`,
    room: 'general',
    from: 'an',
    sentAt: T0,
    kind: 'text',
    body: 'hello',
    signature: 'c2lnbmF0dXJl',
    ...overrides,
  };
}

export function makeFile(overrides: Partial<NewFile> = {}): NewFile {
  messageSeq += 1;
  return {
    id: `f-${messageSeq}-${Math.random().toString(36).slice(2, 8)}`,
    room: 'general',
    from: 'an',
    name: 'photo.jpg',
    size: 10,
    type: 'image/jpeg',
    sha256: 'aGFzaA',
    chunkSize: 4,
    chunkCount: 3,
    signature: 'c2ln',
    sentAt: T0,
    ...overrides,
  };
}

/**
 * Counts rows (values, not keys) that Dexie reads from IndexedDB for one table, at the
 * DBCore level, before any filter runs: the honest measure of "did this scan the table".
 * Register before the database's first query.
 */
export function countRowsRead(db: Dexie, tableName: string): { rows: number } {
  const counter = { rows: 0 };
  db.use({
    stack: 'dbcore',
    name: `count-rows-${tableName}`,
    create: (down: DBCore): DBCore => ({
      ...down,
      table: (name: string): DBCoreTable => {
        const table = down.table(name);
        if (name !== tableName) return table;
        return {
          ...table,
          get: async (req) => {
            counter.rows++;
            return table.get(req);
          },
          getMany: async (req) => {
            counter.rows += req.keys.length;
            return table.getMany(req);
          },
          query: async (req) => {
            const res = await table.query(req);
            if (req.values) counter.rows += res.result.length;
            return res;
          },
          openCursor: async (req) => {
            const cursor = await table.openCursor(req);
            if (!cursor || !req.values) return cursor;
            // Same wrapping pattern Dexie's own middlewares use for cursors.
            return Object.create(cursor, {
              start: {
                value: (onNext: () => void) =>
                  cursor.start(() => {
                    counter.rows++;
                    onNext();
                  }),
              },
            }) as DBCoreCursor;
          },
        };
      },
    }),
  });
  return counter;
}
