import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientEvent, ServerError } from '../../signaling/src/protocol.ts';
import { haveRedis, NO_REDIS_MESSAGE, RedisServer } from '../load/redis-server.ts';
import { ServerProcess } from '../load/server-process.ts';
import { SignalingTestClient, webCryptoIdentity, type Identity } from '../load/signaling-client.ts';

/**
 * Scale-out (TEST-CASES row 6): two server processes on different ports share one real
 * redis-server. Users on different processes find each other and relay signals; Redis
 * killed and restarted crashes neither process, both recover, and no username is lost.
 */

const clients: SignalingTestClient[] = [];
async function user(server: ServerProcess, name: string, identity: Identity): Promise<SignalingTestClient> {
  const client = await SignalingTestClient.connect(server.url);
  clients.push(client);
  const ack = await client.login(name, identity);
  if (!ack.ok) throw new Error(`login as ${name} on :${server.port} failed: ${ack.error}`);
  return client;
}

describe.skipIf(!haveRedis)(`two server processes on one Redis${haveRedis ? '' : ` (${NO_REDIS_MESSAGE})`}`, () => {
  let redis: RedisServer;
  let one: ServerProcess;
  let two: ServerProcess;

  beforeAll(async () => {
    // Persistent, as a deployment keeping its registry in Redis must run it.
    redis = await RedisServer.start({ persist: true });
    [one, two] = await Promise.all([ServerProcess.start({ REDIS_URL: redis.url }), ServerProcess.start({ REDIS_URL: redis.url })]);
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    await Promise.all([one?.stop('SIGKILL'), two?.stop('SIGKILL')]);
    await redis?.stop();
  });

  it('users on different processes share a room, relay signals, and survive Redis going down and back', async () => {
    const anKey = await webCryptoIdentity();
    const binhKey = await webCryptoIdentity();
    const an = await user(one, 'An', anKey);
    const binh = await user(two, 'Bình', binhKey);

    // The room made on process one is joinable from process two, and both see both.
    expect(await an.join('lớp 12A', { create: true })).toMatchObject({ ok: true });
    expect(await binh.join('lớp 12A', { create: false })).toMatchObject({ ok: true, members: [{}, {}] });
    await an.waitForRoster('lớp 12A', ['An', 'Bình']);
    await binh.waitForRoster('lớp 12A', ['An', 'Bình']);
    await binh.waitFor(() => binh.roomLists.some((l) => l.some((r) => r.name === 'lớp 12A' && r.members === 2)), 'room list push across processes');

    // Signals cross processes, with the sender set by the server the sender is on.
    expect(await an.signal('lớp 12A', binh.id, { type: 'offer', sdp: 'v=0 offer-from-an' })).toEqual({ ok: true });
    await binh.waitFor(() => binh.signals.length === 1, 'offer on process two');
    expect(binh.signals[0]).toEqual({ room: 'lớp 12A', from: an.id, fromUser: 'An', data: { type: 'offer', sdp: 'v=0 offer-from-an' } });
    expect(await binh.signal('lớp 12A', an.id, { type: 'answer', sdp: 'v=0 answer-from-binh' })).toEqual({ ok: true });
    await an.waitFor(() => an.signals.length === 1, 'answer on process one');
    expect(an.signals[0]).toMatchObject({ from: binh.id, fromUser: 'Bình' });

    // One registry: a name claimed on one process is taken on the other.
    const impostor = await SignalingTestClient.connect(two.url);
    clients.push(impostor);
    expect(await impostor.login('an', await webCryptoIdentity())).toMatchObject({ ok: false, error: ServerError.UsernameTaken });

    // Redis dies.
    await redis.kill();
    await expect.poll(() => one.health(), { timeout: 15_000 }).toBe(503);
    await expect.poll(() => two.health(), { timeout: 15_000 }).toBe(503);
    expect(await one.healthBody()).toMatchObject({ ok: false, redis: 'down' });
    expect(await an.request(ClientEvent.RoomJoin, { room: 'while down', create: true })).toMatchObject({ ok: false, error: ServerError.Unavailable });
    expect(await binh.signal('lớp 12A', an.id)).toMatchObject({ ok: false, error: ServerError.Unavailable });
    expect(one.running && two.running).toBe(true);

    // Redis comes back; both processes recover by themselves.
    await redis.restart();
    await expect.poll(() => one.health(), { timeout: 20_000 }).toBe(200);
    await expect.poll(() => two.health(), { timeout: 20_000 }).toBe(200);
    await expect.poll(async () => (await an.signal('lớp 12A', binh.id, { type: 'offer', sdp: 'v=0 again' })).ok, { timeout: 20_000 }).toBe(true);
    await binh.waitFor(() => binh.signals.some((s) => s.data.type === 'offer' && s.data.sdp === 'v=0 again'), 'relay after recovery');

    // No registry entry was lost: both names still belong to their keys, on either process.
    const anElsewhere = await SignalingTestClient.connect(two.url);
    clients.push(anElsewhere);
    expect(await anElsewhere.request(ClientEvent.AuthChallenge, { username: 'AN', publicKey: anKey.publicKey })).toMatchObject({ ok: true, registered: true });
    const binhElsewhere = await SignalingTestClient.connect(one.url);
    clients.push(binhElsewhere);
    expect(await binhElsewhere.login('Bình', binhKey)).toMatchObject({ ok: true, username: 'Bình' });
    expect(await binhElsewhere.login('An', await webCryptoIdentity())).toMatchObject({ ok: false, error: ServerError.UsernameTaken });
    expect(one.running && two.running).toBe(true);
  }, 120_000);

  it('members joining at once through both processes all end with the full roster', async () => {
    const names = Array.from({ length: 10 }, (_, i) => `Rush${i}`);
    const crowd = await Promise.all(names.map(async (n, i) => user(i % 2 ? two : one, n, await webCryptoIdentity())));
    expect((await crowd[0]!.join('rush hour')).ok).toBe(true);
    await Promise.all(crowd.slice(1).map((c) => c.join('rush hour', { create: false })));
    for (const c of crowd) {
      await c.waitFor(() => c.newestRoster('rush hour').length === names.length, 'everyone in the newest roster');
      expect(c.newestRoster('rush hour')).toEqual([...names].sort());
    }
    await Promise.all(crowd.map((c) => c.leave('rush hour')));
  });

  it('a crashed process\'s members leave the rooms; a stopped one says goodbye', async () => {
    const chi = await user(one, 'Chi', await webCryptoIdentity());
    const dung = await user(two, 'Dũng', await webCryptoIdentity());
    await chi.join('after crash');
    await dung.join('after crash', { create: false });
    await dung.waitForRoster('after crash', ['Chi', 'Dũng']);

    // Process one dies without a goodbye: process two sweeps its members once its heartbeat lapses.
    await one.stop('SIGKILL');
    await dung.waitForRoster('after crash', ['Dũng'], 45_000);

    // Process two is stopped politely: its client is told, and it exits cleanly in time.
    const exit = two.stop('SIGTERM');
    await dung.waitForDisconnect();
    expect(dung.notices).toContainEqual({ kind: 'shutdown', message: expect.any(String) });
    expect(await exit).toEqual({ code: 0, signal: null });
  }, 90_000);

  it('logs are JSON and carry no user content', () => {
    const logs = [...one.logs, ...two.logs];
    expect(logs.length).toBeGreaterThan(0);
    for (const record of [...one.records(), ...two.records()]) expect(record).not.toHaveProperty('raw');
    const text = logs.join('\n');
    for (const secret of ['An"', 'Bình', 'lớp 12A', 'offer-from-an', 'answer-from-binh', 'Chi"', 'Dũng', 'after crash']) expect(text).not.toContain(secret);
    // The outage and the recovery were reported.
    expect(text).toContain('redis is unreachable');
    expect(text).toContain('redis is back');
  });
});
