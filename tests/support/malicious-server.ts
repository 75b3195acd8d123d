/**
 * A malicious signaling server, for tests only: the real server (startTestServer) with
 * what it sends tampered with at the Engine.IO packet level, the way someone who controls
 * the server process could. Nothing here is a production flag; the server code is
 * unchanged and knows nothing of it.
 *
 * Modes:
 *  - announceKey: lie about a user's public key in `room:members` pushes and `room:join`
 *    acks (optionally only to some recipients).
 *  - admitEveryone: let anyone into a password room: a join with another (or no) join
 *    token has it replaced, on the way in, by the one the room was created with.
 *  - interceptPair: a real man in the middle of the WebRTC connection between two users:
 *    their `signal` relays are swallowed and each side gets a connection to the attacker's
 *    own WebRTC peer instead (mitm-peer.ts), which relays data-channel frames between them.
 *
 * Every packet in both directions is recorded, and so is every frame the attacker's peers
 * saw, so tests can assert that the attacker never obtained any message plaintext.
 */
import { generateKeyPairSync } from 'node:crypto';
import type { Member, SignalData, SignalPush } from '../../signaling/src/protocol.ts';
import { startTestServer, type TestServer } from './server.ts';
import { ChannelInterceptor } from './mitm-peer.ts';

type SendPacket = (type: string, data?: unknown, options?: Record<string, unknown>, callback?: () => void) => void;

/** The parts of an Engine.IO socket this file touches. */
interface EngineSocket {
  id: string;
  sendPacket: SendPacket;
  on(event: 'packet', cb: (p: { type: string; data?: unknown }) => void): void;
}

export interface PacketRecord {
  dir: 'in' | 'out';
  /** The Socket.IO id of the client's socket, when known. */
  socketId: string | null;
  /** Its user, when known from a roster. */
  user: string | null;
  /** Socket.IO packet text as it went over the wire (after tampering, for `out`). */
  data: string;
}

export interface Interception {
  readonly pair: [string, string];
  /** One per connection attempt the attacker sat in the middle of. */
  readonly connections: ChannelInterceptor[];
}

export interface MaliciousServer extends TestServer {
  /** Every packet the server sent or received, in order. */
  readonly log: PacketRecord[];
  /** Every packet the server sent, as text (after tampering). */
  readonly sent: string[];
  /** From now on, tell `to` (default: everyone) that `username`'s key is `publicKey`. */
  announceKey(username: string, publicKey: string, opts?: { to?: string[] }): void;
  /** Announce the true keys again. */
  stopAnnouncing(): void;
  /** From now on, admit anyone who asks to join `room` (a password room created after this call). */
  admitEveryone(room: string): void;
  /** From the next offer between the two users on, sit in the middle of their connection. */
  interceptPair(a: string, b: string): Interception;
  /** Relay signals honestly again and drop the attacker's peers. */
  stopIntercepting(): void;
  /** Everything the server and its WebRTC peers ever saw, as one text, for plaintext checks. */
  everythingSeen(): string;
  socketIdOf(username: string): string | undefined;
}

/** A fresh Ed25519 public key no client holds the private half of: an impostor's key. */
export function attackerKey(): string {
  const { publicKey } = generateKeyPairSync('ed25519');
  const jwk = publicKey.export({ format: 'jwk' }) as { x?: string };
  if (!jwk.x) throw new Error('could not export an Ed25519 key');
  return jwk.x;
}

/** A Socket.IO packet as text: type digit, optional ack id, JSON array (default namespace only). */
const PACKET = /^([23])(\d*)(\[[\s\S]*\])$/;

