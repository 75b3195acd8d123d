import Dexie from 'dexie';
import { systemClock, type Clock } from './clock.ts';
import type { ChatDatabase, MessageRow } from './db.ts';
import { HISTORY_PAGE, HISTORY_SYNC_PAGE } from './limits.ts';
import { wrapQuota } from './quota.ts';
import { expiresAtFor } from './retention.ts';
import { tokenize } from './search.ts';

/**
 * A message as the chat layer hands it over. The store derives `words` and `expiresAt`
 * itself, so neither a bug nor a peer can set them.
 */
export type NewMessage = Omit<MessageRow, 'words' | 'expiresAt' | 'receivedAt'> & {
  /** Defaults to now. */
  receivedAt?: number;
  /**
   * What search should find this message by. Defaults to the body for 'text' messages
   * and nothing otherwise (a 'file' body may be JSON; pass the file name here instead).
   */
  searchText?: string;
};

/** A position in a room's timeline; ties on `sentAt` are broken by `id`, like the index. */
export interface MessageCursor {
  sentAt: number;
  id: string;
}

function toRow(input: NewMessage, now: number): MessageRow | undefined {
  const expiresAt = expiresAtFor(input.sentAt, now);
  // Relayed history older than 7 days is refused rather than stored and purged.
  if (expiresAt <= now) return undefined;
  const { searchText, ...rest } = input;
  const text = searchText ?? (input.kind === 'text' ? input.body : '');
  return { ...rest, receivedAt: input.receivedAt ?? now, expiresAt, words: tokenize(text) };
}

/**
 * Stores messages that are new; ids already stored are skipped, so a replayed frame or
 * history relayed by two members never shows twice. Returns how many were added.
 */
export async function addMessages(db: ChatDatabase, inputs: readonly NewMessage[], clock: Clock = systemClock): Promise<number> {
  const now = clock.now();
  const candidates = new Map<string, MessageRow>();
  for (const input of inputs) {
    const row = toRow(input, now);
    if (row && !candidates.has(row.id)) candidates.set(row.id, row);
  }
  if (candidates.size === 0) return 0;

  return wrapQuota(() =>
    db.transaction('rw', db.messages, db.rooms, async () => {
      // Looked up key by key: `where(':id').anyOf(ids)` walks a cursor across the key range
      // the ids span, and random ids span the whole table, so each batch cost O(table).
      const ids = [...candidates.keys()];
      const existing = await db.messages.bulkGet(ids);
      existing.forEach((row, i) => {
        if (row) candidates.delete(ids[i] as string);
      });
      const rows = [...candidates.values()];
      await db.messages.bulkAdd(rows);

      const latest = new Map<string, number>();
      for (const row of rows) latest.set(row.room, Math.max(latest.get(row.room) ?? -Infinity, row.sentAt));
      for (const [room, sentAt] of latest) {
        await db.rooms
          .where('name')
          .equals(room)
          .modify((r) => {
            if (sentAt > r.lastMessageAt) r.lastMessageAt = sentAt;
          });
      }
      return rows.length;
    }),
  );
}

/** Stores one message; false when its id is already stored (or it is already expired). */
export async function addMessage(db: ChatDatabase, input: NewMessage, clock: Clock = systemClock): Promise<boolean> {
  return (await addMessages(db, [input], clock)) === 1;
}

function roomRange(db: ChatDatabase, room: string, from: unknown = Dexie.minKey, to: unknown = Dexie.maxKey) {
  return db.messages.where('[room+sentAt]').between([room, from], [room, to], true, true);
}

/**
 * The newest `limit` messages of a room (before `before`, to scroll up), returned
 * oldest to newest, ready to render. Pass the oldest shown message as `before`.
 */
export async function recentMessages(
  db: ChatDatabase,
  room: string,
  limit: number = HISTORY_PAGE,
  before?: MessageCursor,
): Promise<MessageRow[]> {
  if (limit <= 0) return [];
  let rows = roomRange(db, room, Dexie.minKey, before ? before.sentAt : Dexie.maxKey).reverse();
  if (before) rows = rows.filter((m) => m.sentAt < before.sentAt || m.id < before.id);
  return (await rows.limit(limit).toArray()).reverse();
}

export interface SinceOptions {
  /**
   * Only messages this user may see: public ones and private ones from or to them.
   * NOTE: set it when answering a peer's history request, or private messages leak.
   */
  visibleTo?: string;
}

/**
 * One page of a room's messages from `since` on, oldest first, for history sync.
 * Pass a time to start (inclusive), then the last row of each page to continue.
 */
export async function messagesSince(
  db: ChatDatabase,
  room: string,
  since: number | MessageCursor,
  limit: number = HISTORY_SYNC_PAGE,
  { visibleTo }: SinceOptions = {},
): Promise<MessageRow[]> {
  if (limit <= 0) return [];
  const cursor = typeof since === 'number' ? undefined : since;
  let rows = roomRange(db, room, cursor ? cursor.sentAt : since);
  if (cursor) rows = rows.filter((m) => m.sentAt > cursor.sentAt || m.id > cursor.id);
  if (visibleTo !== undefined) {
    // Names compare as usernames do: case-insensitively ("Binh" and "binh" are one user).
    const who = visibleTo.toLowerCase();
    rows = rows.filter((m) => m.to === undefined || m.to.toLowerCase() === who || m.from.toLowerCase() === who);
  }
  return rows.limit(limit).toArray();
}

/** Records that `username` acknowledged our message. False when the message is gone. */
export async function markDelivered(db: ChatDatabase, id: string, username: string): Promise<boolean> {
  const changed = await db.messages
    .where(':id')
    .equals(id)
    .modify((m) => {
      m.status = 'delivered';
      const list = m.deliveredTo ?? [];
      if (!list.includes(username)) m.deliveredTo = [...list, username];
    });
  return changed > 0;
}

/** Our message left this device (at least one channel took it). */
export async function markSent(db: ChatDatabase, id: string): Promise<boolean> {
  const changed = await db.messages
    .where(':id')
    .equals(id)
    .modify((m) => {
      if (m.status === undefined || m.status === 'sending') m.status = 'sent';
    });
  return changed > 0;
}

/**
 * Deletes one message, its queued resends and, by convention a file message shares its
 * id with its manifest, the file and its chunks. Index entries go with the row.
 */
export async function deleteMessage(db: ChatDatabase, id: string): Promise<boolean> {
  return db.transaction('rw', [db.messages, db.files, db.chunks, db.outbox], async () => {
    const found = (await db.messages.where(':id').equals(id).count()) > 0;
    await db.messages.delete(id);
    await db.outbox.where('messageId').equals(id).delete();
    await db.chunks.where('fileId').equals(id).delete();
    await db.files.delete(id);
    return found;
  });
}

/**
 * Forgets a chat entirely: the room, its messages, files, chunks and queued frames, in
 * one transaction, so a crash never leaves half a deleted chat behind.
 */
export async function deleteRoom(db: ChatDatabase, room: string): Promise<void> {
  await db.transaction('rw', [db.rooms, db.messages, db.files, db.chunks, db.outbox], async () => {
    await db.rooms.delete(room);
    await roomRange(db, room).delete();
    const fileIds = await db.files.where('room').equals(room).primaryKeys();
    if (fileIds.length > 0) await db.chunks.where('fileId').anyOf(fileIds).delete();
    await db.files.bulkDelete(fileIds);
    await db.outbox.where('room').equals(room).delete();
  });
}
