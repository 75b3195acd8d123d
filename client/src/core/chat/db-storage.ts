import type { Clock } from '../store/clock.ts';
import type { ChatDatabase, ContactRow, MessageRow, RoomRow } from '../store/db.ts';
import { addMessage, deleteRoom, markDelivered, messagesSince, recentMessages } from '../store/messages.ts';
import { enqueueOutbox, pendingOutbox } from '../store/outbox.ts';
import { saveRoom } from '../store/rooms.ts';
import { wrapQuota } from '../store/quota.ts';
import type { ChatMessage, ChatStorage, Contact, SavedRoom } from './ports.ts';

/** Extra fields the chat layer keeps on store rows; Dexie stores unindexed fields as given. */
type ContactRecord = ContactRow & { pendingKey?: string };
type RoomRecord = RoomRow & { displayName?: string; joinToken?: string; peerProofKey?: CryptoKey };

function toMessage(row: MessageRow): ChatMessage {
  return {
    id: row.id,
    room: row.room,
    from: row.from,
    ...(row.to !== undefined ? { to: row.to } : {}),
    sentAt: row.sentAt,
    kind: row.kind === 'file' ? 'file' : 'text',
    body: row.body,
    signature: row.signature,
    status: row.status ?? 'received',
    deliveredTo: row.deliveredTo ?? [],
    receivedAt: row.receivedAt,
  };
}

export interface DbStorageHooks {
  /** A chat's rows are gone: file bytes kept outside the database can go too. */
  afterRoomDeleted?: (room: string) => void;
}

/** The chat layer's storage ports over the Dexie history database. */
export function createDbStorage(db: ChatDatabase, clock: Clock, hooks: DbStorageHooks = {}): ChatStorage {
  return {
    contacts: {
      async get(username) {
        const row = (await db.contacts.get(username)) as ContactRecord | undefined;
        if (!row) return undefined;
        const contact: Contact = { username: row.username, publicKey: row.publicKey, verified: row.verified, firstSeenAt: row.firstSeenAt };
        if (row.pendingKey) contact.pendingKey = row.pendingKey;
        if (row.keyChangedAt !== undefined) contact.keyChangedAt = row.keyChangedAt;
        return contact;
      },
      async put(contact) {
        await wrapQuota(() => db.contacts.put(contact as ContactRecord));
      },
    },
    messages: {
      add: (m) =>
        addMessage(
          db,
          {
            id: m.id,
            room: m.room,
            from: m.from,
            ...(m.to !== undefined ? { to: m.to } : {}),
            sentAt: m.sentAt,
            kind: m.kind,
            body: m.body,
            signature: m.signature,
            receivedAt: m.receivedAt,
            ...(m.status !== 'received' ? { status: m.status, deliveredTo: m.deliveredTo } : {}),
          },
          clock,
        ),
      recent: async (room, limit) => (await recentMessages(db, room, limit)).map(toMessage),
      since: async (room, after, limit, visibleTo) => (await messagesSince(db, room, after, limit, { visibleTo })).map(toMessage),
      async markDelivered(id, username) {
        if (!(await markDelivered(db, id, username))) return undefined;
        const row = await db.messages.get(id);
        return row ? toMessage(row) : undefined;
      },
      async deleteRoom(room) {
        await deleteRoom(db, room);
        hooks.afterRoomDeleted?.(room);
      },
    },
    outbox: {
      async add(e) {
        await enqueueOutbox(db, { room: e.room, to: e.to, messageId: e.messageId, payload: e.payload, sentAt: e.createdAt }, clock);
      },
      async pending(room, to) {
        return (await pendingOutbox(db, to, room)).map((r) => ({ seq: r.seq, room: r.room, to: r.to, messageId: r.messageId, payload: r.payload, createdAt: r.createdAt }));
      },
      async remove(seq) {
        await db.outbox.delete(seq);
      },
    },
    rooms: {
      async list() {
        const rows = (await db.rooms.toArray()) as RoomRecord[];
        return rows.map((r): SavedRoom => ({
          key: r.name,
          name: r.displayName ?? r.name,
          locked: r.locked,
          ...(r.joinToken ? { joinToken: r.joinToken } : {}),
          ...(r.peerProofKey ? { peerProofKey: r.peerProofKey } : {}),
          ...(r.direct ? { direct: r.direct } : {}),
        }));
      },
      async save(room) {
        const row = await saveRoom(db, { name: room.key, locked: room.locked, ...(room.direct ? { direct: room.direct } : {}) }, clock);
        // The proof key is a non-extractable CryptoKey: IndexedDB keeps it by structured clone.
        const record: RoomRecord = { ...row, displayName: room.name };
        if (room.joinToken) record.joinToken = room.joinToken;
        if (room.peerProofKey) record.peerProofKey = room.peerProofKey;
        await wrapQuota(() => db.rooms.put(record));
      },
      async remove(key) {
        await db.rooms.delete(key);
      },
    },
  };
}
