/**
 * Every bound the signaling server enforces, in one place, each with the reason for it.
 * The ones an operator may tune are defaults for `config.ts` (see `SignalingLimits`);
 * the rest are fixed because the protocol or the threat they answer does not change.
 */

// ---- operator-tunable defaults (environment names in config.ts) --------------------

/** Several tabs and devices behind one NAT are normal; thousands are an attack. */
export const MAX_SOCKETS_PER_ADDRESS = 64;
/** New connections one address may open per minute: a reconnect loop or a connect flood. */
export const ADDRESS_CONNECTS_PER_MINUTE = 300;
/** A person is in a handful of rooms; more from one socket is a scraper or a bug. */
export const MAX_ROOMS_PER_SOCKET = 32;
/** Events a socket may send per second on average (a join produces a burst of ICE candidates). */
export const SOCKET_EVENTS_PER_SECOND = 50;
/** Burst window for the per-socket budget above. */
export const SOCKET_EVENTS_BURST = 200;
/** All sockets of one address together. */
export const ADDRESS_EVENTS_PER_SECOND = 400;
/** Rate-limit violations tolerated before the socket is told and disconnected. */
export const RATE_LIMIT_STRIKES = 20;
/** Bound on how long shutdown waits for clients and Redis before closing anyway. */
export const SHUTDOWN_GRACE_MS = 5_000;

// ---- fixed ----------------------------------------------------------------------

/** Signaling payloads are small (an SDP is a few KB); Socket.IO's 1 MB default invites abuse. */
export const MAX_HTTP_BUFFER_BYTES = 64 * 1024;
/** A login challenge is answered within this, or must be requested again. */
export const CHALLENGE_TTL_MS = 60_000;
/** Registered usernames held by the registry before it refuses new ones (disk and memory bound). */
export const MAX_REGISTERED_USERS = 1_000_000;
/**
 * Rooms in one room-list push. The list goes to every logged-in socket, so its size times
 * the number of sockets is the cost of each push; the busiest rooms are listed and any
 * other room is still joined by typing its name.
 */
export const ROOM_LIST_MAX = 50;
/**
 * Room-list pushes are coalesced to at most one per interval (and skipped when nothing
 * changed): without it, N joins would cost N pushes to every socket, quadratic in load.
 */
export const ROOM_LIST_PUSH_MS = 1_000;

// ---- scaled mode (Redis) ------------------------------------------------------------

/** A Redis command not answered by then fails the request with 'unavailable' instead of hanging it. */
export const REDIS_COMMAND_TIMEOUT_MS = 2_000;
/** How long start-up waits for Redis before refusing to start. */
export const REDIS_CONNECT_TIMEOUT_MS = 10_000;
/** Longest wait between reconnect attempts to Redis. */
export const REDIS_RECONNECT_MAX_MS = 2_000;
/**
 * Cross-process messages queued while Redis is away. Beyond it they are dropped (a lost
 * signal is retried by the client) rather than growing memory without bound.
 */
export const REDIS_OFFLINE_QUEUE_MAX = 10_000;
/** Each process renews its liveness key this often... */
export const PROCESS_HEARTBEAT_MS = 5_000;
/**
 * ...and is presumed dead (its members are removed from every room) when the key is
 * older than this. Three missed beats, so a slow event loop is not mistaken for death.
 */
export const PROCESS_HEARTBEAT_TTL_MS = 15_000;
