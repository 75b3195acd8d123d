import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ClientEvent, ServerError } from '../../../signaling/src/protocol.ts';
import { nodeIdentity, SignalingTestClient } from '../../load/signaling-client.ts';
import { Cleanup, connect, loggedIn, startTestServer, type TestServer } from './helpers.ts';

describe('signal relay', () => {
  let server: TestServer;
  const cleanup = new Cleanup();
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterEach(() => cleanup.run());
  afterAll(() => server?.stop());

  it('relays between members of one room with the sender set by the server', async () => {
    const an = await loggedIn(cleanup, server.url, 'An');
    const binh = await loggedIn(cleanup, server.url, 'Binh');
    expect((await an.join('lop 12a')).ok).toBe(true);
    expect((await binh.join('lop 12a', { create: false })).ok).toBe(true);
    await an.waitForRoster('lop 12a', ['An', 'Binh']);

    expect(await an.signal('lop 12a', binh.id, { type: 'offer', sdp: 'v=0 hello' })).toEqual({ ok: true });
    await binh.waitFor(() => binh.signals.length === 1, 'a relayed signal');
    expect(binh.signals[0]).toEqual({ room: 'lop 12a', from: an.id, fromUser: 'An', data: { type: 'offer', sdp: 'v=0 hello' } });
  });

  it('members joining at once all end with the full roster (the newest version wins)', async () => {
    const names = Array.from({ length: 8 }, (_, i) => `Crowd${i}`);
    const clients = await Promise.all(names.map((n) => loggedIn(cleanup, server.url, n)));
    await Promise.all(clients.map((c) => c.join('rush hour')));
    for (const c of clients) {
      await c.waitFor(() => c.newestRoster('rush hour').length === names.length, 'everyone in the newest roster');
      expect(c.newestRoster('rush hour')).toEqual([...names].sort());
    }
  });

  it('refuses a forged sender: extra fields are malformed and nothing is relayed', async () => {
    const an = await loggedIn(cleanup, server.url, 'Forger');
    const binh = await loggedIn(cleanup, server.url, 'Victim');
    await an.join('forge room');
    await binh.join('forge room', { create: false });
    const ack = await an.request(ClientEvent.Signal, { room: 'forge room', to: binh.id, from: 'someone-else', fromUser: 'Admin', data: { type: 'offer', sdp: 'x' } });
    expect(ack).toMatchObject({ ok: false, error: ServerError.Malformed });
    // A signal whose data smuggles a sender is malformed too.
    const ack2 = await an.request(ClientEvent.Signal, { room: 'forge room', to: binh.id, data: { type: 'offer', sdp: 'x', from: 'x' } });
    expect(ack2).toMatchObject({ ok: false, error: ServerError.Malformed });
    expect((await an.signal('forge room', binh.id)).ok).toBe(true);
    await binh.waitFor(() => binh.signals.length === 1, 'the one good signal');
    expect(binh.signals.every((s) => s.from === an.id && s.fromUser === 'Forger')).toBe(true);
  });

  it('refuses to relay to a socket outside the room, to itself, or from outside the room', async () => {
    const an = await loggedIn(cleanup, server.url, 'Insider');
    const stranger = await loggedIn(cleanup, server.url, 'Stranger');
    await an.join('closed circle');
    await stranger.join('elsewhere');

    expect(await an.signal('closed circle', stranger.id)).toMatchObject({ ok: false, error: ServerError.UnknownPeer });
    expect(await an.signal('closed circle', an.id)).toMatchObject({ ok: false, error: ServerError.UnknownPeer });
    expect(await an.signal('closed circle', 'lobby')).toMatchObject({ ok: false, error: ServerError.UnknownPeer });
    expect(await stranger.signal('closed circle', an.id)).toMatchObject({ ok: false, error: ServerError.NotInRoom });
    // After leaving, relaying stops both ways.
    expect((await an.leave('closed circle')).ok).toBe(true);
    expect(await an.signal('closed circle', stranger.id)).toMatchObject({ ok: false, error: ServerError.NotInRoom });
    await new Promise((r) => setTimeout(r, 100));
    expect(stranger.signals).toHaveLength(0);
  });

  it('refuses every room and relay event before login', async () => {
    const anon = await connect(cleanup, server.url);
    for (const [event, payload] of [
      [ClientEvent.RoomJoin, { room: 'x', create: true }],
      [ClientEvent.RoomLeave, { room: 'x' }],
      [ClientEvent.Signal, { room: 'x', to: 'abc', data: { type: 'offer', sdp: '' } }],
      [ClientEvent.RoomList, undefined],
    ] as const) {
      expect(await anon.request(event, payload)).toMatchObject({ ok: false, error: ServerError.NotAuthenticated });
    }
    // A bad signature does not log in either.
    const c = await anon.request(ClientEvent.AuthChallenge, { username: 'Mallory', publicKey: 'A'.repeat(43) });
    expect(c.ok).toBe(true);
    expect(await anon.request(ClientEvent.AuthProve, { signature: 'AAAA' })).toMatchObject({ ok: false, error: ServerError.BadSignature });
    expect(await anon.request(ClientEvent.AuthProve, { signature: 'AAAA' })).toMatchObject({ ok: false, error: ServerError.NoChallenge });
    expect(await anon.join('x')).toMatchObject({ ok: false, error: ServerError.NotAuthenticated });
  });

  it('a reconnected socket must log in again: no session is resumed', async () => {
    const identity = nodeIdentity();
    const an = await connect(cleanup, server.url, { reconnection: true });
    expect((await an.login('Reconnector', identity)).ok).toBe(true);
    expect((await an.join('resume room')).ok).toBe(true);
    const firstId = an.id;
    // Drop the transport under the client, as a network blip would; it reconnects by itself.
    const reconnected = new Promise<void>((resolve) => an.socket.io.once('reconnect', () => resolve()));
    server.io.sockets.sockets.get(firstId)?.conn.close();
    await reconnected;
    expect(an.id).not.toBe(firstId);
    expect(await an.join('resume room')).toMatchObject({ ok: false, error: ServerError.NotAuthenticated });
    expect(await an.signal('resume room', 'anyone')).toMatchObject({ ok: false, error: ServerError.NotAuthenticated });
    // Logging in again works, with the same key, and the old socket's seat is gone.
    expect((await an.login('Reconnector', identity)).ok).toBe(true);
    const rejoined = await an.join('resume room');
    expect(rejoined).toMatchObject({ ok: true, members: [{ socketId: an.id, username: 'Reconnector' }] });
  });

  it('refuses a client speaking another protocol version with a clear error', async () => {
    await expect(SignalingTestClient.connect(server.url, { auth: { v: 999 } })).rejects.toMatchObject({ message: ServerError.Version });
    await expect(SignalingTestClient.connect(server.url, { auth: {} })).rejects.toMatchObject({ message: ServerError.Version });
  });
});
