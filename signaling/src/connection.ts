import { randomBytes } from 'node:crypto';
import type { Server, Socket } from 'socket.io';
import type * as v from 'valibot';
import { LOBBY, roomChannel, type Announcer } from './announce.ts';
import type { ServerConfig } from './config.ts';
import { issueIceServers } from './ice.ts';
import { CHALLENGE_TTL_MS } from './limits.ts';
import type { Logger } from './log.ts';
import { joinTokenVerifier, verifyLogin } from './login.ts';
import type { Metrics } from './metrics.ts';
import {
  AuthChallengeRequest,
  AuthProveRequest,
  ClientEvent,
  loginChallengeText,
  type Member,
  normalizeRoomName,
  normalizeUsername,
  parse,
  RoomJoinRequest,
  RoomLeaveRequest,
  ServerError,
  ServerEvent,
  SignalRequest,
} from './protocol.ts';
import type { RateLimits } from './rate-limits.ts';
import type { UsernameRegistry } from './registry.ts';
import type { RoomDirectory } from './rooms.ts';

type Ack = (response: unknown) => void;

type RoomEntry = { name: string; verifier?: string; unlisted?: true };
/** Shared by every socket in no room, never written: most sockets pay for no Map of their own. */
const NO_ROOMS: ReadonlyMap<string, RoomEntry> = new Map();

/**
 * What the server knows about one of its sockets. Nothing here survives a
 * reconnection. Every field is set in the constructor, so all sockets share one shape.
 */
export class SocketState {
  readonly socket: Socket;
  readonly address: string;
  challenge: { value: string; username: string; key: string; publicKey: string; expires: number } | undefined = undefined;
  user: { username: string; key: string; publicKey: string } | undefined = undefined;
  /** Room key -> display name and verifier, as admitted (for relays and reconciling). */
  rooms: ReadonlyMap<string, RoomEntry> = NO_ROOMS;
  strikes = 0;
  /** This socket's events run one after another, so a leave never overtakes its join. */
  queue: Promise<void> | undefined = undefined;

  constructor(socket: Socket, address: string) {
    this.socket = socket;
    this.address = address;
  }

  addRoom(key: string, entry: RoomEntry): void {
    const rooms = this.rooms === NO_ROOMS ? new Map<string, RoomEntry>() : (this.rooms as Map<string, RoomEntry>);
    rooms.set(key, entry);
    this.rooms = rooms;
  }

  removeRoom(key: string): void {
    if (this.rooms !== NO_ROOMS) (this.rooms as Map<string, RoomEntry>).delete(key);
  }
}

export interface ConnectionContext {
  io: Server;
  config: ServerConfig;
  registry: UsernameRegistry;
  rooms: RoomDirectory;
  announce: Announcer;
  rateLimits: RateLimits;
  metrics: Metrics;
  log: Logger;
  /** This process's sockets. */
  sockets: Map<string, SocketState>;
}

interface Route {
  schema: v.GenericSchema | null;
  /** False only for the events of logging in. */
  needsUser: boolean;
  run: (state: SocketState, payload: never, ack: Ack) => Promise<void>;
}

const JOIN_REFUSALS = {
  'room-full': ServerError.RoomFull,
  'bad-password': ServerError.BadPassword,
  'room-is-open': ServerError.RoomIsOpen,
  'no-such-room': ServerError.NoSuchRoom,
} as const;

function errorAck(error: ServerError, message: string) {
  return { ok: false as const, error, message };
}

/**
 * The server's answer to every client event. Every event is rate-limited, must carry an
 * acknowledgement, is validated against its schema and needs a logged-in user unless it
 * is part of logging in. Bad input gets an error acknowledgement; nothing a client sends
 * can throw past here.
 *
 * One instance serves every socket: a socket gets one shared listener for all its
 * events and one for its disconnect, not a set of closures of its own, because per-socket
 * memory is what bounds how many clients one process holds.
 *
 * NOTE: Socket.IO's connection-state recovery is deliberately not enabled. A reconnected
 * socket is a new socket with empty state: it must log in again (challenge and
 * signature) before anything else, so a stolen or replayed session id buys nothing.
 */
