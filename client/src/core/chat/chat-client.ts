import {
  loginChallengeText,
  normalizeRoomName,
  normalizeUsername,
  ServerError,
  type IceServer,
  type MembersPush,
  type RoomJoinAck,
  type RoomSummary,
} from '../../../../signaling/src/protocol.ts';
import { toB64u, utf8 } from '../crypto/bytes.ts';
import { deriveRoomSecrets } from '../crypto/kdf.ts';
import { signBytes } from '../crypto/sign.ts';
import type { PeerLinkFactory } from '../net/peer-link.ts';
import type { SignalingLink, SignalingStatus } from '../net/signaling-link.ts';
import { DIRECT_CROSSING_MS, DIRECT_INVITE_WINDOW_MS, DIRECT_INVITES_PER_WINDOW, DIRECT_PASSWORD_BYTES } from '../net/limits.ts';
import { DIRECT_ROOM_PREFIX, DIRECT_ROOM_RANDOM_CHARS } from '../net/wire.ts';
import { Emitter } from '../util/emitter.ts';
import type { Identity } from './identity.ts';
import type { ChatStorage, SavedRoom } from './ports.ts';
import { RoomSession, type DirectInvite } from './room-session.ts';
import type { FileTransfers } from '../files/transfers.ts';

export type ClientStatus = 'offline' | 'connecting' | 'online' | 'incompatible';

export type Result<T> =
  | { ok: true; value: T }
  | { ok: false; error: ServerError | 'invalid-name' | 'not-connected' | 'key-changed'; message: string };

export interface ChatClientEvents {
  status: (status: ClientStatus, detail?: string) => void;
  rooms: (rooms: RoomSummary[]) => void;
  joined: (room: RoomSession) => void;
  left: (key: string) => void;
  /** Something went wrong that the user should hear about. */
  problem: (message: string) => void;
  /** A direct chat was opened: by us (`startedByMe`) or by the other person's invitation. */
  direct: (room: RoomSession, withUser: string, startedByMe: boolean) => void;
}

export interface ChatClientDeps {
  /** Makes the file transfers of one room; absent where files are not supported. */
  files?: (room: string, username: string) => FileTransfers;
  signaling: SignalingLink;
  peers: PeerLinkFactory;
  identity: Identity;
  storage: ChatStorage;
  now?: () => number;
  /**
   * Re-join the rooms saved in storage at the first login, as a reloaded tab does (the
   * default). A bot named on its command line for one room turns it off.
   */
  rejoinSavedRooms?: boolean;
}

interface JoinedRoom {
  session: RoomSession;
  joinToken?: string;
  saved: SavedRoom;
}

/**
 * The whole client minus its views: logs in with the identity key, keeps the room list,
 * and owns one RoomSession per joined room. After the signaling server comes back it logs
 * in again and re-joins every room; open peer channels keep working meanwhile.
 */
export class ChatClient {
  readonly #deps: ChatClientDeps;
  readonly #events = new Emitter<ChatClientEvents>();
  readonly #joined = new Map<string, JoinedRoom>();
  /** Rooms whose join request is in flight, with the newest roster pushed meanwhile. */
  readonly #entering = new Map<string, MembersPush | null>();
  #status: ClientStatus = 'offline';
  #username: string | null = null;
  #rooms: RoomSummary[] = [];
  #iceServers: IceServer[] = [];
  #iceTransportPolicy: RTCIceTransportPolicy = 'all';
  #wasOnline = false;
  /** When each member's recent invitations arrived, for the per-member cap. */
  readonly #inviteTimes = new Map<string, number[]>();
  /** When we started each direct chat, to tell crossing invitations from a fresh start. */
  readonly #directStartedAt = new Map<string, number>();
  readonly #directQueues = new Map<string, Promise<void>>();

