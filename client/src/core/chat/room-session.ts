import type { Member, SignalPush } from '../../../../signaling/src/protocol.ts';
import { fromB64u, toB64u } from '../crypto/bytes.ts';
import { computeSafetyNumber } from '../crypto/safety-number.ts';
import { signEnvelope, verifyEnvelope } from '../crypto/signed.ts';
import { ChatError, ErrorCode } from '../errors.ts';
import type { PeerLinkFactory } from '../net/peer-link.ts';
import type { SignalingLink } from '../net/signaling-link.ts';
import { MAX_MESSAGE_CHARS, PEER_RETRY_MS } from '../net/limits.ts';
import type { AppMessage, EnvelopeWire } from '../net/wire.ts';
import { Emitter } from '../util/emitter.ts';
import type { Identity } from './identity.ts';
import { PeerSession, type PeerState } from './peer-session.ts';
import type { ChatMessage, ChatStorage, Contact, HistoryCursor, TrustState } from './ports.ts';
import { newId } from './ids.ts';
import type { FileTransfers } from '../files/transfers.ts';
import { fileMessageBody, signedManifestOf, verifyFileMessageBody } from '../files/manifest.ts';

/** How long a typing indicator lasts without a refresh. */
const TYPING_TTL_MS = 5_000;
/** After a signaling reconnect, members get this long to re-announce before counting as gone. */
const RECONNECT_GRACE_MS = 15_000;
/** Signals kept per sender while its roster entry is on its way (an offer plus candidates). */
const MAX_EARLY_SIGNALS = 64;
/** Messages live 7 days; history older than that is neither asked for nor sent. */
const HISTORY_TTL_MS = 7 * 24 * 60 * 60 * 1000;
/** A history page stays well under the frame limit (MAX_APP_FRAME_BYTES). */
const HISTORY_PAGE_ITEMS = 100;
const HISTORY_PAGE_BYTES = 160 * 1024;
/** Bound on one answer, so a request cannot keep a member busy forever. */
const HISTORY_MAX_PAGES = 200;
/** How many recently shown message ids are remembered to avoid showing one twice. */
const RECENT_IDS_MAX = 5_000;
/** How often a member's round-trip time and path are refreshed while the channel is open. */
const LINK_STATS_INTERVAL_MS = 5_000;

export interface MemberView {
  username: string;
  publicKey: string;
  online: boolean;
  trust: TrustState;
  /** The key the server now announces, when it differs from the pinned one. */
  announcedKey?: string;
  connection: PeerState | 'blocked' | 'none';
  error?: ChatError;
  typing: boolean;
  /** Round-trip time of the channel, when measured. */
  rttMs?: number;
  /** Whether the channel goes through a TURN relay rather than directly. */
  relayed?: boolean;
}

export type NoticeKind =
  | 'joined'
  | 'left'
  | 'back'
  | 'key-changed'
  | 'verify-failed'
  | 'rejected-frame'
  | 'refused-message'
  | 'refused-invite'
  | 'deleted';

/** An invitation to a direct chat, as received over one member's verified channel. */
export interface DirectInvite {
  /** The member whose channel carried it, as the roster names them: the channel proves it. */
  from: string;
  room: string;
  password: string;
}

export interface Notice {
  id: string;
  at: number;
  kind: NoticeKind;
  user: string;
  detail?: string;
  code?: string;
}

export type TimelineItem = { type: 'message'; message: ChatMessage } | { type: 'notice'; notice: Notice };

export interface RoomSessionEvents {
  /** Anything a view shows changed: members, connection states, delivery states. */
  changed: () => void;
  message: (m: ChatMessage, incoming: boolean) => void;
  notice: (n: Notice) => void;
  /** A member deleted this chat and asks everyone to delete their copy too. */
  deleteRequest: (username: string) => void;
  /** This room's history was removed from this browser. */
  cleared: () => void;
  /**
   * A message shown as new turned out to be stored already (it came back after a reload,
   * or twice at once): views that count unread messages take it back.
   */
  duplicate: (id: string) => void;
  /** A member invited us to a direct chat; it passed every check of this session. */
  directInvite: (invite: DirectInvite) => void;
}

export interface RoomSessionDeps {
  signaling: SignalingLink;
  peers: PeerLinkFactory;
  identity: Identity;
  /** Our username as the server registered it. */
  username: string;
  storage: ChatStorage;
  iceServers: () => RTCIceServer[];
  /** 'relay' when the server asks for TURN-only connections. */
  iceTransportPolicy?: () => RTCIceTransportPolicy;
  now: () => number;
  /** File transfers of this room; absent where files are not supported. */
  files?: FileTransfers;
  /**
   * Whether one more direct-chat invite from this member may be accepted now. Shared by
   * every room, so a member cannot multiply their allowance by sharing several rooms.
   */
  admitInvite?: (username: string) => boolean;
}

