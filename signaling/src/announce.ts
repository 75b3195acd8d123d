import type { Server } from 'socket.io';
import type { Logger } from './log.ts';
import { ServerEvent, type RoomSummary } from './protocol.ts';
import type { RoomDirectory, RoomView } from './rooms.ts';

/** Sockets of authenticated users share this Socket.IO room, for room-list pushes. */
export const LOBBY = 'lobby';
/** The Socket.IO room of a chat room's members (Socket.IO rooms cross processes via the adapter). */
export const roomChannel = (key: string): string => `room:${key}`;

/**
 * Pushes what members need to know: a room's roster to its members, and the room list to
 * everyone logged in. Room-list pushes are coalesced (one per interval at most, none when
 * nothing changed), because each one is sent to every logged-in socket.
 */
export class Announcer {
  readonly #io: Server;
  readonly #rooms: RoomDirectory;
  readonly #log: Logger;
  readonly #listMax: number;
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | null = null;
  #last = '';
  #closed = false;

  constructor(io: Server, rooms: RoomDirectory, log: Logger, opts: { listMax: number; intervalMs: number }) {
    this.#io = io;
    this.#rooms = rooms;
    this.#log = log;
    this.#listMax = opts.listMax;
    this.#intervalMs = opts.intervalMs;
  }

  /** The roster, to every member of the room on any process. */
  members(key: string, room: RoomView): void {
    if (room.members.length === 0) return;
    this.#io.to(roomChannel(key)).emit(ServerEvent.Members, { room: room.name, members: room.members, version: room.version });
  }

  /** Re-reads rooms changed behind the handlers' back (a dead process swept) and pushes them. */
  async refresh(keys: string[]): Promise<void> {
    for (const key of keys) {
      try {
        const room = await this.#rooms.get(key);
        if (room) this.members(key, room);
      } catch (e) {
        this.#log.debug({ err: (e as Error).message }, 'could not refresh a roster');
      }
    }
    this.roomsChanged();
  }

  /** Asks for a room-list push soon. */
  roomsChanged(): void {
    if (this.#timer || this.#closed) return;
    this.#timer = setTimeout(() => void this.#pushList(), this.#intervalMs);
    this.#timer.unref();
  }

  list(): Promise<RoomSummary[]> {
    return this.#rooms.list(this.#listMax);
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  async #pushList(): Promise<void> {
    this.#timer = null;
    try {
      const list = await this.list();
      const text = JSON.stringify(list);
      if (text === this.#last || this.#closed) return;
      this.#last = text;
      this.#io.to(LOBBY).emit(ServerEvent.Rooms, list);
    } catch (e) {
      // Redis away: try again later rather than leave lists stale for good.
      this.#log.debug({ err: (e as Error).message }, 'room list push postponed');
      this.roomsChanged();
    }
  }
}