  constructor(deps: ChatClientDeps) {
    this.#deps = deps;
    const s = deps.signaling;
    s.on('status', (status, detail) => void this.#onSignalingStatus(status, detail));
    s.on('rooms', (rooms) => {
      this.#rooms = rooms;
      this.#events.emit('rooms', rooms);
    });
    s.on('members', (push) => {
      const name = normalizeRoomName(push.room);
      if (!name.ok) return;
      const joined = this.#joined.get(name.key);
      if (joined) return void joined.session.applyRoster(push);
      // Our join is on its way: this push may be newer than the roster its answer carries.
      if (this.#entering.has(name.key)) {
        const held = this.#entering.get(name.key);
        if (!held || held.version < push.version) this.#entering.set(name.key, push);
      }
    });
    s.on('signal', (push) => {
      const name = normalizeRoomName(push.room);
      if (name.ok) this.#joined.get(name.key)?.session.handleSignal(push);
    });
    s.on('notice', (n) => this.#events.emit('problem', n.message));
  }

  get status(): ClientStatus {
    return this.#status;
  }
  get username(): string | null {
    return this.#username;
  }
  get identity(): Identity {
    return this.#deps.identity;
  }
  get rooms(): RoomSummary[] {
    return this.#rooms;
  }
  get joinedRooms(): RoomSession[] {
    return [...this.#joined.values()].map((j) => j.session);
  }
  room(key: string): RoomSession | undefined {
    return this.#joined.get(key)?.session;
  }

  on<K extends keyof ChatClientEvents>(event: K, handler: ChatClientEvents[K]): () => void {
    return this.#events.on(event, handler);
  }

  start(): void {
    this.#setStatus('connecting');
    this.#deps.signaling.connect();
  }

  async #onSignalingStatus(status: SignalingStatus, detail?: string): Promise<void> {
    if (status === 'incompatible') return this.#setStatus('incompatible', detail);
    if (status !== 'connected') return this.#setStatus(status === 'connecting' || this.#wasOnline ? 'connecting' : 'offline', detail);
    this.#wasOnline = true;
    this.#setStatus('online');
    if (this.#username) {
      // Reconnected (server restart or network blip): authenticate again from scratch,
      // then announce ourselves in every room once more.
      const again = await this.login(this.#username);
      if (!again.ok) return this.#events.emit('problem', again.message);
      for (const j of this.#joined.values()) j.session.noteReconnected();
      for (const [key, j] of this.#joined) {
        const r = await this.#deps.signaling.joinRoom({
          room: j.session.name,
          create: true,
          ...(j.joinToken ? { joinToken: j.joinToken } : {}),
          // The server may have lost the room (restart): re-created, it stays unlisted.
          ...(j.saved.direct ? { unlisted: true as const } : {}),
        });
        if (!r.ok) this.#events.emit('problem', `could not re-join ${j.session.name}: ${r.message}`);
        else await this.#joined.get(key)?.session.applyRoster(r);
      }
    }
  }

  #setStatus(status: ClientStatus, detail?: string): void {
    this.#status = status;
    this.#events.emit('status', status, detail);
  }

  /** Sign-up on first use, log-in afterwards: both are a signed challenge. */
  async login(rawUsername: string): Promise<Result<string>> {
    const name = normalizeUsername(rawUsername);
    if (!name.ok) return { ok: false, error: 'invalid-name', message: describeNameProblem(name.reason, 'name') };
    const publicKey = toB64u(this.#deps.identity.publicKey);
    const challenge = await this.#deps.signaling.authChallenge({ username: name.name, publicKey });
    if (!challenge.ok) return { ok: false, error: challenge.error, message: challenge.message };
    const signature = await signBytes(this.#deps.identity.privateKey, utf8(loginChallengeText(challenge.challenge, name.key, publicKey)));
    const proved = await this.#deps.signaling.authProve({ signature: toB64u(signature) });
    if (!proved.ok) return { ok: false, error: proved.error, message: proved.message };
    const first = this.#username === null;
    this.#username = proved.username;
    this.#iceServers = proved.iceServers;
    this.#iceTransportPolicy = proved.iceTransportPolicy ?? 'all';
    this.#rooms = proved.rooms;
    this.#events.emit('rooms', proved.rooms);
    if (first && this.#deps.rejoinSavedRooms !== false) void this.#rejoinSaved();
    return { ok: true, value: proved.username };
  }

  /** A reloaded tab comes back into the rooms it was in, password rooms included. */
  async #rejoinSaved(): Promise<void> {
    for (const saved of await this.#deps.storage.rooms.list()) {
      if (this.#joined.has(saved.key)) continue;
      const r = await this.#enter(saved.name, saved.key, {
        create: true,
        ...(saved.joinToken && saved.peerProofKey ? { secrets: { joinTokenB64u: saved.joinToken, peerProofKey: saved.peerProofKey } } : {}),
        ...(saved.direct ? { direct: saved.direct } : {}),
      });
      if (!r.ok) this.#events.emit('problem', `could not re-join ${saved.name}: ${r.message}`);
    }
  }

  async joinRoom(rawName: string, opts: { password?: string; create?: boolean } = {}): Promise<Result<RoomSession>> {
    if (!this.#username) return { ok: false, error: ServerError.NotAuthenticated, message: 'log in first' };
    const name = normalizeRoomName(rawName);
    if (!name.ok) return { ok: false, error: 'invalid-name', message: describeNameProblem(name.reason, 'room name') };
    const existing = this.#joined.get(name.key);
    if (existing) return { ok: true, value: existing.session };
    // NOTE: the password never leaves this function; the server gets a token derived
    // from it and keeps only that token's hash.
    const secrets = opts.password ? await deriveRoomSecrets(opts.password, name.key) : undefined;
    return this.#enter(name.name, name.key, { create: opts.create ?? false, ...(secrets ? { secrets } : {}) });
  }

  async #enter(
    displayName: string,
    key: string,
    opts: { create: boolean; secrets?: { joinTokenB64u: string; peerProofKey: CryptoKey }; direct?: string },
  ): Promise<Result<RoomSession>> {
    if (!this.#username) return { ok: false, error: ServerError.NotAuthenticated, message: 'log in first' };
    const secrets = opts.secrets;
    if (!this.#joined.has(key)) this.#entering.set(key, null);
    let r: RoomJoinAck;
    let pushed: MembersPush | null | undefined;
    try {
      r = await this.#deps.signaling.joinRoom({
        room: displayName,
        ...(secrets ? { joinToken: secrets.joinTokenB64u } : {}),
        ...(opts.create ? { create: true } : {}),
        ...(opts.direct ? { unlisted: true as const } : {}),
      });
    } finally {
      pushed = this.#entering.get(key);
      this.#entering.delete(key);
    }
    if (!r.ok) return { ok: false, error: r.error, message: r.message };
    const already = this.#joined.get(key);
    if (already) return { ok: true, value: already.session };
    const session = new RoomSession(
      { key, name: r.room, locked: r.locked, ...(secrets ? { peerProofKey: secrets.peerProofKey } : {}), ...(opts.direct ? { direct: opts.direct } : {}) },
      {
        signaling: this.#deps.signaling,
        peers: this.#deps.peers,
        identity: this.#deps.identity,
        username: this.#username,
        storage: this.#deps.storage,
        iceServers: () => this.#iceServers as RTCIceServer[],
        iceTransportPolicy: () => this.#iceTransportPolicy,
        now: this.#deps.now ?? Date.now,
        ...(this.#deps.files ? { files: this.#deps.files(key, this.#username) } : {}),
        admitInvite: (username) => this.#admitInvite(username),
      },
    );
    session.on('directInvite', (invite) => void this.#oneAtATime(invite.from, () => this.#acceptDirect(invite)));
    const saved: SavedRoom = {
      key,
      name: r.room,
      locked: r.locked,
      ...(secrets ? { joinToken: secrets.joinTokenB64u, peerProofKey: secrets.peerProofKey } : {}),
      ...(opts.direct ? { direct: opts.direct } : {}),
    };
    this.#joined.set(key, { session, saved, ...(secrets ? { joinToken: secrets.joinTokenB64u } : {}) });
    this.#events.emit('joined', session);
    // Both rosters go in; the session keeps whichever is newer.
    const applied = session.applyRoster(r);
    if (pushed) void session.applyRoster(pushed);
    await this.#deps.storage.rooms
      .save(saved)
      .catch((e: unknown) => this.#events.emit('problem', `this room will not be remembered: ${e instanceof Error ? e.message : String(e)}`));
    await applied;
    return { ok: true, value: session };
  }

  /** The direct chat with this person, if this browser has one open. */
  directWith(username: string): RoomSession | undefined {
    const who = username.toLowerCase();
    return this.joinedRooms.find((s) => s.directWith?.toLowerCase() === who);
  }

  /**
   * Opens a two-person chat with a member met in a room. The new room is an ordinary
   * password room with a random name and a random password, unlisted on the server; the
   * invitation carrying both travels only over the verified channel to that member. The
   * server sees a join token and an unknown name, never the password.
   */
  startDirect(fromRoomKey: string, username: string): Promise<Result<RoomSession>> {
    return this.#oneAtATime(username, () => this.#startDirect(fromRoomKey, username));
  }

  async #startDirect(fromRoomKey: string, username: string): Promise<Result<RoomSession>> {
    if (!this.#username) return { ok: false, error: ServerError.NotAuthenticated, message: 'log in first' };
    const existing = this.directWith(username);
    if (existing) return { ok: true, value: existing };
    const from = this.#joined.get(fromRoomKey)?.session;
    const member = from?.member(username);
    if (!from || !member) return { ok: false, error: 'not-connected', message: `${username} is not in that room` };
    if (member.trust === 'changed') return { ok: false, error: 'key-changed', message: `${member.username}'s security key changed; check it first` };
    if (!member.online || member.connection !== 'open') return { ok: false, error: 'not-connected', message: `${member.username} is not connected` };
    const name = randomDirectRoomName();
    const password = toB64u(crypto.getRandomValues(new Uint8Array(DIRECT_PASSWORD_BYTES)));
    const secrets = await deriveRoomSecrets(password, name);
    this.#directStartedAt.set(name, (this.#deps.now ?? Date.now)());
    const entered = await this.#enter(name, name, { create: true, secrets, direct: member.username });
    if (!entered.ok) {
      this.#directStartedAt.delete(name);
      return entered;
    }

    try {
      await from.sendDirectInvite(member.username, { room: name, password });
    } catch (e) {
      // Nobody else knows the password: the room is useless, so it goes at once.
      await this.leaveRoom(name);
      return { ok: false, error: 'not-connected', message: e instanceof Error ? e.message : String(e) };
    }
    this.#events.emit('direct', entered.value, member.username, true);
    return entered;
  }

  /**
   * The session checked where the invite came from; here it is joined like a password room.
   * One direct chat per person: a new invitation replaces the chat we had with them (they
   * deleted theirs and started again), except when both of us started one at the same
   * moment, where both sides keep the room whose name sorts first.
   */
  async #acceptDirect(invite: DirectInvite): Promise<void> {
    const name = normalizeRoomName(invite.room);
    if (!name.ok || this.#joined.has(name.key) || this.#entering.has(name.key)) return;
    const existing = this.directWith(invite.from);
    if (existing) {
      const startedAt = this.#directStartedAt.get(existing.key);
      const crossing = startedAt !== undefined && (this.#deps.now ?? Date.now)() - startedAt < DIRECT_CROSSING_MS && !existing.hasMet(invite.from);
      if (crossing && existing.key < name.key) return; // they switch to ours when our invitation arrives
    }
    const secrets = await deriveRoomSecrets(invite.password, name.key);
    const r = await this.#enter(name.name, name.key, { create: true, secrets, direct: invite.from });
    if (!r.ok) return this.#events.emit('problem', `could not open the direct chat with ${invite.from}: ${r.message}`);
    if (existing) {
      this.#directStartedAt.delete(existing.key);
      await this.leaveRoom(existing.key);
    }
    this.#events.emit('direct', r.value, invite.from, false);
  }

  /**
   * Starting and accepting direct chats with one person run one after another, so each
   * sees the chat the other made (two people pressing "Direct chat" at once).
   */
  #oneAtATime<T>(username: string, task: () => Promise<T>): Promise<T> {
    const who = username.toLowerCase();
    const next = (this.#directQueues.get(who) ?? Promise.resolve()).then(task, task);
    const settled = next.then(
      () => undefined,
      () => undefined,
    );
    this.#directQueues.set(who, settled);
    void settled.then(() => {
      if (this.#directQueues.get(who) === settled) this.#directQueues.delete(who);
    });
    return next;
  }

  /** At most DIRECT_INVITES_PER_WINDOW invitations per member per window, across rooms. */
  #admitInvite(username: string): boolean {
    const now = (this.#deps.now ?? Date.now)();
    const recent = (this.#inviteTimes.get(username) ?? []).filter((t) => now - t < DIRECT_INVITE_WINDOW_MS);
    const admitted = recent.length < DIRECT_INVITES_PER_WINDOW;
    if (admitted) recent.push(now);
    this.#inviteTimes.set(username, recent);
    return admitted;
  }

  async leaveRoom(key: string): Promise<void> {
    const j = this.#joined.get(key);
    if (!j) return;
    this.#joined.delete(key);
    await this.#deps.storage.rooms.remove(key).catch(() => undefined);
    await j.session.leave();
    this.#events.emit('left', key);
  }

  /**
   * Deletes a chat from this browser (messages, files, queued messages) and leaves it;
   * optionally asks the other members to delete their copies too.
   */
  async deleteChat(key: string, askOthers: boolean): Promise<void> {
    const j = this.#joined.get(key);
    if (!j) return;
    if (askOthers) await j.session.askOthersToDelete();
    await j.session.clearHistory();
    await this.leaveRoom(key);
  }

  /** Accepts a member's request: this browser's copy goes, the room stays joined. */
  async clearRoom(key: string): Promise<void> {
    const j = this.#joined.get(key);
    if (!j) return;
    await j.session.clearHistory();
    await this.#deps.storage.rooms.save(j.saved).catch(() => undefined);
  }

  close(): void {
    for (const j of this.#joined.values()) void j.session.leave();
    this.#joined.clear();
    this.#deps.signaling.close();
  }
}

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** "dm-" and 80 random bits in lower-case base32 (32 divides 256, so every letter is equally likely). */
function randomDirectRoomName(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(DIRECT_ROOM_RANDOM_CHARS));
  return DIRECT_ROOM_PREFIX + [...bytes].map((b) => BASE32[b & 31]).join('');
}

function describeNameProblem(reason: 'empty' | 'too-long' | 'invisible-characters', what: string): string {
  switch (reason) {
    case 'empty':
      return `the ${what} is empty`;
    case 'too-long':
      return `the ${what} is too long`;
    case 'invisible-characters':
      return `the ${what} contains invisible or direction-changing characters`;
  }
}
