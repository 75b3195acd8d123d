import Dexie from 'dexie';
import { systemClock, type Clock } from './clock.ts';
import type { ChatDatabase, RoomRow } from './db.ts';
import { wrapQuota } from './quota.ts';

export interface RoomInfo {
  name: string;
  locked: boolean;
  direct?: string;
}

/** Records a joined room; joining again keeps its read position and history. */
export async function saveRoom(db: ChatDatabase, room: RoomInfo, clock: Clock = systemClock): Promise<RoomRow> {
  const now = clock.now();
  return wrapQuota(() =>
    db.transaction('rw', db.rooms, async () => {
      const existing = await db.rooms.get(room.name);
      const row: RoomRow = existing
        ? { ...existing, locked: room.locked }
        : { name: room.name, locked: room.locked, joinedAt: now, lastReadAt: now, lastMessageAt: 0 };
      if (room.direct !== undefined) row.direct = room.direct;
      await db.rooms.put(row);
      return row;
    }),
  );
}

/** Joined rooms, most recently active first. */
export async function listRooms(db: ChatDatabase): Promise<RoomRow[]> {
  const rows = await db.rooms.toArray();
  return rows.sort((a, b) => b.lastMessageAt - a.lastMessageAt || a.name.localeCompare(b.name));
}

export async function markRoomRead(db: ChatDatabase, room: string, at: number): Promise<void> {
  await db.rooms
    .where('name')
    .equals(room)
    .modify((r) => {
      if (at > r.lastReadAt) r.lastReadAt = at;
    });
}

/** Messages after the read mark; counted from index keys, no row is read. */
export async function countUnread(db: ChatDatabase, room: string): Promise<number> {
  const row = await db.rooms.get(room);
  if (!row) return 0;
  return db.messages
    .where('[room+sentAt]')
    .between([room, row.lastReadAt], [room, Dexie.maxKey], false, true)
    .count();
}
