import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { createRoom, joinRoom, launchChromium, messages, openUser, sendMessage, waitConnected } from '../support/browser.ts';
import { clientDist } from '../support/server.ts';
import { haveRedis, NO_REDIS_MESSAGE, RedisServer } from '../load/redis-server.ts';
import { ServerProcess } from '../load/server-process.ts';

/**
 * Scale-out in the browser: two Chromium users on two server processes that share one
 * Redis find each other, open a verified data channel and chat; Redis restarting in the
 * middle does not break the open chat, and signaling recovers.
 */
describe.skipIf(!haveRedis)(`two browsers on two server processes${haveRedis ? '' : ` (${NO_REDIS_MESSAGE})`}`, () => {
  let redis: RedisServer;
  let one: ServerProcess;
  let two: ServerProcess;
  let browser: Browser;

  beforeAll(async () => {
    redis = await RedisServer.start({ persist: true });
    const env = { REDIS_URL: redis.url, STATIC_DIR: clientDist };
    [one, two] = await Promise.all([ServerProcess.start(env), ServerProcess.start(env)]);
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await Promise.all([one?.stop(), two?.stop()]);
    await redis?.stop();
  });

  it('users on different processes chat over a data channel, through a Redis restart', async () => {
    const an = await openUser(browser, one.url, 'An');
    const binh = await openUser(browser, two.url, 'Binh');
    await createRoom(an.page, 'lop scaled');
    await joinRoom(binh.page, 'lop scaled');
    await waitConnected(an.page, 'Binh');
    await waitConnected(binh.page, 'An');

    await sendMessage(an.page, 'across processes, secret-x1');
    await expect.poll(() => messages(binh.page).filter({ hasText: 'secret-x1' }).count()).toBe(1);

    // Redis restarts: the open channel is peer to peer and keeps working.
    await redis.kill();
    await sendMessage(binh.page, 'while redis is down, secret-x2');
    await expect.poll(() => messages(an.page).filter({ hasText: 'secret-x2' }).count()).toBe(1);
    await redis.restart();
    await expect.poll(() => one.health(), { timeout: 20_000 }).toBe(200);
    await expect.poll(() => two.health(), { timeout: 20_000 }).toBe(200);
    await sendMessage(an.page, 'after redis is back, secret-x3');
    await expect.poll(() => messages(binh.page).filter({ hasText: 'secret-x3' }).count()).toBe(1);

    expect(one.running && two.running).toBe(true);
    await an.context.close();
    await binh.context.close();
  });
});
