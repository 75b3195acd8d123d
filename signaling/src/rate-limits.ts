import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { SignalingLimits } from './config.ts';
import type { Logger } from './log.ts';
import { KEY_PREFIX, type RedisClient } from './redis.ts';

/**
 * The server's rate limits (rate-limiter-flexible).
 * - per socket: always in this process's memory (a socket lives on one process);
 * - per address, events and new connections: in memory, or in Redis when scaled so an
 *   address's budget is shared by every process. With Redis away each process falls
 *   back to its own in-memory budget (the insurance limiter) rather than blocking
 *   everyone or letting everyone through.
 */
export class RateLimits {
  readonly #socket: RateLimiterMemory;
  readonly #address: RateLimiterAbstract;
  readonly #connects: RateLimiterAbstract;
  readonly #log: Logger;
  #warned = false;

  constructor(limits: SignalingLimits, log: Logger, redis: RedisClient | null) {
    this.#log = log;
    // Budgets are counted over a window of whole seconds: `burst` events, refilled at `perSecond`.
    const socketWindow = Math.max(1, Math.ceil(limits.socketEventsBurst / limits.socketEventsPerSecond));
    this.#socket = new RateLimiterMemory({ keyPrefix: 'socket', points: limits.socketEventsBurst, duration: socketWindow });
    const addressWindow = 4;
    const address = { keyPrefix: `${KEY_PREFIX}rl:address`, points: limits.addressEventsPerSecond * addressWindow, duration: addressWindow };
    const connects = { keyPrefix: `${KEY_PREFIX}rl:connect`, points: limits.addressConnectsPerMinute, duration: 60 };
    if (redis) {
      const shared = (opts: { keyPrefix: string; points: number; duration: number }) =>
        new RateLimiterRedis({
          ...opts,
          storeClient: redis,
          useRedisPackage: true,
          rejectIfRedisNotReady: true,
          // An address over its budget is refused from memory until the window ends, so a
          // flood costs Redis one round trip per window, not one per event.
          inMemoryBlockOnConsumed: opts.points,
          inMemoryBlockDuration: opts.duration,
          insuranceLimiter: new RateLimiterMemory(opts),
        });
      this.#address = shared(address);
      this.#connects = shared(connects);
    } else {
      this.#address = new RateLimiterMemory(address);
      this.#connects = new RateLimiterMemory(connects);
    }
  }

  /** One event from this socket and address: false when over either budget. */
  async event(socketId: string, address: string): Promise<boolean> {
    const [a, b] = await Promise.all([this.#consume(this.#socket, socketId), this.#consume(this.#address, address)]);
    return a && b;
  }

  /** One new connection from this address. */
  connect(address: string): Promise<boolean> {
    return this.#consume(this.#connects, address);
  }

  /** Frees a closed socket's budget now rather than when its window ends. */
  forget(socketId: string): void {
    void this.#socket.delete(socketId).catch(() => undefined);
  }

  async #consume(limiter: RateLimiterAbstract, key: string): Promise<boolean> {
    try {
      await limiter.consume(key);
      return true;
    } catch (e) {
      if (e instanceof RateLimiterRes) return false;
      // Neither the store nor the insurance answered: let the event through, since the
      // per-socket budget (memory, cannot fail) still bounds each socket.
      if (!this.#warned) this.#log.warn({ err: (e as Error).message }, 'rate limiter unavailable; per-socket limits only');
      this.#warned = true;
      return true;
    }
  }
}
