import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import sirv from 'sirv';
import { Server, type Socket } from 'socket.io';
import { createAdapter } from '@socket.io/redis-streams-adapter';
import { AddressCounter, clientAddress } from './address.ts';
import { Announcer, roomChannel } from './announce.ts';
import { redactUrl, type ServerConfig } from './config.ts';
import { SignalingHandlers, type SocketState } from './connection.ts';
import * as limits from './limits.ts';
import { createLogger, type Logger } from './log.ts';
import { Metrics } from './metrics.ts';
import { ConnectAuth, parse, PROTOCOL_VERSION, ServerError, ServerEvent } from './protocol.ts';
import { RateLimits } from './rate-limits.ts';
import { RedisLink, withTimeout } from './redis.ts';
import { RedisRegistry } from './redis-registry.ts';
import { RedisRoomDirectory, type LocalMembership } from './redis-rooms.ts';
import { FileRegistry, type UsernameRegistry } from './registry.ts';
import { MemoryRoomDirectory, type RoomDirectory } from './rooms.ts';

export interface SignalingServer {
  http: HttpServer;
  io: Server;
  url: string;
  port: number;
  metrics: Metrics;
  /** Unique per start; names this process in the Redis room directory and in logs. */
  processId: string;
  /** Stops accepting, tells every client, leaves the shared directory and closes, within SHUTDOWN_GRACE_MS. */
  close(): Promise<void>;
}

export interface StartOptions {
  /** Defaults: the file registry under DATA_DIR, or Redis when REDIS_URL is set. */
  registry?: UsernameRegistry;
  /** Defaults: in memory, or Redis when REDIS_URL is set. */
  rooms?: RoomDirectory;
  logger?: Logger;
}

interface Health {
  ok: boolean;
  version: number;
  redis?: 'up' | 'down';
  stopping?: true;
}

/**
 * Starts the signaling server: HTTP (health, metrics, the built client) and Socket.IO
 * on one port. Embedded by default (rooms in memory, usernames in a file); with
 * REDIS_URL, several processes share the registry, the room directory, the rate limits
 * and Socket.IO broadcasts through Redis.
 */
