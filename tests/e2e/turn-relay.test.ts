import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { messages, sendMessage } from '../support/browser.ts';
import { browserSuite } from '../support/suite.ts';
import { haveTurnServer, NO_TURN_MESSAGE, TurnServer } from '../support/turn-server.ts';

/**
 * Issue 7's TURN path, for real: Debian's coturn with the TURN REST API secret, a
 * signaling server issuing short-lived credentials and asking for relay-only connections
 * (RELAY_ONLY), two browsers that then chat through the relay, never directly.
 */
describe.skipIf(!haveTurnServer)(`relay-only through coturn${haveTurnServer ? '' : ` (${NO_TURN_MESSAGE})`}`, () => {
  let turn: TurnServer;
  beforeAll(async () => {
    turn = await TurnServer.start();
  });
  afterAll(() => turn?.stop());
  const suite = browserSuite({ serverEnv: () => ({ TURN_URLS: turn.url, TURN_SECRET: turn.secret, RELAY_ONLY: '1' }) });

  it('two members chat through the TURN relay and never learn each other’s address', async () => {
    const [a, b] = await suite.pair('Relay A', 'Relay B', 'relayed room');

    for (const [page, peer] of [[a.page, 'Relay B'], [b.page, 'Relay A']] as const) {
      await expect.poll(() => page.locator(`[data-testid="member"][data-username="${peer}"] [data-testid="path"]`).textContent()).toContain('Relayed (TURN)');
    }
    await sendMessage(a.page, 'through the relay');
    await expect.poll(() => messages(b.page).filter({ hasText: 'through the relay' }).count()).toBe(1);
    await sendMessage(b.page, 'and back');
    await expect.poll(() => messages(a.page).filter({ hasText: 'and back' }).count()).toBe(1);

    // Only relay candidates crossed the signaling server: no host or reflexive address.
    const signals = suite.server.received.filter((p) => p.includes('"signal"') && p.includes('candidate:'));
    expect(signals.length).toBeGreaterThan(0);
    expect(signals.every((p) => / typ relay/.test(p))).toBe(true);
    expect(signals.some((p) => / typ (host|srflx|prflx)/.test(p))).toBe(false);
    // With relay-only connections and only relay candidates, the channel that carried
    // these messages exists only because coturn accepted the short-lived credentials.
  });
});
