import * as v from 'valibot';
import { MAX_REGISTERED_USERS } from './limits.ts';
import { KEY_PREFIX, type RedisClient } from './redis.ts';
import type { ClaimResult, Registration, UsernameRegistry } from './registry.ts';
import { RegistrationRecord } from './registry.ts';

/**
 * The username registry shared by every server process: one Redis hash, username key ->
 * registration. HSETNX makes "first claim wins" atomic across processes. Redis must
 * persist (appendonly) or a Redis restart forgets every claim; see CONFIG.md.
 */
export class RedisRegistry implements UsernameRegistry {
  readonly #client: RedisClient;
  readonly #key: string;

  constructor(client: RedisClient, prefix = KEY_PREFIX) {
    this.#client = client;
    this.#key = `${prefix}users`;
  }

  async lookup(key: string): Promise<Registration | undefined> {
    const raw = await this.#client.hGet(this.#key, key);
    if (raw === null || raw === undefined) return undefined;
    return decode(String(raw));
  }

  async claim(key: string, registration: Registration): Promise<ClaimResult> {
    const existing = await this.lookup(key);
    if (existing) return existing.publicKey === registration.publicKey ? 'same-key' : 'taken';
    // The cap is checked before the claim, so concurrent claims may overshoot it by a
    // few; it bounds growth, not an exact count.
    if ((await this.#client.hLen(this.#key)) >= MAX_REGISTERED_USERS) return 'full';
    const won = await this.#client.hSetNX(this.#key, key, JSON.stringify(registration));
    if (Number(won) === 1) return 'claimed';
    // Another process claimed it between our lookup and HSETNX: theirs stands.
    const winner = await this.lookup(key);
    return winner?.publicKey === registration.publicKey ? 'same-key' : 'taken';
  }

  /** The Redis connection belongs to the server, which closes it. */
  async close(): Promise<void> {}
}

function decode(raw: string): Registration {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new Error('a registry entry in Redis is not JSON');
  }
  const r = v.safeParse(RegistrationRecord, json);
  if (!r.success) throw new Error('a registry entry in Redis has the wrong shape');
  return r.output;
}
