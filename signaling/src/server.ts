import { createHash, createPublicKey, randomBytes, timingSafeEqual, verify } from 'node:crypto';
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync } from 'node:fs';
import sirv from 'sirv';
import { Server, type Socket } from 'socket.io';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import type * as v from 'valibot';
import type { ServerConfig } from './config.ts';
import {
  AuthChallengeRequest,
  AuthProveRequest,
  ClientEvent,
  ConnectAuth,
  loginChallengeText,
  type Member,
  normalizeRoomName,
  normalizeUsername,
  parse,
  PROTOCOL_VERSION,
  ROOM_MEMBERS_MAX,
  RoomJoinRequest,
  RoomLeaveRequest,
  ServerError,
  ServerEvent,
  SignalRequest,
  type IceServer,
} from './protocol.ts';
import { FileRegistry, type UsernameRegistry } from './registry.ts';
import { RoomDirectory } from './rooms.ts';
import { createLogger, type Logger } from './log.ts';
import * as limits from './limits.ts';
import { Metrics } from './metrics.ts';
import { issueIceServers } from './ice.ts';

type Ack = (response: unknown) => void;

interface SocketState {
  address: string;
  challenge?: { value: string; username: string; key: string; publicKey: string; expires: number };
  user?: { username: string; key: string; publicKey: string };
  rooms: Set<string>;
  strikes: number;
}

export interface SignalingServer {
  http: HttpServer;
  io: Server;
  url: string;
  port: number;
  metrics: Metrics;
  close(): Promise<void>;
}

export interface StartOptions {
  registry?: UsernameRegistry;
  logger?: Logger;
}

/** Sockets of authenticated users share this Socket.IO room, for room-list pushes. */
const LOBBY = 'lobby';
const roomChannel = (key: string) => `room:${key}`;

function errorAck(error: ServerError, message: string) {
  return { ok: false as const, error, message };
}

/** Verifies an Ed25519 signature over a login challenge with the claimed raw public key. */
function verifyLogin(publicKeyB64u: string, text: string, signatureB64u: string): boolean {
  try {
    const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: publicKeyB64u }, format: 'jwk' });
    return verify(null, Buffer.from(text, 'utf8'), key, Buffer.from(signatureB64u, 'base64url'));
  } catch {
    return false;
  }
}

function sha256B64u(b64u: string): string {
  return createHash('sha256').update(Buffer.from(b64u, 'base64url')).digest('base64url');
}