interface PeerSlot {
  socketId: string;
  session: PeerSession | null;
  retry?: ReturnType<typeof setTimeout>;
  /** Messages already handed to the current session, by message id. */
  flushed: Set<string>;
}

/**
 * A room this client is in: the roster, one verified channel per member (full mesh), group
 * and private messages with delivery receipts and an outbox, and join/leave notices.
 */
export class RoomSession {
  readonly key: string;
  readonly name: string;
  readonly locked: boolean;
  /** A direct (two-person) chat: the other person's username. */
  readonly directWith: string | undefined;
  readonly #deps: RoomSessionDeps;
  readonly #peerProofKey: CryptoKey | undefined;
  readonly #events = new Emitter<RoomSessionEvents>();
  readonly #members = new Map<string, MemberView>();
  readonly #slots = new Map<string, PeerSlot>();
  /** Everyone ever seen here: offline ones still get their messages later, from the outbox. */
  readonly #known = new Map<string, string>();
  readonly #typingTimers = new Map<string, ReturnType<typeof setTimeout>>();
  #rosterSeen = false;
  #lastRoster: Member[] = [];
  #rosterVersion = 0;
  #lastSentAt = 0;
  /** Outbox writes still in flight, by recipient and message id. */
  readonly #outboxWrites = new Map<string, Promise<unknown>>();
  /** Ids recently shown, so a message is shown before it is stored, exactly once. */
  readonly #recentIds = new Set<string>();
  #rosterQueue: Promise<void> = Promise.resolve();
  readonly #earlySignals = new Map<string, SignalPush[]>();
  #reconnectedAt: number | null = null;
  #graceTimer: ReturnType<typeof setTimeout> | undefined;
  #left = false;
  readonly #me: string;

  constructor(room: { key: string; name: string; locked: boolean; peerProofKey?: CryptoKey; direct?: string }, deps: RoomSessionDeps) {
    this.key = room.key;
    this.name = room.name;
    this.locked = room.locked;
    this.directWith = room.direct;
    this.#peerProofKey = room.peerProofKey;
    this.#deps = deps;
    this.#me = deps.username.toLowerCase();
  }

  on<K extends keyof RoomSessionEvents>(event: K, handler: RoomSessionEvents[K]): () => void {
    return this.#events.on(event, handler);
  }

  get members(): MemberView[] {
    return [...this.#members.values()].sort((a, b) => Number(b.online) - Number(a.online) || a.username.localeCompare(b.username));
  }

  member(username: string): MemberView | undefined {
    return this.#members.get(username.toLowerCase());
  }

  session(username: string): PeerSession | null {
    return this.#slots.get(username.toLowerCase())?.session ?? null;
  }

  history(limit = 200): Promise<ChatMessage[]> {
    return this.#deps.storage.messages.recent(this.key, limit);
  }

  // ---- roster --------------------------------------------------------------------

  /**
   * Rosters are applied one at a time. One older than a roster already taken is dropped:
   * the server's pushes can overtake each other when several members join at once.
   */
  applyRoster(roster: { members: Member[]; version: number }): Promise<void> {
    if (roster.version < this.#rosterVersion) return this.#rosterQueue;
    this.#rosterVersion = roster.version;
    return this.#queueRoster(roster.members);
  }

  #queueRoster(members: Member[]): Promise<void> {
    const next = this.#rosterQueue.then(() => this.#applyRoster(members));
    this.#rosterQueue = next.catch(() => undefined);
    return next;
  }

  async #applyRoster(members: Member[]): Promise<void> {
    if (this.#left) return;
    this.#lastRoster = members;
    const mySocket = this.#deps.signaling.socketId;
    const present = new Map<string, Member>();
    for (const m of members) if (m.username.toLowerCase() !== this.#me) present.set(m.username.toLowerCase(), m);

    for (const [key, m] of present) {
      const view = this.#members.get(key);
      const trust = await this.#checkTrust(m);
      if (!view || !view.online) {
        if (this.#rosterSeen) this.#notice(this.#known.has(key) ? 'back' : 'joined', m.username);
      }
      this.#known.set(key, m.username);
      const next: MemberView = {
        username: m.username,
        publicKey: trust.contact.publicKey,
        online: true,
        trust: trust.state,
        ...(trust.state === 'changed' ? { announcedKey: m.publicKey } : {}),
        connection: view?.connection ?? 'none',
        typing: view?.typing ?? false,
      };
      this.#members.set(key, next);
      if (trust.state === 'changed') {
        if (view?.trust !== 'changed') this.#notice('key-changed', m.username);
        this.#dropPeer(key);
        next.connection = 'blocked';
        continue;
      }
      this.#ensurePeer(key, m, mySocket);
    }
    for (const [key, view] of this.#members) {
      if (present.has(key) || !view.online) continue;
      // Right after our own reconnect (the server restarted), the roster lacks whoever has
      // not re-announced yet; an open channel proves they are still here, so wait.
      if (this.#inReconnectGrace() && this.#slots.get(key)?.session?.isOpen) {
        this.#recheckAfterGrace();
        continue;
      }
      this.#markGone(key);
    }
    this.#rosterSeen = true;
    this.#events.emit('changed');
    for (const key of present.keys()) {
      const waiting = this.#earlySignals.get(key);
      this.#earlySignals.delete(key);
      for (const push of waiting ?? []) this.handleSignal(push);
    }
  }

  /** Called when our signaling connection came back after a loss. */
  noteReconnected(): void {
    this.#reconnectedAt = this.#deps.now();
  }

  #inReconnectGrace(): boolean {
    return this.#reconnectedAt !== null && this.#deps.now() - this.#reconnectedAt < RECONNECT_GRACE_MS;
  }

  #recheckAfterGrace(): void {
    if (this.#graceTimer) return;
    this.#graceTimer = setTimeout(() => {
      this.#graceTimer = undefined;
      this.#reconnectedAt = null;
      void this.#queueRoster(this.#lastRoster);
    }, RECONNECT_GRACE_MS);
  }

