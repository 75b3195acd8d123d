import type { Member, RoomJoinRequest, RoomSummary, SignalData } from '../../signaling/src/protocol.ts';
import { normalizeRoomName, ServerError } from '../../signaling/src/protocol.ts';
import { nextRosterVersion } from '../../signaling/src/rooms.ts';
import { ChatClient } from '../../client/src/core/chat/chat-client.ts';
import type { RoomSession } from '../../client/src/core/chat/room-session.ts';
import { createMemoryStorage } from '../../client/src/core/chat/memory-storage.ts';
import type { ChatStorage } from '../../client/src/core/chat/ports.ts';
import { generateIdentityKeyPair } from '../../client/src/core/crypto/sign.ts';
import { MemoryLink } from '../../client/src/core/net/memory-link.ts';
import type { PeerLinkFactory } from '../../client/src/core/net/peer-link.ts';
import type { SignalingEvents, SignalingLink } from '../../client/src/core/net/signaling-link.ts';
import { Emitter } from '../../client/src/core/util/emitter.ts';

/**
 * A simulated signaling server and network for core tests: real ChatClients, RoomSessions,
 * handshakes and ciphers, with in-memory links instead of WebRTC. `rewriteMembers` lets a
 * test play a lying server; `links` exposes every link so a test can tap the wire.
 */
export class MemoryHub {
  readonly #sockets = new Map<string, MemorySignaling>();
  readonly #rooms = new Map<string, { name: string; members: Member[]; version: number }>();
  readonly #offers = new Map<string, MemoryLink>();
  readonly links: MemoryLink[] = [];
  /** Every room-join request, by username, as a server would receive it. */
  readonly joinRequests: { username: string; req: RoomJoinRequest }[] = [];
  rewriteMembers: ((members: Member[]) => Member[]) | null = null;
  #seq = 0;

  newSocketId(): string {
    return `sock-${String(++this.#seq).padStart(4, '0')}`;
  }

  attach(s: MemorySignaling): void {
    this.#sockets.set(s.socketId!, s);
  }

  detach(s: MemorySignaling): void {
    this.#sockets.delete(s.socketId!);
    for (const [key, room] of this.#rooms) {
      if (room.members.some((m) => m.socketId === s.socketId)) this.leave(key, s.socketId!);
    }
  }

  join(key: string, name: string, member: Member): { name: string; members: Member[]; version: number } {
    const room = this.#rooms.get(key) ?? { name, members: [], version: 0 };
    room.members = [...room.members.filter((m) => m.username.toLowerCase() !== member.username.toLowerCase()), member];
    room.version = nextRosterVersion(room.version, Date.now());
    this.#rooms.set(key, room);
    this.#push(key);
    return { name: room.name, members: this.#view(room.members), version: room.version };
  }

  leave(key: string, socketId: string): void {
    const room = this.#rooms.get(key);
    if (!room) return;
    room.members = room.members.filter((m) => m.socketId !== socketId);
    room.version = nextRosterVersion(room.version, Date.now());
    this.#push(key);
  }

  /** Re-sends every room's roster (what a server does when someone joins). */
  pushAll(): void {
    for (const key of this.#rooms.keys()) this.#push(key);
  }

  #view(members: Member[]): Member[] {
    return this.rewriteMembers ? this.rewriteMembers(members.map((m) => ({ ...m }))) : members;
  }

  #push(key: string): void {
    const room = this.#rooms.get(key)!;
    for (const m of room.members) this.#sockets.get(m.socketId)?.deliver('members', { room: room.name, members: this.#view(room.members), version: room.version });
  }

  relay(from: MemorySignaling, room: string, to: string, data: SignalData): boolean {
    const target = this.#sockets.get(to);
    if (!target) return false;
    target.deliver('signal', { room, from: from.socketId!, fromUser: from.username!, data });
    return true;
  }

  /** Links pair up through their offer: the answering side finds the offering link by id. */
  createLink(initiator: boolean): MemoryLink {
    const link = new MemoryLink(initiator, fingerprintFor(this.links.length));
    this.links.push(link);
    if (initiator) {
      const id = `link-${this.links.length}`;
      this.#offers.set(id, link);
      link.announce({ type: 'offer', sdp: `${id}\r\na=fingerprint:${link.localFingerprint}\r\n` });
      link.onSignal = (data) => {
        if (data.type === 'answer') link.connect();
      };
    } else {
      link.onSignal = (data) => {
        if (data.type !== 'offer') return;
        const offering = this.#offers.get(data.sdp.split('\r\n')[0]!);
        if (!offering) return;
        offering.other = link;
        link.other = offering;
        offering.remoteFingerprint = link.localFingerprint;
        link.remoteFingerprint = offering.localFingerprint;
        link.announce({ type: 'answer', sdp: `answer\r\na=fingerprint:${link.localFingerprint}\r\n` });
      };
    }
    return link;
  }

