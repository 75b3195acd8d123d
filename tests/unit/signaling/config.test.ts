import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, redactUrl } from '../../../signaling/src/config.ts';
import * as limits from '../../../signaling/src/limits.ts';
import { ROOM_MEMBERS_MAX } from '../../../signaling/src/protocol.ts';

describe('configuration from the environment', () => {
  it('has embedded defaults for a one-command start', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ port: 8080, host: '0.0.0.0', corsOrigins: '*', logLevel: 'info', redisUrl: null, turnSecret: null, trustProxy: 0, iceServers: [] });
    expect(c.limits).toEqual({
      maxSocketsPerAddress: limits.MAX_SOCKETS_PER_ADDRESS,
      addressConnectsPerMinute: limits.ADDRESS_CONNECTS_PER_MINUTE,
      maxRoomsPerSocket: limits.MAX_ROOMS_PER_SOCKET,
      roomMembersMax: ROOM_MEMBERS_MAX,
      socketEventsPerSecond: limits.SOCKET_EVENTS_PER_SECOND,
      socketEventsBurst: limits.SOCKET_EVENTS_BURST,
      addressEventsPerSecond: limits.ADDRESS_EVENTS_PER_SECOND,
      rateLimitStrikes: limits.RATE_LIMIT_STRIKES,
      shutdownGraceMs: limits.SHUTDOWN_GRACE_MS,
    });
    expect(c.dataDir).toMatch(/data$/);
  });

  it('reads every documented variable', () => {
    const c = loadConfig({
      PORT: '9000',
      HOST: '127.0.0.1',
      CORS_ORIGINS: 'https://chat.example, https://www.chat.example',
      DATA_DIR: '/var/lib/chat',
      STATIC_DIR: '',
      LOG_LEVEL: 'warn',
      REDIS_URL: 'redis://:pw@redis:6379/0',
      STUN_URLS: 'stun:stun.example:3478',
      TURN_URLS: 'turn:turn.example:3478?transport=udp,turns:turn.example:5349',
      TURN_SECRET: 's3cret',
      TURN_TTL_SECONDS: '600',
      TRUST_PROXY: '1',
      MAX_SOCKETS_PER_ADDRESS: '10',
      RATE_ADDRESS_CONNECTS_PER_MINUTE: '30',
      MAX_ROOMS_PER_SOCKET: '4',
      ROOM_MEMBERS_MAX: '8',
      RATE_SOCKET_EVENTS_PER_SECOND: '20',
      RATE_SOCKET_BURST: '40',
      RATE_ADDRESS_EVENTS_PER_SECOND: '100',
      RATE_LIMIT_STRIKES: '5',
      SHUTDOWN_GRACE_MS: '2000',
    });
    expect(c).toMatchObject({
      port: 9000,
      host: '127.0.0.1',
      corsOrigins: ['https://chat.example', 'https://www.chat.example'],
      dataDir: '/var/lib/chat',
      staticDir: null,
      logLevel: 'warn',
      redisUrl: 'redis://:pw@redis:6379/0',
      iceServers: [{ urls: 'stun:stun.example:3478' }],
      turnUrls: ['turn:turn.example:3478?transport=udp', 'turns:turn.example:5349'],
      turnSecret: 's3cret',
      turnTtlSeconds: 600,
      trustProxy: 1,
      limits: {
        maxSocketsPerAddress: 10,
        addressConnectsPerMinute: 30,
        maxRoomsPerSocket: 4,
        roomMembersMax: 8,
        socketEventsPerSecond: 20,
        socketEventsBurst: 40,
        addressEventsPerSecond: 100,
        rateLimitStrikes: 5,
        shutdownGraceMs: 2000,
      },
    });
  });

  it('is pure: the same environment gives the same configuration', () => {
    const env = { PORT: '1234', STUN_URLS: 'stun:a' };
    expect(loadConfig(env)).toEqual(loadConfig({ ...env }));
  });

  it('names every bad variable at once instead of starting with a surprise', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: 'eighty', ROOM_MEMBERS_MAX: String(ROOM_MEMBERS_MAX + 1), LOG_LEVEL: 'loud', TURN_SECRET: 'x', REDIS_URL: 'http://redis', STUN_URLS: 'turn:x' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    for (const name of ['PORT', 'ROOM_MEMBERS_MAX', 'LOG_LEVEL', 'TURN_SECRET is set but TURN_URLS is empty', 'REDIS_URL', 'STUN_URLS']) expect(problems).toContain(name);
  });

  it('refuses TURN URLs without a secret (an open relay) and fractional limits', () => {
    expect(() => loadConfig({ TURN_URLS: 'turn:t:3478' })).toThrow(/TURN_SECRET is empty/);
    expect(() => loadConfig({ MAX_SOCKETS_PER_ADDRESS: '1.5' })).toThrow(/MAX_SOCKETS_PER_ADDRESS/);
    expect(() => loadConfig({ MAX_SOCKETS_PER_ADDRESS: '0' })).toThrow(/MAX_SOCKETS_PER_ADDRESS/);
  });

  it('relays only when asked, and only with a TURN server to relay through', () => {
    expect(loadConfig({}).relayOnly).toBe(false);
    expect(() => loadConfig({ RELAY_ONLY: '1' })).toThrow(/RELAY_ONLY needs a TURN server/);
    expect(loadConfig({ RELAY_ONLY: 'true', TURN_URLS: 'turn:t:3478', TURN_SECRET: 's' }).relayOnly).toBe(true);
  });

  it('never prints a Redis password', () => {
    expect(redactUrl('redis://user:hunter2@redis:6379')).not.toContain('hunter2');
    expect(redactUrl('redis://redis:6379')).toBe('redis://redis:6379');
  });
});