  #isInRoster(key: string): boolean {
    return this.#lastRoster.some((m) => m.username.toLowerCase() === key);
  }

  #markGone(key: string): void {
    const view = this.#members.get(key);
    if (!view?.online) return;
    view.online = false;
    view.typing = false;
    if (view.connection !== 'blocked') view.connection = 'none';
    this.#notice('left', view.username);
    this.#dropPeer(key);
  }

  async #checkTrust(m: Member): Promise<{ state: TrustState; contact: Contact }> {
    const key = m.username.toLowerCase();
    const contacts = this.#deps.storage.contacts;
    const existing = await contacts.get(key);
    if (!existing) {
      // Trust on first use: pin the first key we see for this name.
      const contact: Contact = { username: key, publicKey: m.publicKey, verified: false, firstSeenAt: this.#deps.now() };
      await contacts.put(contact);
      return { state: 'new', contact };
    }
    if (existing.publicKey === m.publicKey) {
      if (existing.pendingKey) {
        const { pendingKey: _, keyChangedAt: __, ...rest } = existing;
        await contacts.put(rest);
        return { state: rest.verified ? 'verified' : 'new', contact: rest };
      }
      return { state: existing.verified ? 'verified' : 'new', contact: existing };
    }
    // NOTE: a different key for a known name is what a lying server would announce to
    // impersonate someone; nothing is sent to it until the user accepts the change.
    if (existing.pendingKey !== m.publicKey) {
      existing.pendingKey = m.publicKey;
      existing.keyChangedAt = this.#deps.now();
      await contacts.put(existing);
    }
    return { state: 'changed', contact: existing };
  }

  /** The user accepts a changed key (after checking with the person): pin it, unverified. */
  async acceptKey(username: string): Promise<void> {
    const key = username.toLowerCase();
    const contact = await this.#deps.storage.contacts.get(key);
    if (!contact?.pendingKey) return;
    await this.#deps.storage.contacts.put({ username: key, publicKey: contact.pendingKey, verified: false, firstSeenAt: this.#deps.now() });
    const view = this.#members.get(key);
    if (view) {
      view.trust = 'new';
      view.publicKey = contact.pendingKey;
      delete view.announcedKey;
      view.connection = 'none';
    }
    this.#events.emit('changed');
    await this.#queueRoster(this.#lastRoster);
  }

  async setVerified(username: string, verified: boolean): Promise<void> {
    const key = username.toLowerCase();
    const contact = await this.#deps.storage.contacts.get(key);
    if (!contact || contact.pendingKey) return;
    await this.#deps.storage.contacts.put({ ...contact, verified });
    const view = this.#members.get(key);
    if (view) view.trust = verified ? 'verified' : 'new';
    this.#events.emit('changed');
  }

  // ---- peers ---------------------------------------------------------------------

  #ensurePeer(key: string, m: Member, mySocket: string | null): void {
    let slot = this.#slots.get(key);
    if (slot && slot.socketId !== m.socketId) {
      // Same person, new socket (their tab reloaded, or the server restarted). A live
      // channel survives a server restart untouched; a dead one is replaced.
      slot.socketId = m.socketId;
      if (slot.session && (slot.session.state === 'open' || slot.session.state === 'securing')) return;
      this.#closeSlotSession(slot);
    }
    if (!slot) {
      slot = { socketId: m.socketId, session: null, flushed: new Set() };
      this.#slots.set(key, slot);
    }
    if (slot.session) return;
    // Exactly one side offers: the one whose socket id sorts first. The other waits.
    if (mySocket && mySocket < m.socketId) this.#openSession(key, slot, true);
  }

  #openSession(key: string, slot: PeerSlot, initiator: boolean): PeerSession | null {
    const view = this.#members.get(key);
    if (!view || view.trust === 'changed') return null;
    const policy = this.#deps.iceTransportPolicy?.();
    const link = this.#deps.peers.create({ initiator, iceServers: this.#deps.iceServers(), ...(policy ? { iceTransportPolicy: policy } : {}) });
    const session = new PeerSession({
      link,
      room: this.key,
      me: { username: this.#deps.username, identity: this.#deps.identity },
      peer: { username: view.username, publicKey: fromB64u(view.publicKey) },
      ...(this.#peerProofKey ? { peerProofKey: this.#peerProofKey } : {}),
    });
    slot.session = session;
    slot.flushed = new Set();
    link.on('signal', (data) => {
      void this.#deps.signaling.signal({ room: this.name, to: slot.socketId, data });
    });
    session.on('state', (state, error) => {
      if (slot.session !== session) return;
      const v = this.#members.get(key);
      if (v) {
        v.connection = state;
        if (error) v.error = error;
        else if (state === 'open') delete v.error;
      }
      if (state === 'open') {
        void this.#flushOutbox(key);
        void this.#requestHistory(session);
        this.#watchLink(key, session);
      }
      if (state === 'failed' && error) this.#notice('verify-failed', view.username, error.message, error.code);
      if ((state === 'failed' || state === 'closed') && !this.#isInRoster(key)) this.#markGone(key);
      else if (state === 'failed' || state === 'closed') this.#scheduleRetry(key, slot, state === 'failed');
      this.#events.emit('changed');
    });
    session.on('message', (msg) => void this.#onAppMessage(key, session, msg));
    this.#deps.files?.attach(session);
    session.on('rejected', (error) => this.#notice('rejected-frame', view.username, error.message, error.code));
    return session;
  }

  #scheduleRetry(key: string, slot: PeerSlot, failed: boolean): void {
    if (slot.retry || this.#left) return;
    // A failed verification is not retried automatically more often than this: the user
    // was told, and a persistent attacker should not get a stream of attempts.
    const delay = failed ? PEER_RETRY_MS * 5 : PEER_RETRY_MS;
    slot.retry = setTimeout(() => {
      slot.retry = undefined;
      if (this.#left || this.#slots.get(key) !== slot) return;
      const view = this.#members.get(key);
      if (!view?.online || view.trust === 'changed') return;
      if (slot.session && slot.session.state !== 'failed' && slot.session.state !== 'closed') return;
      slot.session = null;
      const mySocket = this.#deps.signaling.socketId;
      if (mySocket && mySocket < slot.socketId) this.#openSession(key, slot, true);
    }, delay);
  }

  handleSignal(push: SignalPush): void {
    const key = push.fromUser.toLowerCase();
    if (key === this.#me) return;
    const view = this.#members.get(key);
    if (!view || !view.online || view.trust === 'changed') {
      // The offer can overtake the roster that announces its sender, or come from someone
      // whose changed key the user has not accepted yet: keep it until then (bounded).
      const queue = this.#earlySignals.get(key) ?? [];
      if (queue.length < MAX_EARLY_SIGNALS) queue.push(push);
      this.#earlySignals.set(key, queue);
      return;
    }
    let slot = this.#slots.get(key);
    if (!slot) {
      slot = { socketId: push.from, session: null, flushed: new Set() };
      this.#slots.set(key, slot);
    }
    if (push.data.type === 'offer') {
      const current = slot.session;
      const pending = current !== null && current.state === 'connecting' && slot.socketId === push.from;
      const mySocket = this.#deps.signaling.socketId;
      if (pending && current.link.initiator && mySocket !== null && mySocket < push.from) return; // both offered: ours wins
      // Any other offer means the peer started over (it lost its side of the channel, gave up
      // connecting, or its tab reloaded), even while our answer to its previous offer is still
      // connecting. NOTE: the old channel is closed, never renegotiated: the new one must
      // complete its own signed handshake, so a changed certificate gains nothing.
      this.#closeSlotSession(slot);
      slot.socketId = push.from;
      this.#openSession(key, slot, false);
    }
    if (slot.socketId !== push.from) return;
    slot.session?.acceptSignal(push.data);
  }

  #closeSlotSession(slot: PeerSlot): void {
    if (slot.retry) clearTimeout(slot.retry);
    slot.retry = undefined;
    const s = slot.session;
    slot.session = null;
    s?.close();
  }

  #dropPeer(key: string): void {
    const slot = this.#slots.get(key);
    if (!slot) return;
    this.#closeSlotSession(slot);
    this.#slots.delete(key);
  }

  // ---- messages ------------------------------------------------------------------

  /** Sends to everyone, or privately to one member (only over that member's channel). */
  async sendText(text: string, to?: string): Promise<ChatMessage> {
    const body = text.trim();
    if (!body) throw new ChatError(ErrorCode.Malformed, 'empty message');
    if ([...body].length > MAX_MESSAGE_CHARS) throw new ChatError(ErrorCode.Malformed, `messages are limited to ${MAX_MESSAGE_CHARS} characters`);
    return this.#sendEnvelope('text', body, this.#recipientsFor(to), to);
  }

  /**
   * Sends a file (signed, encrypted, streamed) to everyone or privately, and announces it
   * in the timeline with a signed 'file' message carrying the signed manifest.
   */
  async sendFile(file: Blob & { name?: string; type?: string }, to?: string): Promise<ChatMessage> {
    const files = this.#deps.files;
    if (!files) throw new ChatError(ErrorCode.Malformed, 'files cannot be sent from here');
    const recipients = this.#recipientsFor(to);
    const row = await files.send(file, to, { recipients });
    return this.#sendEnvelope('file', fileMessageBody(signedManifestOf(row)), recipients, to, row.id);
  }

  get files(): FileTransfers | undefined {
    return this.#deps.files;
  }

  #recipientsFor(to?: string): string[] {
    if (to && this.#members.get(to.toLowerCase())?.trust === 'changed') {
      throw new ChatError(ErrorCode.KeyChanged, `${to}'s key changed; accept or verify it before sending`);
    }
    const all = to ? [to.toLowerCase()] : [...this.#known.keys()];
    return all.filter((r) => this.#members.get(r)?.trust !== 'changed');
  }

  async #sendEnvelope(kind: 'text' | 'file', body: string, recipients: string[], to?: string, id: string = newId()): Promise<ChatMessage> {
    const env: EnvelopeWire = {
      id,
      room: this.key,
      from: this.#deps.username,
      ...(to ? { to: this.#known.get(to.toLowerCase()) ?? to } : {}),
      sentAt: this.#nextSentAt(),
      kind,
      body,
    };
    const sig = await signEnvelope(this.#deps.identity.privateKey, env);
    const message: ChatMessage = { ...env, signature: sig, status: 'sending', deliveredTo: [], receivedAt: env.sentAt };
    const stored = this.#deps.storage.messages.add(message);
    const frame: AppMessage = { t: 'msg', env, sig };
    const payload = JSON.stringify(frame);
    // Every recipient's copy waits in the outbox until they acknowledge it, so delivery
    // survives a dropped channel (receivers drop duplicates by id). Open channels get it
    // at once, without waiting for storage: the disk is not on the path of a message.
    const writes: Promise<unknown>[] = [stored];
    const sends: Promise<unknown>[] = [];
    for (const r of recipients) {
      const write = this.#deps.storage.outbox.add({ room: this.key, to: r, messageId: env.id, payload, createdAt: env.sentAt });
      this.#outboxWrites.set(`${r}\u0000${env.id}`, write);
      writes.push(write);
      const slot = this.#slots.get(r);
      if (slot?.session?.isOpen && !slot.flushed.has(env.id)) {
        slot.flushed.add(env.id);
        sends.push(slot.session.sendMessage(frame).catch(() => slot.flushed.delete(env.id)));
      }
    }
    // NOTE: our own bubble is drawn once the frames are on their channels (sealing takes a
    // fraction of a millisecond): drawn first, its rendering delayed every send.
    await Promise.allSettled(sends);
    this.#events.emit('message', message, false);
    await Promise.all(writes);
    for (const r of recipients) this.#outboxWrites.delete(`${r}\u0000${env.id}`);
    return message;
  }

  /** Strictly increasing per sender, so two messages sent in one millisecond keep their order. */
  #nextSentAt(): number {
    this.#lastSentAt = Math.max(this.#deps.now(), this.#lastSentAt + 1);
    return this.#lastSentAt;
  }

  /** How many recipients a message was meant for, for "delivered to n of m". */
  recipientCount(m: ChatMessage): number {
    return m.to ? 1 : Math.max(this.#known.size, m.deliveredTo.length);
  }

  async #flushOutbox(key: string): Promise<void> {
    const slot = this.#slots.get(key);
    const session = slot?.session;
    if (!slot || !session?.isOpen) return;
    const pending = await this.#deps.storage.outbox.pending(this.key, key);
    for (const entry of pending) {
      if (slot.flushed.has(entry.messageId) || slot.session !== session || !session.isOpen) continue;
      slot.flushed.add(entry.messageId);
      try {
        await session.sendMessage(JSON.parse(entry.payload) as AppMessage);
      } catch {
        slot.flushed.delete(entry.messageId);
        return;
      }
    }
  }

  async #onAppMessage(key: string, session: PeerSession, msg: AppMessage): Promise<void> {
    switch (msg.t) {
      case 'msg':
        return this.#onEnvelope(key, session, msg.env, msg.sig);
      case 'ack':
        for (const id of msg.ids) {
          // The receipt can beat our own outbox write; let that write land before removing.
          await this.#outboxWrites.get(`${key}\u0000${id}`)?.catch(() => undefined);
          const updated = await this.#deps.storage.messages.markDelivered(id, key);
          for (const e of await this.#deps.storage.outbox.pending(this.key, key)) {
            if (e.messageId === id && e.seq !== undefined) await this.#deps.storage.outbox.remove(e.seq);
          }
          if (updated) this.#events.emit('message', updated, false);
        }
        return;
      case 'typing':
        return this.#setTyping(key, msg.active);
      case 'history-req':
        return this.#answerHistory(session, msg.since);
      case 'history':
        return this.#acceptHistory(session, msg.items);
      case 'delete-room':
        return this.#events.emit('deleteRequest', session.peerUsername);
      case 'direct-invite':
        return this.#onDirectInvite(key, session, msg.room, msg.password);
      case 'ping':
        return void session.sendMessage({ t: 'pong', id: msg.id, sentAt: msg.sentAt }).catch(() => undefined);
      default:
        return;
    }
  }

  async #onEnvelope(key: string, session: PeerSession, env: EnvelopeWire, sig: string): Promise<void> {
    const refuse = (why: string) => this.#notice('refused-message', session.peerUsername, why, ErrorCode.BadSignature);
    // The channel proves who sent the frame; the envelope must agree and carry the
    // author's own signature, so it stays verifiable when relayed later.
    if (env.room !== this.key) return refuse('the message was addressed to another room');
    if (env.from.toLowerCase() !== key) return refuse('the message claims another author');
    if (env.to !== undefined && env.to.toLowerCase() !== this.#me) return refuse('a private message for someone else');
    if (!(await verifyEnvelope(session.peerKey, env, sig))) return refuse('the signature does not match');
    if (env.kind === 'file') {
      const author = { username: env.from, publicKey: session.peerKey };
      if (!(await verifyFileMessageBody(env.body, author, { room: this.key, me: this.#deps.username }))) {
        return refuse('the file announcement is not signed by its sender');
      }
    }
    const message: ChatMessage = { ...env, signature: sig, status: 'received', deliveredTo: [], receivedAt: this.#deps.now() };
    this.#setTyping(key, false);
    // Shown as soon as it is verified; storage follows. A message already stored (from
    // history, or a resend after a lost receipt) is not shown again.
    const fresh = this.#rememberId(env.id);
    if (fresh) this.#events.emit('message', message, true);
    const isNew = await this.#deps.storage.messages.add(message).catch((e: unknown) => {
      this.#notice('refused-message', session.peerUsername, `could not be saved: ${e instanceof Error ? e.message : String(e)}`, ErrorCode.Quota);
      return false;
    });
    if (fresh && !isNew) this.#events.emit('duplicate', env.id);
    // Acknowledge duplicates too: the sender's outbox keeps them until it hears back.
    void session.sendMessage({ t: 'ack', ids: [env.id] }).catch(() => undefined);
  }

  /**
   * Only the channel of a present member whose key is pinned and unchanged may invite us:
   * the channel's handshake proved who it is, so the invite needs no signature of its own.
   */
  #onDirectInvite(key: string, session: PeerSession, room: string, password: string): void {
    const refuse = (why: string) => this.#notice('refused-invite', session.peerUsername, why, ErrorCode.InviteRefused);
    const view = this.#members.get(key);
    if (this.#slots.get(key)?.session !== session || !view?.online) return refuse('it did not come from a member who is here');
    if (view.trust === 'changed' || view.connection === 'blocked') return refuse('their security key changed; check it first');
    if (room === this.key) return refuse('it names this room');
    if (this.#deps.admitInvite && !this.#deps.admitInvite(key)) return refuse('too many invitations in a short time');
    this.#events.emit('directInvite', { from: view.username, room, password });
  }

  /**
   * Sends a direct-chat invitation over the channel to one member only, like a private
   * message. It is not queued: a member who is not connected now is not invited.
   */
  async sendDirectInvite(username: string, invite: { room: string; password: string }): Promise<void> {
    const key = username.toLowerCase();
    const view = this.#members.get(key);
    if (view?.trust === 'changed') throw new ChatError(ErrorCode.KeyChanged, `${username}'s key changed; accept or verify it first`);
    const session = this.#slots.get(key)?.session;
    if (!view?.online || !session?.isOpen) throw new ChatError(ErrorCode.NotConnected, `${username} is not connected`);
    await session.sendMessage({ t: 'direct-invite', room: invite.room, password: invite.password });
  }

  #rememberId(id: string): boolean {
    if (this.#recentIds.has(id)) return false;
    this.#recentIds.add(id);
    if (this.#recentIds.size > RECENT_IDS_MAX) this.#recentIds.delete(this.#recentIds.values().next().value!);
    return true;
  }

  /** Keeps the member's round-trip time and direct/relayed path up to date while open. */
  #watchLink(key: string, session: PeerSession): void {
    const sample = async () => {
      if (!session.isOpen || this.#left) return;
      const stats = await session.link.stats().catch(() => null);
      const view = this.#members.get(key);
      if (!stats || !view || this.#slots.get(key)?.session !== session) return;
      if (stats.rttMs !== null) view.rttMs = Math.round(stats.rttMs * 10) / 10;
      if (stats.relayed !== null) view.relayed = stats.relayed;
      this.#events.emit('changed');
      setTimeout(() => void sample(), LINK_STATS_INTERVAL_MS);
    };
    setTimeout(() => void sample(), 500);
  }

  // ---- history sync ----------------------------------------------------------------

  /** Asks a member for what we missed: everything after our newest stored message. */
  async #requestHistory(session: PeerSession): Promise<void> {
    const newest = (await this.#deps.storage.messages.recent(this.key, 1))[0];
    const since = newest ? newest.sentAt : this.#deps.now() - HISTORY_TTL_MS;
    await session.sendMessage({ t: 'history-req', since }).catch(() => undefined);
  }

  /**
   * Answers in pages bounded by count and bytes. Only what the asker may see: public
   * messages and private ones to or from them.
   */
  async #answerHistory(session: PeerSession, since: number): Promise<void> {
    let cursor: HistoryCursor = Math.max(since, this.#deps.now() - HISTORY_TTL_MS);
    for (let pages = 0; pages < HISTORY_MAX_PAGES; pages++) {
      const rows = await this.#deps.storage.messages.since(this.key, cursor, HISTORY_PAGE_ITEMS, session.peerUsername);
      const items: { env: EnvelopeWire; sig: string }[] = [];
      let bytes = 0;
      for (const m of rows) {
        const env: EnvelopeWire = { id: m.id, room: m.room, from: m.from, ...(m.to !== undefined ? { to: m.to } : {}), sentAt: m.sentAt, kind: m.kind, body: m.body };
        bytes += m.body.length * 3 + 512;
        if (bytes > HISTORY_PAGE_BYTES && items.length > 0) break;
        items.push({ env, sig: m.signature });
        cursor = { sentAt: m.sentAt, id: m.id };
      }
      const done = rows.length < HISTORY_PAGE_ITEMS && items.length === rows.length;
      try {
        await session.sendMessage({ t: 'history', items, done });
      } catch {
        return;
      }
      if (done) return;
    }
  }

  /**
   * Relayed messages keep their author's signature and are checked against the author's
   * pinned key: a member cannot forge what someone else said. Authors we have never met
   * cannot be checked, so their messages are not stored.
   */
  async #acceptHistory(session: PeerSession, items: { env: EnvelopeWire; sig: string }[]): Promise<void> {
    let forged = 0;
    for (const { env, sig } of items) {
      if (env.room !== this.key) {
        forged++;
        continue;
      }
      const author = env.from.toLowerCase();
      if (env.to !== undefined && env.to.toLowerCase() !== this.#me && author !== this.#me) {
        forged++;
        continue;
      }
      const key =
        author === this.#me
          ? this.#deps.identity.publicKey
          : author === session.peerUsername.toLowerCase()
            ? session.peerKey
            : await this.#pinnedKeyOf(author);
      if (!key) continue;
      if (!(await verifyEnvelope(key, env, sig))) {
        forged++;
        continue;
      }
      const mine = author === this.#me;
      const message: ChatMessage = { ...env, signature: sig, status: mine ? 'sent' : 'received', deliveredTo: [], receivedAt: this.#deps.now() };
      if (await this.#deps.storage.messages.add(message)) this.#events.emit('message', message, false);
    }
    if (forged > 0) {
      this.#notice('refused-message', session.peerUsername, `${forged} relayed message(s) failed their author's signature check`, ErrorCode.BadSignature);
    }
  }

  async #pinnedKeyOf(username: string): Promise<Uint8Array | null> {
    const contact = await this.#deps.storage.contacts.get(username);
    return contact && !contact.pendingKey ? fromB64u(contact.publicKey) : null;
  }

  // ---- deleting ------------------------------------------------------------------

  /** Asks every connected member to delete their copy of this chat (they decide). */
  async askOthersToDelete(): Promise<void> {
    const at = this.#deps.now();
    await Promise.all(
      [...this.#slots.values()].map((slot) => (slot.session?.isOpen ? slot.session.sendMessage({ t: 'delete-room', at }).catch(() => undefined) : undefined)),
    );
  }

  /** Removes this chat's messages, files and queued messages from this browser, at once. */
  async clearHistory(): Promise<void> {
    await this.#deps.storage.messages.deleteRoom(this.key);
    this.#events.emit('cleared');
  }

  // ---- typing --------------------------------------------------------------------

  sendTyping(active: boolean): void {
    for (const slot of this.#slots.values()) {
      if (slot.session?.isOpen) void slot.session.sendMessage({ t: 'typing', active }).catch(() => undefined);
    }
  }

  #setTyping(key: string, active: boolean): void {
    const view = this.#members.get(key);
    if (!view || view.typing === active) return;
    view.typing = active;
    clearTimeout(this.#typingTimers.get(key));
    if (active) this.#typingTimers.set(key, setTimeout(() => this.#setTyping(key, false), TYPING_TTL_MS));
    this.#events.emit('changed');
  }

  // ---- lifecycle -----------------------------------------------------------------

  #notice(kind: NoticeKind, user: string, detail?: string, code?: string): void {
    const notice: Notice = { id: newId(), at: this.#deps.now(), kind, user, ...(detail ? { detail } : {}), ...(code ? { code } : {}) };
    this.#events.emit('notice', notice);
  }

  async leave(): Promise<void> {
    this.#left = true;
    for (const key of [...this.#slots.keys()]) this.#dropPeer(key);
    this.#deps.files?.close();
    for (const t of this.#typingTimers.values()) clearTimeout(t);
    clearTimeout(this.#graceTimer);
    await this.#deps.signaling.leaveRoom({ room: this.name }).catch(() => undefined);
    this.#events.clear();
  }

  /** True once `username` has been in this room's roster during this session. */
  hasMet(username: string): boolean {
    return this.#known.has(username.toLowerCase());
  }

  /** Public key of a member as raw bytes, for safety numbers. */
  pinnedKey(username: string): Uint8Array | null {
    const v = this.#members.get(username.toLowerCase());
    return v ? fromB64u(v.publicKey) : null;
  }

  /**
   * The 60 digits two people compare out of band to verify each other, or null when
   * `username` was never in this room. Every client (web, terminal) shows the same digits
   * because the parties are the lower-cased names and the pinned keys, in this one place.
   */
  async safetyNumber(username: string): Promise<string | null> {
    const theirs = this.pinnedKey(username);
    if (!theirs) return null;
    return computeSafetyNumber({ username: this.#me, publicKey: this.#deps.identity.publicKey }, { username: username.toLowerCase(), publicKey: theirs });
  }

  static encodeKey(raw: Uint8Array): string {
    return toB64u(raw);
  }
}
