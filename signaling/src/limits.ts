/**
 * Every bound the signaling server enforces, in one place, each with the reason for it.
 * Operators can override the ones exposed in config.ts through the environment.
 */

/** Signaling payloads are small (an SDP is a few KB); Socket.IO's 1 MB default invites abuse. */
export const MAX_HTTP_BUFFER_BYTES = 64 * 1024;
/** A person is in a handful of rooms; more from one socket is a scraper or a bug. */
export const MAX_ROOMS_PER_SOCKET = 32;
/** Several tabs and devices behind one NAT are normal; thousands are an attack. */
export const MAX_SOCKETS_PER_ADDRESS = 64;
/** Events a socket may send per second on average (a join produces a burst of ICE candidates). */
export const SOCKET_EVENTS_PER_SECOND = 50;
/** Burst window for the per-socket budget above. */
export const SOCKET_EVENTS_BURST = 200;
/** All sockets of one address together. */
export const ADDRESS_EVENTS_PER_SECOND = 400;
/** Rate-limit violations tolerated before the socket is told and disconnected. */
export const RATE_LIMIT_STRIKES = 20;
/** A login challenge is answered within this, or must be requested again. */
export const CHALLENGE_TTL_MS = 60_000;
/** Bound on how long shutdown waits for clients before closing anyway. */
export const SHUTDOWN_GRACE_MS = 5_000;
/** Registered usernames held by the embedded file registry before it refuses new ones. */
export const MAX_REGISTERED_USERS = 1_000_000;
