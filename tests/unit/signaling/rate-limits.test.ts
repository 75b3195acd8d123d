import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../signaling/src/config.ts';
import { createLogger } from '../../../signaling/src/log.ts';
import { RateLimits } from '../../../signaling/src/rate-limits.ts';
import { RedisLink } from '../../../signaling/src/redis.ts';
import { haveRedis, NO_REDIS_MESSAGE, RedisServer } from '../../load/redis-server.ts';

const log = createLogger('silent');
// Budgets small enough to exhaust in a test: 10 events per socket, 20 per address (per 4 s window).
const limits = loadConfig({ RATE_SOCKET_BURST: '10', RATE_SOCKET_EVENTS_PER_SECOND: '5', RATE_ADDRESS_EVENTS_PER_SECOND: '5' }).limits;

async function spend(rl: RateLimits, socket: string, address: string, n: number): Promise<boolean[]> {
  const out: boolean[] = [];
  for (let i = 0; i < n; i++) out.push(await rl.event(socket, address));
  return out;
}

describe('rate limits in memory', () => {
  it('a socket gets its burst, then is refused; another socket is not', async () => {
    const rl = new RateLimits(limits, log, null);
    expect((await spend(rl, 's1', '10.0.0.1', 12)).filter(Boolean)).toHaveLength(10);
    expect(await rl.event('s2', '10.0.0.2')).toBe(true);
  });

  it('the sockets of one address share its budget', async () => {
    const rl = new RateLimits(limits, log, null);
    const results = [...(await spend(rl, 'a', '10.0.0.3', 10)), ...(await spend(rl, 'b', '10.0.0.3', 10)), ...(await spend(rl, 'c', '10.0.0.3', 10))];
    expect(results.filter(Boolean)).toHaveLength(20);
  });
});

describe.skipIf(!haveRedis)(`rate limits shared through Redis${haveRedis ? '' : ` (${NO_REDIS_MESSAGE})`}`, () => {
  let redis: RedisServer;
  const links: RedisLink[] = [];
  beforeAll(async () => {
    redis = await RedisServer.start();
    links.push(await RedisLink.connect(redis.url, log), await RedisLink.connect(redis.url, log));
  });
  afterAll(async () => {
    await Promise.all(links.map((l) => l.close()));
    await redis?.stop();
  });

  it('an address has one budget across processes', async () => {
    const [one, two] = links.map((l) => new RateLimits(limits, log, l.data));
    // Two processes, each with sockets of the same address: 20 in total, not 20 each.
    const results = [...(await spend(one!, 'p1-a', '10.9.0.1', 10)), ...(await spend(two!, 'p2-a', '10.9.0.1', 10)), ...(await spend(two!, 'p2-b', '10.9.0.1', 10))];
    expect(results.filter(Boolean)).toHaveLength(20);
  });

  it('with Redis down, each process falls back to its own memory budget: no crash, no free-for-all, no lock-out', async () => {
    const rl = new RateLimits(limits, log, links[0]!.data);
    await redis.kill();
    await expect.poll(() => links[0]!.up).toBe(false);
    const results = await spend(rl, 'down-a', '10.9.0.2', 25);
    expect(results.slice(0, 10).every(Boolean)).toBe(true);
    expect(results.filter(Boolean)).toHaveLength(10); // the per-socket budget still holds
    expect(await rl.event('down-b', '10.9.0.3')).toBe(true); // others still get in
    // The address budget is enforced from memory meanwhile (the insurance limiter).
    const crowd = [...(await spend(rl, 'down-c', '10.9.0.4', 10)), ...(await spend(rl, 'down-d', '10.9.0.4', 10)), ...(await spend(rl, 'down-e', '10.9.0.4', 10))];
    expect(crowd.filter(Boolean)).toHaveLength(20);
    await redis.restart();
    await expect.poll(() => links[0]!.up, { timeout: 10_000 }).toBe(true);
  });
});