function equalStrings(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export async function startSignalingServer(config: ServerConfig, options: StartOptions = {}): Promise<SignalingServer> {
  const log = options.logger ?? createLogger(config.logLevel);
  const registry = options.registry ?? (await FileRegistry.open(config.dataDir));
  const rooms = new RoomDirectory();
  const metrics = new Metrics();
  const socketsPerAddress = new Map<string, number>();
  const perSocket = new RateLimiterMemory({ points: limits.SOCKET_EVENTS_BURST, duration: limits.SOCKET_EVENTS_BURST / limits.SOCKET_EVENTS_PER_SECOND });
  const perAddress = new RateLimiterMemory({ points: limits.ADDRESS_EVENTS_PER_SECOND * 4, duration: 4 });

  const serveStatic = config.staticDir && existsSync(config.staticDir) ? sirv(config.staticDir, { single: true, etag: true }) : null;
  const http = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, version: PROTOCOL_VERSION }));
      return;
    }
    if (path === '/metrics') {
      metrics.sockets = io.engine.clientsCount;
      metrics.rooms = rooms.size;
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(metrics.render());
      return;
    }
    if (serveStatic) {
      serveStatic(req, res, () => void res.writeHead(404).end('not found'));
      return;
    }
    res.writeHead(404).end('not found');
  });

  const io = new Server(http, {
    maxHttpBufferSize: limits.MAX_HTTP_BUFFER_BYTES,
    cors: { origin: config.corsOrigins === '*' ? true : config.corsOrigins },
    serveClient: false,
  });

  const pushRooms = () => io.to(LOBBY).emit(ServerEvent.Rooms, rooms.list());
  const pushMembers = (key: string) => {
    const room = rooms.get(key);
    if (room) io.to(roomChannel(key)).emit(ServerEvent.Members, { room: room.name, members: [...room.members.values()] });
  };

  io.use((socket, next) => {
    const auth = parse(ConnectAuth, socket.handshake.auth);
    if (!auth.ok || auth.value.v !== PROTOCOL_VERSION) {
      metrics.reject('connect', 'version');
      const err = new Error(ServerError.Version) as Error & { data?: unknown };
      err.data = { message: `This server speaks protocol version ${PROTOCOL_VERSION}; reload the page to update the app.` };
      next(err);
      return;
    }
    const address = socket.handshake.address;
    const count = socketsPerAddress.get(address) ?? 0;
    if (count >= limits.MAX_SOCKETS_PER_ADDRESS) {
      metrics.reject('connect', 'too-many-sockets');
      next(new Error(ServerError.RateLimited));
      return;
    }
    socketsPerAddress.set(address, count + 1);
    next();
  });

  io.on('connection', (socket: Socket) => {
    const state: SocketState = { address: socket.handshake.address, rooms: new Set(), strikes: 0 };
    metrics.connections++;

    /** Every event passes here: rate limit, require an ack, validate, then run. */
    function on<S extends v.GenericSchema>(
      event: string,
      schema: S | null,
      handler: (payload: v.InferOutput<S>, ack: Ack) => void | Promise<void>,
      needsUser = true,
    ) {
      socket.on(event, async (...args: unknown[]) => {
        metrics.event(event);
        const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as Ack) : null;
        if (!(await withinRateLimit())) return;
        if (!ack) return metrics.reject(event, 'no-ack');
        if (args.length > 1) return reject(event, ack, ServerError.Malformed, 'expected exactly one payload');
        if (needsUser && !state.user) return reject(event, ack, ServerError.NotAuthenticated, 'log in first');
        let payload: unknown = undefined;
        if (schema) {
          const parsed = parse(schema, args[0]);
          if (!parsed.ok) return reject(event, ack, ServerError.Malformed, parsed.error);
          payload = parsed.value;
        }
        try {
          await handler(payload as v.InferOutput<S>, ack);
        } catch (e) {
          log.error({ event, err: (e as Error).message }, 'handler failed');
          reject(event, ack, ServerError.Unavailable, 'the server could not handle this request; try again');
        }
      });
    }

    function reject(event: string, ack: Ack, error: ServerError, message: string) {
      metrics.reject(event, error);
      ack(errorAck(error, message));
    }

    async function withinRateLimit(): Promise<boolean> {
      try {
        await Promise.all([perSocket.consume(socket.id), perAddress.consume(state.address)]);
        return true;
      } catch {
        metrics.rateLimited++;
        if (++state.strikes >= limits.RATE_LIMIT_STRIKES) {
          log.warn({ socket: socket.id }, 'disconnecting a flooding client');
          socket.emit(ServerEvent.Notice, { kind: 'rate-limited', message: 'Too many requests; disconnected.' });
          socket.disconnect(true);
        }
        return false;
      }
    }

    socket.onAny((event: string) => {
      if (!Object.values(ClientEvent).includes(event as never)) metrics.reject(String(event).slice(0, 32), 'unknown-event');
    });

    on(ClientEvent.AuthChallenge, AuthChallengeRequest, async (req, ack) => {
      const name = normalizeUsername(req.username);
      if (!name.ok) return reject(ClientEvent.AuthChallenge, ack, ServerError.Malformed, 'invalid username');
      const existing = await registry.lookup(name.key);
      if (existing && existing.publicKey !== req.publicKey) {
        return reject(ClientEvent.AuthChallenge, ack, ServerError.UsernameTaken, `"${name.name}" is already taken by someone else`);
      }
      const value = randomBytes(32).toString('base64url');
      state.challenge = { value, username: existing?.username ?? name.name, key: name.key, publicKey: req.publicKey, expires: Date.now() + limits.CHALLENGE_TTL_MS };
      ack({ ok: true, challenge: value, registered: existing !== undefined });
    }, false);

    on(ClientEvent.AuthProve, AuthProveRequest, async (req, ack) => {
      const c = state.challenge;
      state.challenge = undefined; // one attempt per challenge
      if (!c || c.expires < Date.now()) return reject(ClientEvent.AuthProve, ack, ServerError.NoChallenge, 'request a new login challenge');
      if (!verifyLogin(c.publicKey, loginChallengeText(c.value, c.key, c.publicKey), req.signature)) {
        return reject(ClientEvent.AuthProve, ack, ServerError.BadSignature, 'the login signature did not verify');
      }
      const result = await registry.claim(c.key, { username: c.username, publicKey: c.publicKey, registeredAt: Date.now() });
      if (result === 'taken') return reject(ClientEvent.AuthProve, ack, ServerError.UsernameTaken, `"${c.username}" is already taken by someone else`);
      if (result === 'full') return reject(ClientEvent.AuthProve, ack, ServerError.Unavailable, 'this server accepts no new users');
      if (state.user && state.user.key !== c.key) leaveAll();
      state.user = { username: c.username, key: c.key, publicKey: c.publicKey };
      await socket.join(LOBBY);
      const iceServers: IceServer[] = issueIceServers(config, c.key);
      ack({ ok: true, username: c.username, iceServers, rooms: rooms.list() });
    }, false);

    on(ClientEvent.RoomList, null, (_req, ack) => ack({ ok: true, rooms: rooms.list() }));

    on(ClientEvent.RoomJoin, RoomJoinRequest, async (req, ack) => {
      const user = state.user!;
      const name = normalizeRoomName(req.room);
      if (!name.ok) return reject(ClientEvent.RoomJoin, ack, ServerError.Malformed, 'invalid room name');
      if (!state.rooms.has(name.key) && state.rooms.size >= limits.MAX_ROOMS_PER_SOCKET) {
        return reject(ClientEvent.RoomJoin, ack, ServerError.TooManyRooms, `at most ${limits.MAX_ROOMS_PER_SOCKET} rooms at once`);
      }
      const member: Member = { socketId: socket.id, username: user.username, publicKey: user.publicKey };
      const before = rooms.get(name.key);
      const displaced = before ? [...before.members.values()].filter((m) => m.username.toLowerCase() === user.key && m.socketId !== socket.id) : [];
      const outcome = rooms.join(name.key, name.name, member, {
        ...(req.joinToken ? { verifier: sha256B64u(req.joinToken) } : {}),
        create: req.create ?? false,
        equal: equalStrings,
      });
      if (!outcome.ok) {
        const messages = {
          'room-full': ['room-full', `this room is full (at most ${ROOM_MEMBERS_MAX} members)`],
          'bad-password': ['bad-password', 'wrong room password'],
          'room-is-open': ['room-is-open', 'this room has no password; join it without one'],
          'no-such-room': ['no-such-room', 'no room with that name; create it instead'],
        } as const;
        const [code, message] = messages[outcome.reason];
        return reject(ClientEvent.RoomJoin, ack, code, message);
      }
      for (const old of displaced) io.in(old.socketId).socketsLeave(roomChannel(name.key));
      state.rooms.add(name.key);
      await socket.join(roomChannel(name.key));
      ack({ ok: true, room: outcome.room.name, locked: outcome.room.verifier !== undefined, members: [...outcome.room.members.values()] });
      pushMembers(name.key);
      pushRooms();
    });

    on(ClientEvent.RoomLeave, RoomLeaveRequest, async (req, ack) => {
      const name = normalizeRoomName(req.room);
      if (!name.ok || !state.rooms.has(name.key)) return reject(ClientEvent.RoomLeave, ack, ServerError.NotInRoom, 'not in that room');
      leaveRoom(name.key);
      ack({ ok: true });
      pushRooms();
    });

    on(ClientEvent.Signal, SignalRequest, (req, ack) => {
      const name = normalizeRoomName(req.room);
      // NOTE: the server sets `from` itself and relays only between members of one room,
      // so a client can neither forge a sender nor reach sockets outside its rooms.
      if (!name.ok || !rooms.isMember(name.key, socket.id)) return reject(ClientEvent.Signal, ack, ServerError.NotInRoom, 'not in that room');
      if (req.to === socket.id || !rooms.isMember(name.key, req.to)) return reject(ClientEvent.Signal, ack, ServerError.UnknownPeer, 'that peer is not in the room');
      io.to(req.to).emit(ServerEvent.Signal, { room: rooms.get(name.key)!.name, from: socket.id, fromUser: state.user!.username, data: req.data });
      ack({ ok: true });
    });

    function leaveRoom(key: string) {
      state.rooms.delete(key);
      void socket.leave(roomChannel(key));
      if (rooms.leave(key, socket.id)) pushMembers(key);
    }

    function leaveAll() {
      for (const key of [...state.rooms]) leaveRoom(key);
    }

    socket.on('disconnect', () => {
      leaveAll();
      pushRooms();
      const n = (socketsPerAddress.get(state.address) ?? 1) - 1;
      if (n <= 0) socketsPerAddress.delete(state.address);
      else socketsPerAddress.set(state.address, n);
    });
  });

  await new Promise<void>((resolve) => http.listen(config.port, config.host, resolve));
  const port = (http.address() as AddressInfo).port;
  const shownHost = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  const url = `http://${shownHost}:${port}`;
  log.info({ url, staticDir: serveStatic ? config.staticDir : null }, 'signaling server listening');

  let closing: Promise<void> | null = null;
  return {
    http,
    io,
    url,
    port,
    metrics,
    close() {
      closing ??= (async () => {
        io.emit(ServerEvent.Notice, { kind: 'shutdown', message: 'The server is restarting; reconnecting shortly.' });
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, limits.SHUTDOWN_GRACE_MS);
          void io.close(() => {
            clearTimeout(timer);
            resolve();
          });
        });
        http.closeAllConnections?.();
        await registry.close();
      })();
      return closing;
    },
  };
}
