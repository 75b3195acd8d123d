import { afterEach, describe, expect, it } from 'vitest';
import { ClientEvent } from '../../../signaling/src/protocol.ts';
import { Cleanup, connect, loggedIn, startTestServer, type TestServer } from './helpers.ts';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function server(env: Record<string, string> = {}): Promise<TestServer> {
  return cleanup.add(await startTestServer({ env }), (s) => s.stop());
}

describe('operator endpoints', () => {
  it('/healthz says the process is alive (no Redis configured)', async () => {
    const s = await server();
    const res = await fetch(`${s.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, version: 1 });
  });

  it('/metrics reports sockets, rooms, events and rejections in Prometheus text, without user content', async () => {
    const s = await server();
    const an = await loggedIn(cleanup, s.url, 'Secret Name');
    await an.join('secret room');
    await an.request(ClientEvent.Signal, { room: 'secret room', to: 'nobody', data: { type: 'offer', sdp: 'secret-sdp' } });
    await an.request(ClientEvent.RoomJoin, { room: 42 });
    // An unknown event with an attacker-chosen name, acked and not.
    expect(await an.request('evil"}\nchat_fake 1', 'payload')).toMatchObject({ ok: false, error: 'malformed' });
    an.socket.emit('another-unknown');
    an.socket.emit(ClientEvent.RoomList);
    await an.request(ClientEvent.RoomList);

    const res = await fetch(`${s.url}/metrics`);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(text).toMatch(/^chat_connected_sockets 1$/m);
    expect(text).toMatch(/^chat_rooms 1$/m);
    expect(text).toMatch(/^chat_events_total\{event="room:join"\} 2$/m);
    expect(text).toMatch(/^chat_events_total\{event="auth:prove"\} 1$/m);
    expect(text).toMatch(/^chat_rejected_total\{event="signal",reason="unknown-peer"\} 1$/m);
    expect(text).toMatch(/^chat_rejected_total\{event="room:join",reason="malformed"\} 1$/m);
    expect(text).toMatch(/^chat_rejected_total\{event="unknown",reason="unknown-event"\} 2$/m);
    expect(text).toMatch(/^chat_rejected_total\{event="room:list",reason="no-ack"\} 1$/m);
    expect(text).toMatch(/^chat_rate_limited_total 0$/m);
    expect(text).toMatch(/^chat_rate_limited_clients_total 0$/m);
    expect(text).toMatch(/^process_resident_memory_bytes \d+$/m);
    for (const secret of ['Secret Name', 'secret room', 'secret-sdp', 'evil', 'chat_fake']) expect(text).not.toContain(secret);
    // Every sample line is well-formed exposition format.
    for (const line of text.trim().split('\n')) expect(line).toMatch(/^(# (HELP|TYPE) \w+ .+|\w+(\{[^}]*\})? \d+(\.\d+)?)$/);
  });
});

describe('graceful shutdown', () => {
  it('tells every client, disconnects them, refuses newcomers and closes within the bound', async () => {
    const s = await startTestServer({ env: { SHUTDOWN_GRACE_MS: '3000' } });
    try {
      const an = await loggedIn(cleanup, s.url, 'An');
      const binh = await loggedIn(cleanup, s.url, 'Binh');
      const anon = await connect(cleanup, s.url);
      await an.join('room');
      await binh.join('room', { create: false });

      await s.close();
      for (const c of [an, binh, anon]) {
        await c.waitForDisconnect();
        expect(c.notices).toContainEqual({ kind: 'shutdown', message: expect.any(String) });
      }
      // The port is closed: nothing new gets in.
      await expect(fetch(`${s.url}/healthz`)).rejects.toThrow();
    } finally {
      await s.stop();
    }
  });

  it('a second close() is the same close', async () => {
    const s = await startTestServer();
    const a = s.close();
    const b = s.close();
    expect(a).toBe(b);
    await a;
    await s.stop();
  });
});
