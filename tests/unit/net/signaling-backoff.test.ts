import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SIGNALING_RECONNECT_MAX_MS, SIGNALING_RECONNECT_MIN_MS } from '../../../client/src/core/net/limits.ts';
import { SocketIoSignaling } from '../../../client/src/core/net/socketio-signaling.ts';

/**
 * TEST-CASES 5: after a server restart, clients come back with back-off, not all at once
 * and not in a tight loop. The real client adapter against a port where the server is
 * down (every WebSocket upgrade refused): the gaps between its attempts grow, with jitter.
 */
describe('signaling reconnection', () => {
  let server: Server | null = null;
  let signaling: SocketIoSignaling | null = null;
  afterEach(async () => {
    signaling?.close();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  it('retries a server that is down with growing, jittered gaps between its attempts', async () => {
    const attempts: number[] = [];
    server = createServer((_, res) => res.writeHead(503).end());
    server.on('upgrade', (_, socket) => {
      attempts.push(performance.now());
      socket.destroy();
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    signaling = new SocketIoSignaling(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    signaling.connect();
    // 0.5 s, ~1 s, ~2 s, ~4 s after each other (each +-50%): five attempts in under 12 s.
    await expect.poll(() => attempts.length, { timeout: 15_000, interval: 100 }).toBeGreaterThanOrEqual(5);
    const gaps = attempts.slice(1, 5).map((t, i) => t - attempts[i]!);
    // Never a tight loop, never past the cap.
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(SIGNALING_RECONNECT_MIN_MS * 0.5 - 20);
    for (const gap of gaps) expect(gap).toBeLessThanOrEqual(SIGNALING_RECONNECT_MAX_MS * 1.5);
    // Growing: the last gap is well past the first (doubling, whatever the jitter drew).
    expect(gaps[3]!).toBeGreaterThan(gaps[0]! * 2);
  }, 20_000);
});
