import { createHash } from 'node:crypto';
import { createClient } from 'redis';
import { redactUrl } from './config.ts';
import type { Logger } from './log.ts';
import {
  REDIS_COMMAND_TIMEOUT_MS,
  REDIS_CONNECT_TIMEOUT_MS,
  REDIS_OFFLINE_QUEUE_MAX,
  REDIS_RECONNECT_MAX_MS,
} from './limits.ts';

export type RedisClient = ReturnType<typeof createClient>;

/** Every key this server writes starts with this, so a shared Redis stays tidy. */
export const KEY_PREFIX = 'p2pchat:';

/**
 * The two Redis connections of one server process.
 *
 * `data` serves the registry, the room directory and the rate limiter. It refuses
 * commands at once while Redis is away (no offline queue) and times out slow ones, so a
 * request fails with 'unavailable' instead of hanging until the client gives up.
 *
 * `adapter` carries the Socket.IO Redis Streams adapter. It keeps an offline queue
 * (bounded): the adapter's stream reader retries in a loop, and a client that rejected
 * instantly would turn that loop into a busy spin that starves the event loop.
 */
export class RedisLink {
  readonly data: RedisClient;
  readonly adapter: RedisClient;
  readonly #log: Logger;
  readonly #url: string;
  #up = false;
  #everUp = false;
  #closing = false;
  /** One report per outage, not one per reconnect attempt. */
  #errorReported = false;
  readonly #reconnected = new Set<() => void>();

  private constructor(url: string, log: Logger) {
    this.#url = redactUrl(url);
    this.#log = log;
    const socket = {
      connectTimeout: REDIS_COMMAND_TIMEOUT_MS,
      // Back off up to a ceiling, with jitter so many processes do not reconnect in step.
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, REDIS_RECONNECT_MAX_MS) * (0.75 + Math.random() * 0.5),
    };
    this.data = createClient({
      url,
      socket,
      disableOfflineQueue: true,
      commandOptions: { timeout: REDIS_COMMAND_TIMEOUT_MS },
      pingInterval: 5_000,
    });
    this.adapter = createClient({ url, socket, commandsQueueMaxLength: REDIS_OFFLINE_QUEUE_MAX, pingInterval: 5_000 });

    // NOTE: an 'error' event without a listener would crash the process; errors while
    // Redis is away are expected and reported once per outage, not once per retry.
    this.data.on('error', (err: Error) => {
      if (this.#up || !this.#errorReported) this.#log.warn({ redis: this.#url, err: err.message }, 'redis connection error');
      this.#errorReported = true;
      this.#setUp(false);
    });
    this.data.on('end', () => this.#setUp(false));
    this.data.on('ready', () => this.#setUp(true));
    this.adapter.on('error', () => undefined);
  }

  /** Connects both clients; refuses to start (throws) when Redis does not answer in time. */
  static async connect(url: string, log: Logger, timeoutMs = REDIS_CONNECT_TIMEOUT_MS): Promise<RedisLink> {
    const link = new RedisLink(url, log);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Redis at ${link.#url} did not answer within ${timeoutMs / 1000} s`)), timeoutMs);
    });
    try {
      await Promise.race([Promise.all([link.data.connect(), link.adapter.connect()]), timeout]);
    } catch (e) {
      link.data.destroy();
      link.adapter.destroy();
      throw e;
    } finally {
      clearTimeout(timer);
    }
    return link;
  }

  get up(): boolean {
    return this.#up && this.data.isReady;
  }

  /** Runs after Redis came back from an outage (not on the first connection). */
  onReconnect(listener: () => void): void {
    this.#reconnected.add(listener);
  }

  /** Reachability for /healthz: a PING answered within the command timeout. */
  async ping(): Promise<boolean> {
    if (!this.data.isReady) return false;
    try {
      return (await this.data.ping()) === 'PONG';
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    this.#closing = true;
    await Promise.all(
      [this.data, this.adapter].map(async (c) => {
        if (!c.isOpen) return;
        try {
          await withTimeout(c.close(), REDIS_COMMAND_TIMEOUT_MS);
        } catch {
          c.destroy();
        }
      }),
    );
  }

  #setUp(up: boolean): void {
    if (up === this.#up) return;
    this.#up = up;
    if (this.#closing) return;
    if (up) {
      this.#errorReported = false;
      const again = this.#everUp;
      this.#everUp = true;
      if (again) {
        this.#log.info({ redis: this.#url }, 'redis is back');
        for (const listener of this.#reconnected) listener();
      }
    } else if (this.#everUp) {
      this.#log.error({ redis: this.#url }, 'redis is unreachable; requests that need it are answered "unavailable" until it is back');
    }
  }
}

/** Resolves like `p`, or rejects after `ms`. */
export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * A Lua script run with EVALSHA, falling back to EVAL once when Redis does not know it
 * (first use, or after Redis restarted and lost its script cache).
 */
export class LuaScript {
  readonly #source: string;
  readonly #sha: string;

  constructor(source: string) {
    this.#source = source;
    this.#sha = createHash('sha1').update(source).digest('hex');
  }

  async run(client: RedisClient, keys: string[], args: string[]): Promise<unknown> {
    const tail = [String(keys.length), ...keys, ...args];
    try {
      return await client.sendCommand(['EVALSHA', this.#sha, ...tail]);
    } catch (e) {
      if (!String((e as Error).message).startsWith('NOSCRIPT')) throw e;
      return client.sendCommand(['EVAL', this.#source, ...tail]);
    }
  }
}
