import { mkdir, readFile, rename, writeFile, open } from 'node:fs/promises';
import { join } from 'node:path';
import * as v from 'valibot';
import { MAX_REGISTERED_USERS } from './limits.ts';

/** A claimed username, bound to the public identity key that claimed it first. */
export interface Registration {
  username: string;
  publicKey: string;
  registeredAt: number;
}

export type ClaimResult = 'claimed' | 'same-key' | 'taken' | 'full';

/** The server's only durable state. Implementations: a JSON file (default) or Redis. */
export interface UsernameRegistry {
  lookup(key: string): Promise<Registration | undefined>;
  /** First claim wins; claiming again with the same key is a login. */
  claim(key: string, registration: Registration): Promise<ClaimResult>;
  close(): Promise<void>;
}

const RegistryFile = v.strictObject({
  format: v.literal('p2p-chat-registry'),
  version: v.literal(1),
  users: v.record(
    v.string(),
    v.strictObject({ username: v.string(), publicKey: v.string(), registeredAt: v.number() }),
  ),
});

/**
 * Embedded registry: a JSON file under the data folder, rewritten atomically (write a
 * temporary file, fsync, rename) so a crash mid-write leaves the previous version intact
 * and a half-written file is never read as valid.
 */
export class FileRegistry implements UsernameRegistry {
  readonly #path: string;
  readonly #users = new Map<string, Registration>();
  #writing: Promise<void> = Promise.resolve();

  private constructor(path: string) {
    this.#path = path;
  }

  static async open(dataDir: string): Promise<FileRegistry> {
    await mkdir(dataDir, { recursive: true });
    const registry = new FileRegistry(join(dataDir, 'usernames.json'));
    await registry.#load();
    return registry;
  }

  async #load(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.#path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    const parsed = v.safeParse(RegistryFile, JSON.parse(text));
    if (!parsed.success) throw new Error(`username registry ${this.#path} is not valid; refusing to start over it`);
    for (const [key, reg] of Object.entries(parsed.output.users)) this.#users.set(key, reg);
  }

  async lookup(key: string): Promise<Registration | undefined> {
    return this.#users.get(key);
  }

  async claim(key: string, registration: Registration): Promise<ClaimResult> {
    const existing = this.#users.get(key);
    if (existing) return existing.publicKey === registration.publicKey ? 'same-key' : 'taken';
    if (this.#users.size >= MAX_REGISTERED_USERS) return 'full';
    this.#users.set(key, registration);
    await this.#persist();
    return 'claimed';
  }

  /** Writes are serialised; each one writes the whole current map. */
  #persist(): Promise<void> {
    const next = this.#writing.then(() => this.#writeNow());
    this.#writing = next.catch(() => undefined);
    return next;
  }

  async #writeNow(): Promise<void> {
    const body = JSON.stringify({ format: 'p2p-chat-registry', version: 1, users: Object.fromEntries(this.#users) });
    const tmp = `${this.#path}.${process.pid}.tmp`;
    await writeFile(tmp, body, 'utf8');
    const handle = await open(tmp, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, this.#path);
  }

  async close(): Promise<void> {
    await this.#writing;
  }
}