  factory(): PeerLinkFactory {
    return { create: ({ initiator }) => this.createLink(initiator) };
  }
}

function fingerprintFor(n: number): string {
  const hex = (n + 1).toString(16).padStart(64, '0').toUpperCase();
  return `sha-256 ${hex.match(/../g)!.join(':')}`;
}

/** The client side of the simulated server: accepts any login, like an honest server would. */
export class MemorySignaling implements SignalingLink {
  socketId: string | null = null;
  username: string | null = null;
  readonly #hub: MemoryHub;
  readonly #events = new Emitter<SignalingEvents>();
  #publicKey = '';

  constructor(hub: MemoryHub) {
    this.#hub = hub;
  }

  deliver<K extends 'members' | 'signal' | 'rooms'>(event: K, payload: Parameters<SignalingEvents[K]>[0]): void {
    setTimeout(() => (this.#events.emit as (e: K, p: unknown) => void)(event, payload), 0);
  }

  connect(): void {
    this.socketId = this.#hub.newSocketId();
    this.#hub.attach(this);
    setTimeout(() => this.#events.emit('status', 'connected'), 0);
  }

  /** Drops the connection, as a server restart or network loss would. */
  disconnect(): void {
    this.#hub.detach(this);
    this.#events.emit('status', 'disconnected');
  }

  async authChallenge(req: { username: string; publicKey: string }) {
    this.#publicKey = req.publicKey;
    this.username = req.username;
    return { ok: true as const, challenge: 'memory-challenge', registered: false };
  }
  async authProve() {
    return { ok: true as const, username: this.username!, iceServers: [], rooms: [] as RoomSummary[] };
  }
  async joinRoom(req: RoomJoinRequest) {
    this.#hub.joinRequests.push({ username: this.username!, req: { ...req } });
    const name = normalizeRoomName(req.room);
    if (!name.ok || !this.socketId) return { ok: false as const, error: ServerError.Malformed, message: 'bad room' };
    const r = this.#hub.join(name.key, name.name, { socketId: this.socketId, username: this.username!, publicKey: this.#publicKey });
    return { ok: true as const, room: r.name, locked: false, members: r.members, version: r.version };
  }
  async leaveRoom(req: { room: string }) {
    const name = normalizeRoomName(req.room);
    if (name.ok && this.socketId) this.#hub.leave(name.key, this.socketId);
    return { ok: true as const };
  }
  async signal(req: { room: string; to: string; data: SignalData }) {
    return this.#hub.relay(this, req.room, req.to, req.data) ? { ok: true as const } : { ok: false as const, error: ServerError.UnknownPeer, message: 'gone' };
  }
  on<K extends keyof SignalingEvents>(event: K, handler: SignalingEvents[K]): () => void {
    return this.#events.on(event, handler);
  }
  close(): void {
    this.disconnect();
  }
}

export interface MeshUser {
  name: string;
  client: ChatClient;
  signaling: MemorySignaling;
  storage: ChatStorage;
}

export async function meshUser(hub: MemoryHub, name: string, storage: ChatStorage = createMemoryStorage()): Promise<MeshUser> {
  const signaling = new MemorySignaling(hub);
  const identity = await generateIdentityKeyPair();
  const client = new ChatClient({ signaling, peers: hub.factory(), identity, storage });
  client.start();
  await new Promise((r) => setTimeout(r, 0));
  const r = await client.login(name);
  if (!r.ok) throw new Error(r.message);
  return { name, client, signaling, storage };
}

/** Polls until `check` holds (event-driven code settles over several ticks). */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Each user joins `room` in turn; resolves once every member has an open channel to every other. */
export async function joinAll(users: MeshUser[], room: string): Promise<RoomSession[]> {
  const sessions: RoomSession[] = [];
  for (const u of users) {
    const r = await u.client.joinRoom(room, { create: true });
    if (!r.ok) throw new Error(r.message);
    sessions.push(r.value);
  }
  await until(() => sessions.every((s) => s.members.filter((m) => m.online && m.connection === 'open').length === users.length - 1));
  return sessions;
}
