import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../signaling/src/config.ts';
import { issueIceServers } from '../../../signaling/src/ice.ts';

describe('ICE servers and TURN REST credentials', () => {
  const now = Date.UTC(2025, 0, 1, 12, 0, 0);

  it('hands out STUN only when no TURN is configured', () => {
    const config = loadConfig({ STUN_URLS: 'stun:stun.example:3478,stun:stun2.example' });
    expect(issueIceServers(config, 'sock-1', now)).toEqual([{ urls: 'stun:stun.example:3478' }, { urls: 'stun:stun2.example' }]);
  });

  it('issues "expiry:user" with base64(HMAC-SHA1(secret, username)), as coturn use-auth-secret checks', () => {
    const config = loadConfig({ TURN_URLS: 'turn:turn.example:3478,turns:turn.example:5349', TURN_SECRET: 'north-wind', TURN_TTL_SECONDS: '600' });
    const servers = issueIceServers(config, 'sock-1', now);
    expect(servers).toHaveLength(1);
    const turn = servers[0]!;
    expect(turn.urls).toEqual(['turn:turn.example:3478', 'turns:turn.example:5349']);
    const expiry = now / 1000 + 600;
    expect(turn.username).toBe(`${expiry}:sock-1`);
    // The same computation coturn does: HMAC-SHA1 keyed with the shared secret, base64.
    expect(turn.credential).toBe(createHmac('sha1', 'north-wind').update(`${expiry}:sock-1`).digest('base64'));
    expect(Buffer.from(turn.credential!, 'base64')).toHaveLength(20);
  });

  it('credentials expire after the TTL and differ per user and per issue time', () => {
    const config = loadConfig({ TURN_URLS: 'turn:t:3478', TURN_SECRET: 's', TURN_TTL_SECONDS: '3600' });
    const [a] = issueIceServers(config, 'u1', now);
    const [b] = issueIceServers(config, 'u2', now);
    const [c] = issueIceServers(config, 'u1', now + 1000);
    const expiry = Number(a!.username!.split(':')[0]);
    // coturn refuses a username whose timestamp is in the past: valid for exactly the TTL.
    expect(expiry - now / 1000).toBe(3600);
    expect(Number(c!.username!.split(':')[0]) - expiry).toBe(1);
    expect(new Set([a!.credential, b!.credential, c!.credential]).size).toBe(3);
    // A different secret gives a credential coturn would refuse.
    const other = issueIceServers(loadConfig({ TURN_URLS: 'turn:t:3478', TURN_SECRET: 't' }), 'u1', now)[0]!;
    expect(other.credential).not.toBe(a!.credential);
  });

  it('the server puts TURN credentials in the login answer', async () => {
    const { startTestServer } = await import('../../support/server.ts');
    const { loggedIn, Cleanup } = await import('./helpers.ts');
    const server = await startTestServer({ env: { TURN_URLS: 'turn:127.0.0.1:3478', TURN_SECRET: 'k', STUN_URLS: 'stun:127.0.0.1:3478' } });
    const cleanup = new Cleanup();
    try {
      const client = await loggedIn(cleanup, server.url, 'Turner');
      const proved = await client.login('Turner', client.identity);
      expect(proved).toMatchObject({ ok: true, iceServers: [{ urls: 'stun:127.0.0.1:3478' }, { urls: ['turn:127.0.0.1:3478'] }] });
      const turn = (proved as unknown as { iceServers: { username: string; credential: string }[] }).iceServers[1]!;
      // The TURN username names the socket, never the chat user (STUN is not encrypted).
      expect(turn.username).toMatch(new RegExp(`^\\d+:${client.id}$`));
      expect(turn.username).not.toContain('Turner');
      expect(turn.credential).toBe(createHmac('sha1', 'k').update(turn.username).digest('base64'));
    } finally {
      await cleanup.run();
      await server.stop();
    }
  });
});
