import { afterEach, describe, expect, it } from 'vitest';
import { ClientEvent, ServerError } from '../../../signaling/src/protocol.ts';
import { haveRedis, NO_REDIS_MESSAGE, RedisServer } from '../../load/redis-server.ts';
import { Cleanup, loggedIn, startTestServer, type TestServer } from './helpers.ts';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function health(s: TestServer): Promise<{ status: number; body: { ok: boolean; redis?: string } }> {
  const res = await fetch(`${s.url}/healthz`);
  return { status: res.status, body: (await res.json()) as { ok: boolean; redis?: string } };
}

describe.skipIf(!haveRedis)(`Redis down and back, one process${haveRedis ? '' : ` (${NO_REDIS_MESSAGE})`}`, () => {
  it('answers "unavailable" while Redis is down, reports it in /healthz, and recovers with no registry entry lost', async () => {
    const redis = cleanup.add(await RedisServer.start({ persist: true }), (r) => r.stop());
    const s = cleanup.add(await startTestServer({ env: { REDIS_URL: redis.url } }), (x) => x.stop());
    expect(await health(s)).toEqual({ status: 200, body: { ok: true, version: 1, redis: 'up' } });

    const an = await loggedIn(cleanup, s.url, 'An');
    const binh = await loggedIn(cleanup, s.url, 'Binh');
    const chi = await loggedIn(cleanup, s.url, 'Chi');
    await an.join('lop');
    await binh.join('lop', { create: false });
    await chi.join('lop', { create: false });
    await an.waitForRoster('lop', ['An', 'Binh', 'Chi']);

    await redis.kill();
    await expect.poll(async () => (await health(s)).status).toBe(503);
    expect((await health(s)).body).toMatchObject({ ok: false, redis: 'down' });
    // Everything that needs Redis is refused clearly, and quickly, not left hanging.
    expect(await an.request(ClientEvent.RoomJoin, { room: 'other', create: true })).toMatchObject({ ok: false, error: ServerError.Unavailable });
    expect(await an.signal('lop', binh.id)).toMatchObject({ ok: false, error: ServerError.Unavailable });
    const newcomer = await loggedIn(cleanup, s.url, 'Dung').catch((e: Error) => e);
    expect(String(newcomer)).toContain(ServerError.Unavailable);
    // Chi leaves while Redis cannot hear it.
    chi.close();
    expect((await fetch(`${s.url}/metrics`).then((r) => r.text()))).toMatch(/^chat_redis_up 0$/m);

    await redis.restart();
    await expect.poll(async () => (await health(s)).status, { timeout: 15_000 }).toBe(200);
    // The process reconciles: Chi's stale seat is removed and the roster pushed.
    await an.waitForRoster('lop', ['An', 'Binh'], 20_000);
    expect(await an.signal('lop', binh.id)).toEqual({ ok: true });
    // No registry entry was lost: An's name is still An's key, and nobody else's.
    const impostor = await loggedIn(cleanup, s.url, 'An').catch((e: Error) => e);
    expect(String(impostor)).toContain(ServerError.UsernameTaken);
    const anAgain = await loggedIn(cleanup, s.url, 'An', an.identity);
    expect(anAgain.socket.connected).toBe(true);
  });

  it('a Redis that restarts empty gets the rooms of connected members back', async () => {
    const redis = cleanup.add(await RedisServer.start(), (r) => r.stop());
    const s = cleanup.add(await startTestServer({ env: { REDIS_URL: redis.url } }), (x) => x.stop());
    const an = await loggedIn(cleanup, s.url, 'An');
    const binh = await loggedIn(cleanup, s.url, 'Binh');
    await an.join('kept', { joinToken: 'dG9rZW4' });
    await binh.join('kept', { create: false, joinToken: 'dG9rZW4' });

    await redis.kill();
    await redis.restart(); // no persistence: everything in it is gone
    await expect.poll(async () => (await an.request(ClientEvent.RoomList)) as unknown, { timeout: 20_000 }).toMatchObject({
      ok: true,
      rooms: [{ name: 'kept', members: 2, locked: true }],
    });
    expect(await an.signal('kept', binh.id)).toEqual({ ok: true });
    // The password verifier came back with the room.
    const mallory = await loggedIn(cleanup, s.url, 'Mallory');
    expect(await mallory.join('kept', { create: false })).toMatchObject({ ok: false, error: ServerError.BadPassword });
  });
});
