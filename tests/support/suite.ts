import { afterAll, beforeAll } from 'vitest';
import type { Browser } from 'playwright-core';
import { createRoom, joinRoom, launchChromium, openUser, waitConnected, type User } from './browser.ts';
import { startTestServer, type TestServer } from './server.ts';

/**
 * The usual browser suite: a real signaling server and one Chromium for the file's tests,
 * with every user profile opened through `open` closed at the end. `serverEnv` is read when
 * the server starts, after the hooks registered before this call (say, a TURN server's).
 */
export function browserSuite(opts: { serverEnv?: () => Record<string, string> } = {}) {
  let server: TestServer | undefined;
  let browser: Browser | undefined;
  const users: User[] = [];
  beforeAll(async () => {
    server = await startTestServer(opts.serverEnv ? { env: opts.serverEnv() } : {});
    browser = await launchChromium();
  });
  afterAll(async () => {
    for (const u of users) await u.context.close().catch(() => undefined);
    await browser?.close();
    await server?.stop();
  });
  return {
    get server(): TestServer {
      return server!;
    },
    get browser(): Browser {
      return browser!;
    },
    /** A fresh profile logged in as `name`, closed when the suite ends. */
    async open(name: string, viewport?: { width: number; height: number }): Promise<User> {
      const u = await openUser(browser!, server!.url, name, viewport);
      users.push(u);
      return u;
    },
    /** Two fresh profiles: `a` creates `room`, `b` joins it, and each sees the other connected. */
    async pair(a: string, b: string, room: string): Promise<[User, User]> {
      const ua = await this.open(a);
      const ub = await this.open(b);
      await createRoom(ua.page, room);
      await joinRoom(ub.page, room);
      await waitConnected(ua.page, b);
      await waitConnected(ub.page, a);
      return [ua, ub];
    },
    /** Closes with the suite a user made elsewhere. */
    track(u: User): void {
      users.push(u);
    },
  };
}