export class SignalingHandlers {
  readonly #ctx: ConnectionContext;
  readonly #routes: Map<string, Route>;
  readonly #onAny: (this: Socket, event: unknown, ...args: unknown[]) => void;
  readonly #onDisconnect: (this: Socket) => void;

  constructor(ctx: ConnectionContext) {
    this.#ctx = ctx;
    const route = <S extends v.GenericSchema>(
      schema: S | null,
      run: (state: SocketState, payload: v.InferOutput<S>, ack: Ack) => Promise<void>,
      needsUser = true,
    ): Route => ({ schema, needsUser, run: run as Route['run'] });
    this.#routes = new Map<string, Route>([
      [ClientEvent.AuthChallenge, route(AuthChallengeRequest, (s, p, a) => this.#authChallenge(s, p, a), false)],
      [ClientEvent.AuthProve, route(AuthProveRequest, (s, p, a) => this.#authProve(s, p, a), false)],
      [ClientEvent.RoomList, route(null, async (_s, _p, a) => a({ ok: true, rooms: await this.#ctx.announce.list() }))],
      [ClientEvent.RoomJoin, route(RoomJoinRequest, (s, p, a) => this.#join(s, p, a))],
      [ClientEvent.RoomLeave, route(RoomLeaveRequest, (s, p, a) => this.#leave(s, p, a))],
      [ClientEvent.Signal, route(SignalRequest, (s, p, a) => this.#signal(s, p, a))],
    ]);
    const self = this;
    // Socket.IO calls these with the socket as `this`.
    this.#onAny = function (this: Socket, event: unknown, ...args: unknown[]) {
      self.#receive(this, event, args);
    };
    this.#onDisconnect = function (this: Socket) {
      self.#disconnected(this);
    };
  }

  attach(socket: Socket, address: string): void {
    this.#ctx.sockets.set(socket.id, new SocketState(socket, address));
    this.#ctx.metrics.connections++;
    socket.onAny(this.#onAny);
    socket.on('disconnect', this.#onDisconnect);
  }

  #receive(socket: Socket, event: unknown, args: unknown[]): void {
    const state = this.#ctx.sockets.get(socket.id);
    if (!state) return;
    const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as Ack) : null;
    // Rate limit first, for every packet including unknown events, before any parsing.
    void this.#ctx.rateLimits.event(socket.id, state.address).then((ok) => {
      if (!ok) return this.#rateLimited(state, ack);
      const route = typeof event === 'string' ? this.#routes.get(event) : undefined;
      const { metrics } = this.#ctx;
      if (!route) {
        // Fixed label: an attacker must not be able to mint metric series with event names.
        metrics.reject('unknown', 'unknown-event');
        return ack?.(errorAck(ServerError.Malformed, 'unknown event'));
      }
      const name = event as string;
      metrics.event(name);
      if (!ack) return metrics.reject(name, 'no-ack');
      if (args.length > (route.schema ? 1 : 0)) return this.#reject(name, ack, ServerError.Malformed, 'unexpected arguments');
      let payload: unknown;
      if (route.schema) {
        const parsed = parse(route.schema, args[0]);
        if (!parsed.ok) return this.#reject(name, ack, ServerError.Malformed, parsed.error);
        payload = parsed.value;
      }
      this.#enqueue(state, async () => {
        if (route.needsUser && !state.user) return this.#reject(name, ack, ServerError.NotAuthenticated, 'log in first');
        try {
          await route.run(state, payload as never, ack);
        } catch (e) {
          this.#ctx.log.error({ event: name, socket: socket.id, err: (e as Error).message }, 'request failed');
          this.#reject(name, ack, ServerError.Unavailable, 'the server could not handle this request now; try again');
        }
      });
    });
  }

  #rateLimited(state: SocketState, ack: Ack | null): void {
    const { metrics, log, config } = this.#ctx;
    metrics.rateLimited++;
    ack?.(errorAck(ServerError.RateLimited, 'too many requests; slow down'));
    if (++state.strikes === config.limits.rateLimitStrikes) {
      // Told, then disconnected: a flooding client costs the others nothing more.
      metrics.rateLimitedClients++;
      log.warn({ socket: state.socket.id }, 'disconnecting a flooding client');
      state.socket.emit(ServerEvent.Notice, { kind: 'rate-limited', message: 'Too many requests; disconnected. Reload to reconnect.' });
      state.socket.disconnect(true);
    }
  }

  #reject(event: string, ack: Ack, error: ServerError, message: string): void {
    this.#ctx.metrics.reject(event, error);
    ack(errorAck(error, message));
  }

  #enqueue(state: SocketState, work: () => Promise<void>): void {
    state.queue = state.queue ? state.queue.then(work, work) : work();
  }

  async #authChallenge(state: SocketState, req: AuthChallengeRequest, ack: Ack): Promise<void> {
    const name = normalizeUsername(req.username);
    if (!name.ok) return this.#reject(ClientEvent.AuthChallenge, ack, ServerError.Malformed, 'invalid username');
    const existing = await this.#ctx.registry.lookup(name.key);
    if (existing && existing.publicKey !== req.publicKey) {
      return this.#reject(ClientEvent.AuthChallenge, ack, ServerError.UsernameTaken, `"${name.name}" is already taken by someone else`);
    }
    const value = randomBytes(32).toString('base64url');
    state.challenge = { value, username: existing?.username ?? name.name, key: name.key, publicKey: req.publicKey, expires: Date.now() + CHALLENGE_TTL_MS };
    ack({ ok: true, challenge: value, registered: existing !== undefined });
  }

  async #authProve(state: SocketState, req: AuthProveRequest, ack: Ack): Promise<void> {
    const c = state.challenge;
    state.challenge = undefined; // one attempt per challenge
    if (!c || c.expires < Date.now()) return this.#reject(ClientEvent.AuthProve, ack, ServerError.NoChallenge, 'request a new login challenge');
    if (!verifyLogin(c.publicKey, loginChallengeText(c.value, c.key, c.publicKey), req.signature)) {
      return this.#reject(ClientEvent.AuthProve, ack, ServerError.BadSignature, 'the login signature did not verify');
    }
    const result = await this.#ctx.registry.claim(c.key, { username: c.username, publicKey: c.publicKey, registeredAt: Date.now() });
    if (result === 'taken') return this.#reject(ClientEvent.AuthProve, ack, ServerError.UsernameTaken, `"${c.username}" is already taken by someone else`);
    if (result === 'full') return this.#reject(ClientEvent.AuthProve, ack, ServerError.Unavailable, 'this server accepts no new users');
    if (state.user && state.user.key !== c.key) await this.#leaveAll(state);
    state.user = { username: c.username, key: c.key, publicKey: c.publicKey };
    await state.socket.join(LOBBY);
    // NOTE: the TURN username carries the socket id, not the chat name: STUN/TURN
    // messages are not encrypted, and a name there would tell any on-path observer who talks.
    const iceServers = issueIceServers(this.#ctx.config, state.socket.id);
    ack({
      ok: true,
      username: c.username,
      iceServers,
      ...(this.#ctx.config.relayOnly ? { iceTransportPolicy: 'relay' } : {}),
      rooms: await this.#ctx.announce.list(),
    });
  }

  async #join(state: SocketState, req: RoomJoinRequest, ack: Ack): Promise<void> {
    const { config, rooms, io, announce } = this.#ctx;
    const user = state.user!;
    const socket = state.socket;
    const name = normalizeRoomName(req.room);
    if (!name.ok) return this.#reject(ClientEvent.RoomJoin, ack, ServerError.Malformed, 'invalid room name');
    if (!state.rooms.has(name.key) && state.rooms.size >= config.limits.maxRoomsPerSocket) {
      return this.#reject(ClientEvent.RoomJoin, ack, ServerError.TooManyRooms, `at most ${config.limits.maxRoomsPerSocket} rooms at once`);
    }
    const member: Member = { socketId: socket.id, username: user.username, publicKey: user.publicKey };
    const verifier = req.joinToken ? joinTokenVerifier(req.joinToken) : undefined;
    const outcome = await rooms.join({
      key: name.key,
      name: name.name,
      member,
      userKey: user.key,
      create: req.create ?? false,
      ...(verifier ? { verifier } : {}),
      ...(req.unlisted ? { unlisted: true as const } : {}),
    });
    if (!outcome.ok) {
      const code = JOIN_REFUSALS[outcome.reason];
      const messages: Record<typeof code, string> = {
        [ServerError.RoomFull]: `this room is full (at most ${config.limits.roomMembersMax} members)`,
        [ServerError.BadPassword]: 'wrong room password',
        [ServerError.RoomIsOpen]: 'this room has no password; join it without one',
        [ServerError.NoSuchRoom]: 'no room with that name; create it instead',
      };
      return this.#reject(ClientEvent.RoomJoin, ack, code, messages[code]);
    }
    if (socket.disconnected) {
      // The socket went away while the directory answered: take the seat back at once.
      await rooms.leave(name.key, socket.id);
      return;
    }
    for (const old of outcome.displaced) io.in(old).socketsLeave(roomChannel(name.key));
    // The room's own flag, not the request's: it is set once, by whoever created the room.
    state.addRoom(name.key, { name: outcome.room.name, ...(verifier ? { verifier } : {}), ...(outcome.room.unlisted ? { unlisted: true as const } : {}) });
    await socket.join(roomChannel(name.key));
    // NOTE: read again now that this socket receives the room's pushes: a member who joined
    // between our seat and our subscription is either in this roster or in a later push,
    // never in a push we missed. Versions let the client drop rosters that arrive late.
    const room = (await rooms.get(name.key)) ?? outcome.room;
    ack({ ok: true, room: room.name, locked: room.locked, members: room.members, version: room.version });
    announce.members(name.key, room);
    // An unlisted room changes no room list: nothing to push to the lobby.
    if (!room.unlisted) announce.roomsChanged();
  }

  async #leave(state: SocketState, req: RoomLeaveRequest, ack: Ack): Promise<void> {
    const name = normalizeRoomName(req.room);
    if (!name.ok || !state.rooms.has(name.key)) return this.#reject(ClientEvent.RoomLeave, ack, ServerError.NotInRoom, 'not in that room');
    await this.#leaveRoom(state, name.key);
    ack({ ok: true });
  }

  async #signal(state: SocketState, req: SignalRequest, ack: Ack): Promise<void> {
    const { rooms, io } = this.#ctx;
    const socket = state.socket;
    const name = normalizeRoomName(req.room);
    // NOTE: the server sets `from` itself and relays only between members of one room,
    // so a client can neither forge a sender nor reach sockets outside its rooms.
    if (!name.ok || !state.rooms.has(name.key)) return this.#reject(ClientEvent.Signal, ack, ServerError.NotInRoom, 'not in that room');
    if (req.to === socket.id) return this.#reject(ClientEvent.Signal, ack, ServerError.UnknownPeer, 'that peer is not in the room');
    const roomName = await rooms.shared(name.key, [socket.id, req.to]);
    if (roomName === null) {
      const stillMember = (await rooms.shared(name.key, [socket.id])) !== null;
      return stillMember
        ? this.#reject(ClientEvent.Signal, ack, ServerError.UnknownPeer, 'that peer is not in the room')
        : this.#reject(ClientEvent.Signal, ack, ServerError.NotInRoom, 'not in that room');
    }
    io.to(req.to).emit(ServerEvent.Signal, { room: roomName, from: socket.id, fromUser: state.user!.username, data: req.data });
    ack({ ok: true });
  }

  async #leaveRoom(state: SocketState, key: string): Promise<void> {
    const { rooms, announce, log } = this.#ctx;
    state.removeRoom(key);
    await state.socket.leave(roomChannel(key));
    try {
      const room = await rooms.leave(key, state.socket.id);
      if (room) {
        announce.members(key, room);
        if (!room.unlisted) announce.roomsChanged();
      }
    } catch (e) {
      // Redis away: the directory reconciles this leave when it is back.
      log.warn({ socket: state.socket.id, err: (e as Error).message }, 'leave not recorded yet');
    }
  }

  async #leaveAll(state: SocketState): Promise<void> {
    await Promise.all([...state.rooms.keys()].map((key) => this.#leaveRoom(state, key)));
  }

  #disconnected(socket: Socket): void {
    const state = this.#ctx.sockets.get(socket.id);
    if (!state) return;
    this.#ctx.rateLimits.forget(socket.id);
    this.#enqueue(state, async () => {
      try {
        await this.#leaveAll(state);
      } finally {
        this.#ctx.sockets.delete(socket.id);
      }
    });
  }
}
