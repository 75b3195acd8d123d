import { afterEach, describe, expect, it } from 'vitest';
import { ClientEvent, ServerError } from '../../../signaling/src/protocol.ts';
import { nodeIdentity, SignalingTestClient } from '../../load/signaling-client.ts';
import { Cleanup, connect, loggedIn, startTestServer, type TestServer } from './helpers.ts';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function server(env: Record<string, string> = {}): Promise<TestServer> {
  return cleanup.add(await startTestServer({ env: { TRUST_PROXY: '1', ...env } }), (s) => s.stop());
}

/** A logged-in client that appears to come from `address` (the server trusts one proxy hop). */
async function from(s: TestServer, address: string, name: string) {
  const client = await connect(cleanup, s.url, { forwardedFor: address });
  const ack = await client.login(name, nodeIdentity());
  if (!ack.ok) throw new Error(`login failed: ${ack.error}`);
  return client;
}

describe('flood protection', () => {
  it('a flooding client is told, then disconnected; another client keeps working throughout', async () => {
    const s = await server();
    const flooder = await from(s, '10.0.0.66', 'Flooder');
    const an = await from(s, '10.0.0.1', 'An');
    const binh = await from(s, '10.0.0.2', 'Binh');
    await an.join('quiet room');
    await binh.join('quiet room', { create: false });
    await flooder.join('noisy room');

    // Fire far more events than the budget without waiting for answers.
    const answers: Promise<unknown>[] = [];
    for (let i = 0; i < 1000; i++) answers.push(flooder.request(ClientEvent.RoomList, undefined, 5_000).catch(() => 'no answer'));
    // Meanwhile An and Binh do ordinary round trips, and every one of them succeeds.
    const rounds = (async () => {
      for (let i = 0; i < 30; i++) {
        expect(await an.signal('quiet room', binh.id, { type: 'offer', sdp: `v=0 round ${i}` })).toEqual({ ok: true });
        expect(await binh.request(ClientEvent.RoomList)).toMatchObject({ ok: true });
      }
    })();
    await flooder.waitForDisconnect();
    await rounds;
    const settled = await Promise.all(answers);

    expect(settled.filter((a) => (a as { error?: string }).error === ServerError.RateLimited).length).toBeGreaterThan(0);
    expect(flooder.notices).toContainEqual({ kind: 'rate-limited', message: expect.stringContaining('Too many requests') });
    await binh.waitFor(() => binh.signals.length === 30, 'every relayed round');
    expect(binh.signals.map((x) => (x.data as { sdp: string }).sdp)).toEqual(Array.from({ length: 30 }, (_, i) => `v=0 round ${i}`));
    expect(s.metrics.rateLimitedClients).toBe(1);
    expect(s.metrics.rateLimited).toBeGreaterThanOrEqual(20);
    // The flooder's own room is gone with it; everyone else's is intact.
    expect((await an.request(ClientEvent.RoomList)) as unknown).toMatchObject({ rooms: [{ name: 'quiet room', members: 2 }] });
  });

  it('many sockets of one address share one budget', async () => {
    const s = await server({ RATE_ADDRESS_EVENTS_PER_SECOND: '25', RATE_SOCKET_BURST: '1000', RATE_LIMIT_STRIKES: '1000000' });
    const crowd = await Promise.all(Array.from({ length: 5 }, (_, i) => from(s, '10.0.0.9', `crowd${i}`)));
    const other = await from(s, '10.0.0.10', 'Other');
    // 5 sockets x 40 events: each socket is far under its own budget, the address is over its 100.
    const answers = await Promise.all(crowd.flatMap((c) => Array.from({ length: 40 }, () => c.request(ClientEvent.RoomList))));
    expect(answers.filter((a) => !a.ok && a.error === ServerError.RateLimited).length).toBeGreaterThan(0);
    // Another address is not affected.
    expect(await other.request(ClientEvent.RoomList)).toMatchObject({ ok: true });
  });

  it('sockets of a flooding address are told, then disconnected; other addresses and their rooms are unaffected', async () => {
    const s = await server({ RATE_ADDRESS_EVENTS_PER_SECOND: '25', RATE_SOCKET_BURST: '1000' });
    const crowd = await Promise.all(Array.from({ length: 4 }, (_, i) => from(s, '10.0.0.19', `swarm${i}`)));
    const an = await from(s, '10.0.0.20', 'Calm1');
    const binh = await from(s, '10.0.0.21', 'Calm2');
    await an.join('calm room');
    await binh.join('calm room', { create: false });
    // Each socket alone is far under its own budget; together they are far over the address's.
    for (const c of crowd) for (let i = 0; i < 200; i++) void c.request(ClientEvent.RoomList, undefined, 5_000).catch(() => undefined);
    const rounds = (async () => {
      for (let i = 0; i < 20; i++) expect(await an.signal('calm room', binh.id, { type: 'offer', sdp: `v=0 calm ${i}` })).toEqual({ ok: true });
    })();
    for (const c of crowd) await c.waitForDisconnect();
    await rounds;
    for (const c of crowd) expect(c.notices).toContainEqual({ kind: 'rate-limited', message: expect.stringContaining('Too many requests') });
    expect(s.metrics.rateLimitedClients).toBe(crowd.length);
    await binh.waitFor(() => binh.signals.length === 20, 'every relayed round');
    expect((await an.request(ClientEvent.RoomList)) as unknown).toMatchObject({ rooms: [{ name: 'calm room', members: 2 }] });
  });
});

