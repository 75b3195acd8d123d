import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IceServer } from './protocol.ts';
import { ROOM_MEMBERS_MAX } from './protocol.ts';
import * as limits from './limits.ts';

/** The bounds an operator may tune; defaults and reasons are in limits.ts. */
export interface SignalingLimits {
  maxSocketsPerAddress: number;
  addressConnectsPerMinute: number;
  maxRoomsPerSocket: number;
  /** At most the protocol's ROOM_MEMBERS_MAX (the client's full mesh is sized for it). */
  roomMembersMax: number;
  socketEventsPerSecond: number;
  socketEventsBurst: number;
  addressEventsPerSecond: number;
  rateLimitStrikes: number;
  shutdownGraceMs: number;
}

/** Everything an operator can set, read from the environment with embedded defaults. */
export interface ServerConfig {
  port: number;
  host: string;
  /** Allowed origins for CORS; '*' when the client is served from anywhere. */
  corsOrigins: string[] | '*';
  dataDir: string;
  /** Built client to serve; null to serve nothing but the API. */
  staticDir: string | null;
  logLevel: string;
  /** STUN servers handed to every client. */
  iceServers: IceServer[];
  /** Seconds a TURN credential is valid (TURN REST API convention). */
  turnTtlSeconds: number;
  turnSecret: string | null;
  turnUrls: string[];
  /**
   * Clients connect through TURN only (RTCPeerConnection iceTransportPolicy 'relay'):
   * members then never learn each other's IP addresses, at the cost of relaying every byte.
   */
  relayOnly: boolean;
  redisUrl: string | null;
  /**
   * Reverse proxies in front of the server whose X-Forwarded-For entries are trusted
   * (0 = use the TCP peer address). Per-address limits need the real client address.
   */
  trustProxy: number;
  limits: SignalingLimits;
}

/** A configuration problem, with every bad variable named so the operator fixes them in one go. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function list(value: string | undefined): string[] {
  return (value ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

/**
 * Reads the configuration from `env` (pure: no I/O, same input gives the same output).
 * Throws a ConfigError naming every invalid variable.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const problems: string[] = [];
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name]?.trim();
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${name}=${JSON.stringify(raw)}: expected a whole number from ${min} to ${max}`);
      return fallback;
    }
    return n;
  };
  const urls = (name: string, schemes: string[]): string[] => {
    const values = list(env[name]);
    for (const u of values) {
      if (!schemes.some((s) => u.startsWith(`${s}:`))) problems.push(`${name}: "${u}" must start with ${schemes.map((s) => `${s}:`).join(' or ')}`);
    }
    return values;
  };

  const origins = list(env.CORS_ORIGINS);
  const logLevel = env.LOG_LEVEL?.trim() || 'info';
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL="${logLevel}": expected one of ${LOG_LEVELS.join(', ')}`);

  const stunUrls = urls('STUN_URLS', ['stun', 'stuns']);
  const turnUrls = urls('TURN_URLS', ['turn', 'turns']);
  const turnSecret = env.TURN_SECRET || null;
  // NOTE: a TURN server without credentials is an open relay for anyone; one without
  // URLs makes the secret useless. Either half alone is a mistake worth refusing.
  if (turnSecret && turnUrls.length === 0) problems.push('TURN_SECRET is set but TURN_URLS is empty');
  if (!turnSecret && turnUrls.length > 0) problems.push('TURN_URLS is set but TURN_SECRET is empty (coturn use-auth-secret needs it)');

  const relayOnly = ['1', 'true', 'yes'].includes((env.RELAY_ONLY ?? '').trim().toLowerCase());
  if (relayOnly && !turnSecret) problems.push('RELAY_ONLY needs a TURN server: set TURN_URLS and TURN_SECRET');

  const redisUrl = env.REDIS_URL?.trim() || null;
  if (redisUrl && !/^rediss?:\/\//.test(redisUrl)) problems.push('REDIS_URL must start with redis:// or rediss://');

  const config: ServerConfig = {
    port: int('PORT', 8080, 0, 65_535),
    host: env.HOST?.trim() || '0.0.0.0',
    corsOrigins: origins.length === 0 || origins.includes('*') ? '*' : origins,
    dataDir: resolve(env.DATA_DIR || resolve(repoRoot, 'data')),
    staticDir: env.STATIC_DIR === '' ? null : resolve(env.STATIC_DIR ?? resolve(repoRoot, 'client/dist')),
    logLevel,
    iceServers: stunUrls.map((u) => ({ urls: u })),
    turnTtlSeconds: int('TURN_TTL_SECONDS', 3600, 60, 7 * 24 * 3600),
    turnSecret,
    turnUrls,
    relayOnly,
    redisUrl,
    trustProxy: int('TRUST_PROXY', 0, 0, 10),
    limits: {
      maxSocketsPerAddress: int('MAX_SOCKETS_PER_ADDRESS', limits.MAX_SOCKETS_PER_ADDRESS, 1, 1_000_000),
      addressConnectsPerMinute: int('RATE_ADDRESS_CONNECTS_PER_MINUTE', limits.ADDRESS_CONNECTS_PER_MINUTE, 1, 10_000_000),
      maxRoomsPerSocket: int('MAX_ROOMS_PER_SOCKET', limits.MAX_ROOMS_PER_SOCKET, 1, 1_000),
      roomMembersMax: int('ROOM_MEMBERS_MAX', ROOM_MEMBERS_MAX, 2, ROOM_MEMBERS_MAX),
      socketEventsPerSecond: int('RATE_SOCKET_EVENTS_PER_SECOND', limits.SOCKET_EVENTS_PER_SECOND, 1, 1_000_000),
      socketEventsBurst: int('RATE_SOCKET_BURST', limits.SOCKET_EVENTS_BURST, 1, 10_000_000),
      addressEventsPerSecond: int('RATE_ADDRESS_EVENTS_PER_SECOND', limits.ADDRESS_EVENTS_PER_SECOND, 1, 10_000_000),
      rateLimitStrikes: int('RATE_LIMIT_STRIKES', limits.RATE_LIMIT_STRIKES, 1, 1_000_000),
      shutdownGraceMs: int('SHUTDOWN_GRACE_MS', limits.SHUTDOWN_GRACE_MS, 0, 120_000),
    },
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** The Redis URL with any password replaced, for logs and errors. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}
