import type { ChatMessage, ChatStorage, Contact, OutboxEntry, SavedRoom } from './ports.ts';

/** Storage that lives as long as the process: unit tests and throwaway bots. */
export function createMemoryStorage(): ChatStorage {
  const contacts = new Map<string, Contact>();
  const messages = new Map<string, ChatMessage>();
  const outbox: OutboxEntry[] = [];
  const rooms = new Map<string, SavedRoom>();
  let seq = 0;
  const inRoom = (room: string) =>
    [...messages.values()].filter((m) => m.room === room).sort((a, b) => a.sentAt - b.sentAt || (a.id < b.id ? -1 : 1));
  return {
    contacts: {
      get: async (u) => (contacts.has(u) ? { ...contacts.get(u)! } : undefined),
      put: async (c) => void contacts.set(c.username, { ...c }),
    },
    messages: {
      add: async (m) => {
        if (messages.has(m.id)) return false;
        messages.set(m.id, { ...m });
        return true;
      },
      recent: async (room, limit) => inRoom(room).slice(-limit),
      since: async (room, after, limit, visibleTo) => {
        // Same rules as the IndexedDB store: names compare case-insensitively.
        const who = visibleTo?.toLowerCase();
        return inRoom(room)
          .filter((m) => (typeof after === 'number' ? m.sentAt >= after : m.sentAt > after.sentAt || (m.sentAt === after.sentAt && m.id > after.id)))
          .filter((m) => who === undefined || m.to === undefined || m.to.toLowerCase() === who || m.from.toLowerCase() === who)
          .slice(0, limit);
      },
      markDelivered: async (id, username) => {
        const m = messages.get(id);
        if (!m) return undefined;
        if (!m.deliveredTo.includes(username)) m.deliveredTo.push(username);
        m.status = 'delivered';
        return { ...m };
      },
      deleteRoom: async (room) => {
        for (const [id, m] of messages) if (m.room === room) messages.delete(id);
      },
    },
    outbox: {
      add: async (e) => void outbox.push({ ...e, seq: ++seq }),
      pending: async (room, to) => outbox.filter((e) => e.room === room && e.to === to),
      remove: async (s) => {
        const i = outbox.findIndex((e) => e.seq === s);
        if (i >= 0) outbox.splice(i, 1);
      },
    },
    rooms: {
      list: async () => [...rooms.values()],
      save: async (r) => void rooms.set(r.key, { ...r }),
      remove: async (key) => void rooms.delete(key),
    },
  };
}