export async function startMaliciousServer(opts: Parameters<typeof startTestServer>[0] = {}): Promise<MaliciousServer> {
  const server = await startTestServer(opts);
  const log: PacketRecord[] = [];
  const sent: string[] = [];
  const usernames = new Map<string, string>(); // socket id -> username, learnt from rosters
  const originals = new WeakMap<EngineSocket, SendPacket>();
  let announce: { user: string; publicKey: string; to: Set<string> | null } | null = null;
  let intercept: { pair: Set<string>; interception: { pair: [string, string]; connections: ChannelInterceptor[] } } | null = null;
  const live = new Map<string, { session: ChannelInterceptor; initiator: string; responder: string }>();
  /** Rooms whose doors are open to anyone: the creator's join token once seen, by room name. */
  const doors = new Map<string, string | null>();
  const everyInterceptor: ChannelInterceptor[] = [];

  const socketIdOfEngine = (raw: EngineSocket): string | null => {
    for (const s of server.io.of('/').sockets.values()) if ((s.conn as unknown) === raw) return s.id;
    return null;
  };
  const engineOf = (socketId: string): EngineSocket | undefined => server.io.of('/').sockets.get(socketId)?.conn as unknown as EngineSocket | undefined;
  const userOf = (socketId: string | null) => (socketId ? (usernames.get(socketId) ?? null) : null);

  const learn = (members: unknown) => {
    if (!Array.isArray(members)) return;
    for (const m of members as Member[]) if (m && typeof m.socketId === 'string' && typeof m.username === 'string') usernames.set(m.socketId, m.username);
  };

  /** Rewrites a member list in place; true if anything changed. */
  const lieAbout = (members: unknown, recipient: string | null): boolean => {
    if (!announce || !Array.isArray(members)) return false;
    if (announce.to && !(recipient && announce.to.has(recipient.toLowerCase()))) return false;
    let changed = false;
    for (const m of members as Member[]) {
      if (m.username.toLowerCase() === announce.user) {
        m.publicKey = announce.publicKey;
        changed = true;
      }
    }
    return changed;
  };

  /** Sends a packet the attacker made up, bypassing the tampering hook. */
  const inject = (socketId: string, event: string, payload: unknown) => {
    const raw = engineOf(socketId);
    const send = raw && originals.get(raw);
    if (!raw || !send) return;
    const text = `2${JSON.stringify([event, payload])}`;
    sent.push(text);
    log.push({ dir: 'out', socketId, user: userOf(socketId), data: text });
    send.call(raw, 'message', text);
  };

  /** A `signal` push between the intercepted pair goes to the attacker instead. */
  const hijack = (push: SignalPush, recipient: string): boolean => {
    const recipientUser = userOf(recipient);
    if (!intercept || !recipientUser) return false;
    if (!intercept.pair.has(push.fromUser.toLowerCase()) || !intercept.pair.has(recipientUser.toLowerCase())) return false;
    const key = [push.from, recipient].sort().join('|');
    let conn = live.get(key);
    if (push.data.type === 'offer') {
      // A new connection attempt (first or a retry): answer it with a fresh pair of peers.
      conn?.session.close();
      const initiator = { socketId: push.from, user: push.fromUser };
      const responder = { socketId: recipient, user: recipientUser };
      const session = new ChannelInterceptor({
        toInitiator: (data: SignalData) => inject(initiator.socketId, 'signal', { room: push.room, from: responder.socketId, fromUser: responder.user, data }),
        toResponder: (data: SignalData) => inject(responder.socketId, 'signal', { room: push.room, from: initiator.socketId, fromUser: initiator.user, data }),
      });
      conn = { session, initiator: initiator.socketId, responder: responder.socketId };
      live.set(key, conn);
      intercept.interception.connections.push(session);
      everyInterceptor.push(session);
    }
    if (conn) {
      if (push.from === conn.initiator) conn.session.fromInitiator(push.data);
      else conn.session.fromResponder(push.data);
    }
    return true; // never relayed: the other browser only ever talks to the attacker
  };

  /** Returns the text to send instead, `null` to drop the packet, or `undefined` to send it as is. */
  const tamper = (raw: EngineSocket, text: string): string | null | undefined => {
    const m = PACKET.exec(text);
    if (!m) return undefined;
    const [, type, id, json] = m as unknown as [string, string, string, string];
    let body: unknown[];
    try {
      body = JSON.parse(json) as unknown[];
    } catch {
      return undefined;
    }
    const recipient = socketIdOfEngine(raw);
    if (type === '2' && body[0] === 'room:members') {
      const push = body[1] as { members?: unknown };
      learn(push.members);
      return lieAbout(push.members, userOf(recipient)) ? `2${id}${JSON.stringify(body)}` : undefined;
    }
    if (type === '2' && body[0] === 'signal' && recipient) {
      return hijack(body[1] as SignalPush, recipient) ? null : undefined;
    }
    if (type === '3') {
      const ack = body[0] as { ok?: unknown; members?: unknown } | undefined;
      if (ack?.ok === true && Array.isArray(ack.members)) {
        learn(ack.members);
        return lieAbout(ack.members, userOf(recipient)) ? `3${id}${JSON.stringify(body)}` : undefined;
      }
    }
    return undefined;
  };

  /** An incoming packet's text to hand to the server instead, or undefined to leave it. */
  const forgeIncoming = (text: string): string | undefined => {
    const m = PACKET.exec(text);
    if (!m || m[1] !== '2' || doors.size === 0) return undefined;
    const body = JSON.parse(m[3]!) as [string, { room?: unknown; joinToken?: unknown; create?: unknown }];
    const req = body[1];
    if (body[0] !== 'room:join' || typeof req?.room !== 'string' || !doors.has(req.room)) return undefined;
    const token = doors.get(req.room);
    if (req.create === true && typeof req.joinToken === 'string') {
      doors.set(req.room, req.joinToken);
      return undefined;
    }
    if (typeof token !== 'string' || req.joinToken === token) return undefined;
    req.joinToken = token;
    return `2${m[2]}${JSON.stringify(body)}`;
  };

  server.io.engine.on('connection', (raw: EngineSocket) => {
    const original = raw.sendPacket;
    originals.set(raw, original);
    raw.on('packet', (p) => {
      if (p.type !== 'message' || p.data === undefined) return;
      // Listeners of 'packet' run before the server reads the same packet object's data.
      if (typeof p.data === 'string') p.data = forgeIncoming(p.data) ?? p.data;
      const data = typeof p.data === 'string' ? p.data : Buffer.from(p.data as ArrayBuffer).toString('latin1');
      const socketId = socketIdOfEngine(raw);
      log.push({ dir: 'in', socketId, user: userOf(socketId), data });
    });
    raw.sendPacket = function (this: EngineSocket, type, data, options, callback) {
      if (type !== 'message' || typeof data !== 'string') return original.call(this, type, data, options, callback);
      const replaced = tamper(raw, data);
      if (replaced === null) return; // swallowed
      const text = replaced ?? data;
      let sendOptions = options;
      if (replaced !== undefined && options && 'wsPreEncodedFrame' in options) {
        // NOTE: a broadcast carries one pre-encoded WebSocket frame shared by all its
        // recipients; it would be sent instead of our text, so drop it from our copy.
        const { wsPreEncodedFrame: _, ...rest } = options;
        sendOptions = rest;
      }
      const socketId = socketIdOfEngine(raw);
      sent.push(text);
      log.push({ dir: 'out', socketId, user: userOf(socketId), data: text });
      return original.call(this, type, text, sendOptions, callback);
    };
  });

  const stopIntercepting = () => {
    intercept = null;
    for (const c of live.values()) c.session.close();
    live.clear();
  };

  return {
    ...server,
    log,
    sent,
    announceKey(username, publicKey, o = {}) {
      announce = { user: username.toLowerCase(), publicKey, to: o.to ? new Set(o.to.map((u) => u.toLowerCase())) : null };
    },
    stopAnnouncing() {
      announce = null;
    },
    admitEveryone(room) {
      doors.set(room, null);
    },
    interceptPair(a, b) {
      stopIntercepting();
      const interception = { pair: [a, b] as [string, string], connections: [] as ChannelInterceptor[] };
      intercept = { pair: new Set([a.toLowerCase(), b.toLowerCase()]), interception };
      return interception;
    },
    stopIntercepting,
    everythingSeen() {
      return [...server.received, ...sent, ...everyInterceptor.flatMap((c) => c.seen.map((f) => f.text))].join('\n');
    },
    socketIdOf(username) {
      // The latest socket of that user (a reload or a new profile gets a new one).
      let found: string | undefined;
      for (const [id, name] of usernames) if (name.toLowerCase() === username.toLowerCase()) found = id;
      return found;
    },
    async stop() {
      stopIntercepting();
      await server.stop();
    },
  };
}