describe('bounds', () => {
  it('at most M sockets per address; a closed one frees its place', async () => {
    const s = await server({ MAX_SOCKETS_PER_ADDRESS: '3' });
    const three = await Promise.all([1, 2, 3].map(() => connect(cleanup, s.url, { forwardedFor: '10.1.1.1' })));
    await expect(SignalingTestClient.connect(s.url, { forwardedFor: '10.1.1.1' })).rejects.toMatchObject({ message: ServerError.RateLimited });
    // Another address still gets in.
    await connect(cleanup, s.url, { forwardedFor: '10.1.1.2' });
    three[0]!.close();
    await expect.poll(async () => {
      try {
        (await SignalingTestClient.connect(s.url, { forwardedFor: '10.1.1.1' })).close();
        return 'connected';
      } catch {
        return 'refused';
      }
    }).toBe('connected');
    expect(s.metrics.rejected('connect', 'too-many-sockets')).toBeGreaterThanOrEqual(1);
  });

  it('a client cannot escape per-address limits by writing its own X-Forwarded-For entries', async () => {
    const s = await server({ MAX_SOCKETS_PER_ADDRESS: '2' });
    // The proxy appends the real address last; entries before it are the client's own words.
    await connect(cleanup, s.url, { forwardedFor: '1.2.3.4, 10.2.2.2' });
    await connect(cleanup, s.url, { forwardedFor: '5.6.7.8, 10.2.2.2' });
    await expect(SignalingTestClient.connect(s.url, { forwardedFor: '9.9.9.9, 10.2.2.2' })).rejects.toMatchObject({ message: ServerError.RateLimited });
  });

  it('new connections per address per minute are bounded', async () => {
    const s = await server({ RATE_ADDRESS_CONNECTS_PER_MINUTE: '4' });
    for (let i = 0; i < 4; i++) (await SignalingTestClient.connect(s.url, { forwardedFor: '10.3.3.3' })).close();
    await expect(SignalingTestClient.connect(s.url, { forwardedFor: '10.3.3.3' })).rejects.toMatchObject({ message: ServerError.RateLimited });
  });

  it('CORS_ORIGINS also bounds WebSocket connections: a page on another site cannot connect', async () => {
    const s = await server({ CORS_ORIGINS: 'https://chat.example' });
    await connect(cleanup, s.url, { headers: { origin: 'https://chat.example' } });
    await expect(SignalingTestClient.connect(s.url, { headers: { origin: 'https://evil.example' } })).rejects.toThrow();
    // Non-browser clients send no Origin; they can claim any, so refusing them would protect nothing.
    await connect(cleanup, s.url);
    expect(s.metrics.rejected('connect', 'origin')).toBe(1);
  });

  it('at most N rooms per socket', async () => {
    const s = await server({ MAX_ROOMS_PER_SOCKET: '2' });
    const an = await loggedIn(cleanup, s.url, 'An');
    expect((await an.join('one')).ok).toBe(true);
    expect((await an.join('two')).ok).toBe(true);
    expect(await an.join('three')).toMatchObject({ ok: false, error: ServerError.TooManyRooms });
    // Re-joining a room it is in is not a new room.
    expect((await an.join('two')).ok).toBe(true);
    await an.leave('one');
    expect((await an.join('three')).ok).toBe(true);
  });

  it('a room holds at most its member cap', async () => {
    const s = await server({ ROOM_MEMBERS_MAX: '2' });
    const a = await loggedIn(cleanup, s.url, 'A');
    const b = await loggedIn(cleanup, s.url, 'B');
    const c = await loggedIn(cleanup, s.url, 'C');
    await a.join('pair');
    expect((await b.join('pair', { create: false })).ok).toBe(true);
    expect(await c.join('pair', { create: false })).toMatchObject({ ok: false, error: ServerError.RoomFull, message: expect.stringContaining('2') });
  });

  it('a payload over the size cap closes that connection only', async () => {
    const s = await server();
    const big = await loggedIn(cleanup, s.url, 'Big');
    const small = await loggedIn(cleanup, s.url, 'Small');
    big.socket.emit(ClientEvent.Signal, { room: 'r', to: 'x', data: { type: 'offer', sdp: 'x'.repeat(100_000) } });
    await big.waitForDisconnect();
    expect(await small.request(ClientEvent.RoomList)).toMatchObject({ ok: true });
  });
});