export async function startSignalingServer(config: ServerConfig, options: StartOptions = {}): Promise<SignalingServer> {
  const log = options.logger ?? createLogger(config.logLevel);
  const processId = `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
  const metrics = new Metrics();
  const sockets = new Map<string, SocketState>();
  const addresses = new AddressCounter();
  let stopping = false;

  const redis = config.redisUrl ? await RedisLink.connect(config.redisUrl, log) : null;
  let redisRooms: RedisRoomDirectory | null = null;
  // Rooms changed behind the handlers' back (a dead process swept, a reconcile) are
  // announced once the announcer exists.
  let roomsChangedElsewhere: (keys: string[]) => void = () => undefined;
  const registry = options.registry ?? (redis ? new RedisRegistry(redis.data) : await FileRegistry.open(config.dataDir));
  let rooms: RoomDirectory;
  if (options.rooms) rooms = options.rooms;
  else if (redis) {
    redisRooms = new RedisRoomDirectory(redis.data, {
      processId,
      maxMembers: config.limits.roomMembersMax,
      log,
      localMemberships: () => localMemberships(sockets),
      onRoomsChanged: (keys) => roomsChangedElsewhere(keys),
    });
    rooms = redisRooms;
  } else rooms = new MemoryRoomDirectory(config.limits.roomMembersMax);
  const rateLimits = new RateLimits(config.limits, log, redis?.data ?? null);

  const serveStatic = config.staticDir && existsSync(config.staticDir) ? sirv(config.staticDir, { single: true, etag: true }) : null;
  const health = async (): Promise<Health> => {
    const h: Health = { ok: !stopping, version: PROTOCOL_VERSION };
    if (stopping) h.stopping = true;
    if (redis) {
      const up = await redis.ping();
      metrics.redisUp = up ? 1 : 0;
      h.redis = up ? 'up' : 'down';
      if (!up) h.ok = false;
    }
    return h;
  };
  const http = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      void health().then((h) => res.writeHead(h.ok ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(h)));
      return;
    }
    if (path === '/metrics') {
      void refreshGauges().then(() => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(metrics.render()));
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
    // WebSocket only: no long-polling, so no sticky sessions behind a load balancer, and
    // no HTTP request per message to rate-limit separately.
    transports: ['websocket'],
    // NOTE: connectionStateRecovery stays off: a reconnection must log in again.
    // CORS does not cover WebSocket upgrades, so the allowed origins are checked here too:
    // otherwise any web page could drive this server from its visitors' browsers.
    allowRequest: (req, callback) => {
      const origin = req.headers.origin;
      const allowed = config.corsOrigins === '*' || origin === undefined || config.corsOrigins.includes(origin);
      if (!allowed) metrics.reject('connect', 'origin');
      callback(allowed ? null : 'origin not allowed', allowed);
    },
    ...(redis ? { adapter: createAdapter(redis.adapter) } : {}),
  });
  const announce = new Announcer(io, rooms, log, { listMax: limits.ROOM_LIST_MAX, intervalMs: limits.ROOM_LIST_PUSH_MS });
  roomsChangedElsewhere = (keys) => void announce.refresh(keys);

  const refreshGauges = async () => {
    metrics.sockets = io.engine.clientsCount;
    try {
      metrics.rooms = await rooms.count();
    } catch {
      // Redis away: keep the last known count rather than fail the scrape.
    }
    if (redis) metrics.redisUp = redis.up ? 1 : 0;
  };

  // Count connections per address at the transport, where every close is observed. One
  // shared close listener (the engine calls it with the connection as `this`), not a
  // closure per connection.
  type RawConnection = { request: IncomingMessage; on(ev: 'close', cb: (this: RawConnection) => void): void };
  const onRawClose = function (this: RawConnection) {
    addresses.remove(clientAddress(this.request, config.trustProxy));
  };
  io.engine.on('connection', (raw: RawConnection) => {
    addresses.add(clientAddress(raw.request, config.trustProxy));
    raw.on('close', onRawClose);
  });

  io.use((socket, next) => {
    const refuse = (reason: string, error: ServerError, message: string) => {
      metrics.reject('connect', reason);
      const err = new Error(error) as Error & { data?: unknown };
      err.data = { message };
      next(err);
    };
    const auth = parse(ConnectAuth, socket.handshake.auth);
    if (!auth.ok || auth.value.v !== PROTOCOL_VERSION) {
      return refuse('version', ServerError.Version, `This server speaks protocol version ${PROTOCOL_VERSION}; reload the page to update the app.`);
    }
    if (stopping) return refuse('stopping', ServerError.Unavailable, 'The server is restarting; reconnecting shortly.');
    const address = clientAddress(socket.request, config.trustProxy);
    // The transport already counted this connection, hence '>'.
    if (addresses.count(address) > config.limits.maxSocketsPerAddress) {
      return refuse('too-many-sockets', ServerError.RateLimited, 'Too many connections from your network; close some tabs.');
    }
    void rateLimits.connect(address).then((ok) => {
      if (ok) next();
      else refuse('connect-rate', ServerError.RateLimited, 'Too many new connections from your network; wait a minute.');
    });
  });

  const handlers = new SignalingHandlers({ io, config, registry, rooms, announce, rateLimits, metrics, log, sockets });
  io.on('connection', (socket: Socket) => handlers.attach(socket, clientAddress(socket.request, config.trustProxy)));

  try {
    if (redis && redisRooms) {
      const directory = redisRooms;
      await directory.start();
      redis.onReconnect(() => directory.redisReconnected());
      void warnIfRedisForgets(redis, log);
    }
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(config.port, config.host, () => {
        http.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    announce.close();
    io.close();
    await rooms.close();
    await registry.close();
    await redis?.close();
    throw e;
  }
  const port = (http.address() as AddressInfo).port;
  const shownHost = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  const url = `http://${shownHost}:${port}`;
  log.info(
    { url, processId, staticDir: serveStatic ? config.staticDir : null, redis: config.redisUrl ? redactUrl(config.redisUrl) : null, turn: config.turnUrls.length > 0 },
    'signaling server listening',
  );

  let closing: Promise<void> | null = null;
  const shutdown = async () => {
    stopping = true;
    announce.close();
    // Only this process's clients: in scaled mode `io.emit` would reach every process's.
    io.local.emit(ServerEvent.Notice, { kind: 'shutdown', message: 'The server is restarting; reconnecting shortly.' });
    io.local.disconnectSockets(true);
    // Each socket's queued work ends with leaving its rooms; wait for it while Redis and
    // the adapter still carry the roster updates to other processes.
    await Promise.allSettled([...sockets.values()].map((s) => s.queue ?? Promise.resolve()));
    await new Promise<void>((resolve) => void io.close(() => resolve()));
    http.closeAllConnections?.();
    await rooms.close();
    await registry.close();
  };
  return {
    http,
    io,
    url,
    port,
    metrics,
    processId,
    close() {
      closing ??= (async () => {
        log.info({ processId }, 'shutting down');
        try {
          await withTimeout(shutdown(), config.limits.shutdownGraceMs);
        } catch (e) {
          log.warn({ err: (e as Error).message }, 'shutdown did not finish in time; closing anyway');
          http.closeAllConnections?.();
        }
        await redis?.close();
        log.info({ processId }, 'stopped');
      })();
      return closing;
    },
  };
}

/** Memberships of this process's sockets, for reconciling the shared directory. */
function localMemberships(sockets: Map<string, SocketState>): LocalMembership[] {
  const out: LocalMembership[] = [];
  for (const s of sockets.values()) {
    if (!s.user || !s.socket.connected) continue;
    for (const [key, room] of s.rooms) {
      // A socket that another tab of the same user displaced has left the channel.
      if (!s.socket.rooms.has(roomChannel(key))) continue;
      out.push({
        key,
        name: room.name,
        ...(room.verifier ? { verifier: room.verifier } : {}),
        ...(room.unlisted ? { unlisted: true as const } : {}),
        userKey: s.user.key,
        member: { socketId: s.socket.id, username: s.user.username, publicKey: s.user.publicKey },
      });
    }
  }
  return out;
}

/** The registry lives in Redis: a Redis that does not persist forgets every username when it restarts. */
async function warnIfRedisForgets(redis: RedisLink, log: Logger): Promise<void> {
  try {
    const reply = await redis.data.sendCommand(['CONFIG', 'GET', 'appendonly']);
    const values = Array.isArray(reply) ? reply.map(String) : typeof reply === 'object' && reply ? Object.values(reply).map(String) : [];
    const save = await redis.data.sendCommand(['CONFIG', 'GET', 'save']);
    const saveValues = Array.isArray(save) ? save.map(String) : typeof save === 'object' && save ? Object.values(save).map(String) : [];
    if (!values.includes('yes') && (saveValues[1] ?? saveValues[0] ?? '') === '') {
      log.warn('Redis persists nothing (no appendonly, no save): a Redis restart would forget every registered username');
    }
  } catch {
    // Managed Redis often forbids CONFIG; nothing to check then.
  }
}
