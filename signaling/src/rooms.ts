import { timingSafeEqual } from 'node:crypto';
import type { Member, RoomSummary } from './protocol.ts';
import { ROOM_MEMBERS_MAX } from './protocol.ts';

/** A room as handlers and pushes see it: a snapshot, never a live reference. */
export interface RoomView {
  /** Display name as the creator typed it (normalised). */
  name: string;
  locked: boolean;
  /** Kept out of every room list (direct chats): only those told the name can find it. */
  unlisted?: true;
  members: Member[];
  /** Grows with every change of members, across restarts too (see nextRosterVersion). */
  version: number;
}

/**
 * The version after a change: at least the wall clock in ms, so a room re-created after a
 * restart (memory lost, Redis flushed) still outranks every roster a member saw before.
 */
export function nextRosterVersion(previous: number, nowMs: number): number {
  return Math.max(previous + 1, nowMs);
}

export type JoinRefusal = 'room-full' | 'bad-password' | 'room-is-open' | 'no-such-room';

export type JoinOutcome =
  | { ok: true; room: RoomView; created: boolean; /** other sockets of the same user that lost their seat */ displaced: string[] }
  | { ok: false; reason: JoinRefusal };

export interface JoinRequest {
  /** Normalised key (case-folded) and display name of the room. */
  key: string;
  name: string;
  member: Member;
  /** Identity key of the member's user: one seat per user per room. */
  userKey: string;
  /** SHA-256 of the client's join token (base64url); absent for open rooms. */
  verifier?: string;
  /**
   * Creating is explicit, so a mistyped name never makes a new open room when the user
   * meant to enter a password room.
   */
  create: boolean;
  /** Only when creating: keep the room out of room lists. Ignored for a room that exists. */
  unlisted?: true;
}

/**
 * Who is in which room. The server talks to it only through this interface, so the
 * embedded in-memory directory and the Redis one shared by several processes are
 * interchangeable. Every method may reject (Redis away); callers answer 'unavailable'.
 */
export interface RoomDirectory {
  join(req: JoinRequest): Promise<JoinOutcome>;
  /** The room after the socket left (members possibly empty), or null if it was not a member. */
  leave(key: string, socketId: string): Promise<RoomView | null>;
  get(key: string): Promise<RoomView | null>;
  /** The room's display name when every socket given is a member, else null. */
  shared(key: string, socketIds: string[]): Promise<string | null>;
  /** The busiest listed rooms first, at most `max`; unlisted rooms never appear. */
  list(max: number): Promise<RoomSummary[]>;
  count(): Promise<number>;
  close(): Promise<void>;
}

/** Orders room lists: busiest first, then by name, so every process lists alike. */
export function compareRooms(a: RoomSummary, b: RoomSummary): number {
  return b.members - a.members || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

interface Room {
  name: string;
  verifier?: string;
  unlisted?: true;
  /** socket id -> member, plus the user key for the one-seat rule. */
  members: Map<string, { member: Member; userKey: string }>;
  version: number;
}

function equalDigests(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Embedded directory: rooms in this process's memory. A room exists while it has
 * members; its password verifier goes with it (the password never reaches the server).
 */
export class MemoryRoomDirectory implements RoomDirectory {
  readonly #rooms = new Map<string, Room>();
  readonly #maxMembers: number;

  constructor(maxMembers = ROOM_MEMBERS_MAX) {
    this.#maxMembers = maxMembers;
  }

  async join(req: JoinRequest): Promise<JoinOutcome> {
    let room = this.#rooms.get(req.key);
    let created = false;
    if (!room) {
      if (!req.create) return { ok: false, reason: 'no-such-room' };
      room = {
        name: req.name,
        members: new Map(),
        version: 0,
        ...(req.verifier ? { verifier: req.verifier } : {}),
        ...(req.unlisted ? { unlisted: true as const } : {}),
      };
      created = true;
    } else if (room.verifier) {
      // NOTE: constant-time, so response timing does not leak the verifier byte by byte.
      if (!req.verifier || !equalDigests(room.verifier, req.verifier)) return { ok: false, reason: 'bad-password' };
    } else if (req.verifier) {
      return { ok: false, reason: 'room-is-open' };
    }
    const displaced: string[] = [];
    if (!room.members.has(req.member.socketId)) {
      // One seat per user: a reloaded tab replaces its old socket instead of appearing twice.
      for (const [sid, m] of room.members) if (m.userKey === req.userKey) displaced.push(sid);
      if (room.members.size - displaced.length >= this.#maxMembers) return { ok: false, reason: 'room-full' };
      for (const sid of displaced) room.members.delete(sid);
    }
    room.members.set(req.member.socketId, { member: req.member, userKey: req.userKey });
    room.version = nextRosterVersion(room.version, Date.now());
    if (created) this.#rooms.set(req.key, room);
    return { ok: true, room: view(room), created, displaced };
  }

  async leave(key: string, socketId: string): Promise<RoomView | null> {
    const room = this.#rooms.get(key);
    if (!room || !room.members.delete(socketId)) return null;
    room.version = nextRosterVersion(room.version, Date.now());
    if (room.members.size === 0) this.#rooms.delete(key);
    return view(room);
  }

  async get(key: string): Promise<RoomView | null> {
    const room = this.#rooms.get(key);
    return room ? view(room) : null;
  }

  async shared(key: string, socketIds: string[]): Promise<string | null> {
    const room = this.#rooms.get(key);
    if (!room || !socketIds.every((s) => room.members.has(s))) return null;
    return room.name;
  }

  async list(max: number): Promise<RoomSummary[]> {
    return [...this.#rooms.values()]
      .filter((r) => !r.unlisted)
      .map((r) => ({ name: r.name, members: r.members.size, locked: r.verifier !== undefined }))
      .sort(compareRooms)
      .slice(0, max);
  }

  async count(): Promise<number> {
    return this.#rooms.size;
  }

  async close(): Promise<void> {
    this.#rooms.clear();
  }
}

function view(room: Room): RoomView {
  return {
    name: room.name,
    locked: room.verifier !== undefined,
    ...(room.unlisted ? { unlisted: true as const } : {}),
    members: [...room.members.values()].map((m) => m.member),
    version: room.version,
  };
}
