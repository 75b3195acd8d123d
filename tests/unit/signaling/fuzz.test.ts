import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fuzzSocket, rng, type Tally } from '../../load/fuzz-client.ts';
import { Cleanup, loggedIn, startTestServer, type TestServer } from './helpers.ts';

/**
 * Fuzz (TEST-CASES row 1): at least 100,000 random and malformed events from many sockets
 * against a real server. The server must answer every acknowledged event with a
 * well-formed answer (almost always an error) or ignore it, never crash, and two
 * well-behaved clients must keep chatting through it all.
 */

const EVENTS_TOTAL = 100_000;
const FUZZ_SOCKETS = 40;
const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed);

describe('fuzz', () => {
  let server: TestServer;
  const cleanup = new Cleanup();
  beforeAll(async () => {
    // Everything comes from 127.0.0.1 here, so the per-address bounds are raised; the
    // per-socket budget too, so the fuzz reaches the validators instead of the limiter
    // (the flood tests cover the limits themselves).
    server = await startTestServer({
      env: {
        MAX_SOCKETS_PER_ADDRESS: '10000',
        RATE_ADDRESS_CONNECTS_PER_MINUTE: '1000000',
        RATE_ADDRESS_EVENTS_PER_SECOND: '10000000',
        RATE_SOCKET_BURST: '10000000',
        RATE_SOCKET_EVENTS_PER_SECOND: '1000000',
      },
    });
  });
  afterAll(async () => {
    await cleanup.run();
    await server?.stop();
  });

  it(`survives ${EVENTS_TOTAL.toLocaleString('en')} random and malformed events while two users keep chatting`, async () => {
    const an = await loggedIn(cleanup, server.url, 'An');
    const binh = await loggedIn(cleanup, server.url, 'Binh');
    const token = 'Z29vZC1yb29tLWpvaW4tdG9rZW4';
    expect((await an.join('good room', { joinToken: token })).ok).toBe(true);
    expect((await binh.join('good room', { joinToken: token, create: false })).ok).toBe(true);

    const tally: Tally = { sent: 0, answered: 0, badAnswers: [], reconnects: 0, refusedConnects: 0 };
    let fuzzing = true;
    const rounds: number[] = [];
    const wellBehaved = (async () => {
      // Relay both ways and a roster change per round, checking every answer and push.
      for (let i = 0; fuzzing || i < 3; i++) {
        const started = performance.now();
        expect(await an.signal('good room', binh.id, { type: 'offer', sdp: `round ${i}` })).toEqual({ ok: true });
        await binh.waitFor(() => binh.signals.some((s) => s.data.type === 'offer' && s.data.sdp === `round ${i}`), `offer ${i}`);
        expect(await binh.signal('good room', an.id, { type: 'answer', sdp: `round ${i}` })).toEqual({ ok: true });
        await an.waitFor(() => an.signals.some((s) => s.data.type === 'answer' && s.data.sdp === `round ${i}`), `answer ${i}`);
        const side = `side ${i}`;
        expect((await binh.join(side)).ok).toBe(true);
        await binh.waitForRoster(side, ['Binh']);
        expect((await binh.leave(side)).ok).toBe(true);
        rounds.push(performance.now() - started);
        await new Promise((resolve) => setTimeout(resolve, 10)); // leave the CPU to the fuzz
      }
    })();

    const peers = [an.id, binh.id];
    const quota = Math.ceil(EVENTS_TOTAL / FUZZ_SOCKETS);
    await Promise.all(Array.from({ length: FUZZ_SOCKETS }, (_, i) => fuzzSocket(server.url, rng(SEED + i + 1), quota, tally, peers, i % 2 === 0)));
    fuzzing = false;
    await wellBehaved;

    console.log(
      `fuzz seed ${SEED}: ${tally.sent} events, ${tally.answered} answered, ${tally.reconnects} connections, ` +
        `${tally.refusedConnects} wrong-version connects refused, ${server.metrics.rejectedTotal()} rejections counted; ` +
        `${rounds.length} good rounds, slowest ${Math.max(...rounds).toFixed(0)} ms`,
    );
    expect(tally.sent).toBeGreaterThanOrEqual(EVENTS_TOTAL);
    expect(tally.badAnswers).toEqual([]);
    expect(tally.answered).toBeGreaterThan(EVENTS_TOTAL / 2);
    expect(rounds.length).toBeGreaterThan(3);
    // The good users never saw a signal they did not send each other.
    expect(an.signals.every((s) => s.from === binh.id)).toBe(true);
    expect(binh.signals.every((s) => s.from === an.id)).toBe(true);
    // And the server is still fully serving.
    const res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(200);
  }, 120_000);
});
