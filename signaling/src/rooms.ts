import type { Member, RoomSummary } from './protocol.ts';
import { ROOM_MEMBERS_MAX } from './protocol.ts';

export interface Room {
  /** Display name as the creator typed it (normalised). */
  name: string;
  /** SHA-256 of the room's join token, base64url; absent for open rooms. */
  verifier?: string;
  members: Map<string, Member>;
}

export type JoinOutcome =
  | { ok: true; room: Room; created: boolean }
  | { ok: false; reason: 'room-full' | 'bad-password' | 'room-is-open' | 'no-such-room' };

/**
 * In-memory directory of rooms and who is in them. A room exists while it has members;
 * its password verifier goes with it (the password itself never reaches the server).
 */
export class RoomDirectory {
  readonly #rooms = new Map<string, Room>();
  readonly #maxMembers: number;

  constructor(maxMembers = ROOM_MEMBERS_MAX) {
    this.#maxMembers = maxMembers;
  }

  get size(): number {
    return this.#rooms.size;
  }

  get(key: string): Room | undefined {
    return this.#rooms.get(key);
  }

  /**
   * `verifier` is what the joining client's token hashes to; `equal` compares in
   * constant time. Creating needs `create`, so a mistyped name never makes a new open room
   * when the user meant to enter a password room.
   */
  join(
    key: string,
    name: string,
    member: Member,
    opts: { verifier?: string; create: boolean; equal: (a: string, b: string) => boolean },
  ): JoinOutcome {
    let room = this.#rooms.get(key);
    let created = false;
    if (!room) {
      if (!opts.create) return { ok: false, reason: 'no-such-room' };
      room = { name, members: new Map(), ...(opts.verifier ? { verifier: opts.verifier } : {}) };
      this.#rooms.set(key, room);
      created = true;
    } else if (room.verifier) {
      if (!opts.verifier || !opts.equal(room.verifier, opts.verifier)) return { ok: false, reason: 'bad-password' };
    } else if (opts.verifier) {
      return { ok: false, reason: 'room-is-open' };
    }
    if (!room.members.has(member.socketId)) {
      if (room.members.size >= this.#maxMembers) return { ok: false, reason: 'room-full' };
      // One seat per user: a reloaded tab replaces its old socket instead of appearing twice.
      for (const [sid, m] of room.members) if (m.username.toLowerCase() === member.username.toLowerCase()) room.members.delete(sid);
    }
    room.members.set(member.socketId, member);
    return { ok: true, room, created };
  }

  /** Returns the room if the socket was in it; drops the room when it empties. */
  leave(key: string, socketId: string): Room | undefined {
    const room = this.#rooms.get(key);
    if (!room || !room.members.delete(socketId)) return undefined;
    if (room.members.size === 0) this.#rooms.delete(key);
    return room;
  }

  isMember(key: string, socketId: string): boolean {
    return this.#rooms.get(key)?.members.has(socketId) ?? false;
  }

  list(): RoomSummary[] {
    return [...this.#rooms.values()]
      .map((r) => ({ name: r.name, members: r.members.size, locked: r.verifier !== undefined }))
      .sort((a, b) => b.members - a.members || a.name.localeCompare(b.name));
  }
}
