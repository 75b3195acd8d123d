import { startTestServer, type TestServer } from '../../support/server.ts';
import { nodeIdentity, SignalingTestClient, type Identity } from '../../load/signaling-client.ts';

export { startTestServer, type TestServer };

/** Owns what a test opens, so `afterEach(() => cleanup.run())` closes all of it. */
export class Cleanup {
  readonly #steps: (() => unknown)[] = [];
  add<T>(value: T, close: (v: T) => unknown): T {
    this.#steps.push(() => close(value));
    return value;
  }
  async run(): Promise<void> {
    for (const step of this.#steps.splice(0).reverse()) {
      try {
        await step();
      } catch {
        // keep closing the rest
      }
    }
  }
}

export async function connect(cleanup: Cleanup, url: string, opts: Parameters<typeof SignalingTestClient.connect>[1] = {}): Promise<SignalingTestClient> {
  return cleanup.add(await SignalingTestClient.connect(url, opts), (c) => c.close());
}

/** A connected, logged-in client. */
export async function loggedIn(cleanup: Cleanup, url: string, username: string, identity: Identity = nodeIdentity()) {
  const client = await connect(cleanup, url);
  const ack = await client.login(username, identity);
  if (!ack.ok) throw new Error(`login as ${username} failed: ${ack.error}`);
  return Object.assign(client, { identity });
}
