import { mkdir, open, readFile, rename, writeFile } from 'node:fs/promises';
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

export const RegistrationRecord = v.strictObject({ username: v.string(), publicKey: v.string(), registeredAt: v.number() });

const RegistryFile = v.strictObject({
  format: v.literal('p2p-chat-registry'),
  version: v.literal(1),
  users: v.record(v.string(), RegistrationRecord),
});

export const REGISTRY_FILE = 'usernames.json';

/** The registry file exists but cannot be trusted; the server refuses to start over it. */
export class RegistryFileError extends Error {
  constructor(path: string, why: string) {
    super(
      `username registry ${path} is not valid (${why}); refusing to start, because starting empty would let ` +
        'anyone claim the names in it. Restore it from a backup, or move it away to start with no users.',
    );
    this.name = 'RegistryFileError';
  }
}

/**
 * Embedded registry: a JSON file under the data folder, rewritten atomically (write a
 * temporary file, fsync, rename, fsync the folder) so a crash mid-write leaves the
 * previous version intact. Only `usernames.json` is ever read: a leftover temporary file
 * from a crash is ignored, and a damaged main file stops the server with a clear error.
 */
export class FileRegistry implements UsernameRegistry {
  readonly #dir: string;
  readonly #path: string;
  readonly #users = new Map<string, Registration>();
  /** The write in progress or last finished; writes never overlap. */
  #writing: Promise<void> = Promise.resolve();
  /** The next write, queued but not started: later claims ride along (group commit). */
  #queued: Promise<void> | null = null;

  private constructor(dir: string) {
    this.#dir = dir;
    this.#path = join(dir, REGISTRY_FILE);
  }

  static async open(dataDir: string): Promise<FileRegistry> {
    await mkdir(dataDir, { recursive: true });
    const registry = new FileRegistry(dataDir);
    await registry.#load();
    return registry;
  }

  get size(): number {
    return this.#users.size;
  }

  async #load(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.#path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new RegistryFileError(this.#path, 'not complete JSON');
    }
    const parsed = v.safeParse(RegistryFile, json);
    if (!parsed.success) throw new RegistryFileError(this.#path, 'unexpected content');
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

  /**
   * Resolves once a write that includes every claim made so far is on disk. Each write
   * holds the whole map, so claims arriving during a write share the next one instead of
   * queueing one full rewrite each (which would be quadratic under a burst of sign-ups).
   */
  #persist(): Promise<void> {
    if (this.#queued) return this.#queued;
    const next = this.#writing.then(() => {
      this.#queued = null;
      return this.#writeNow();
    });
    this.#queued = next;
    this.#writing = next.catch(() => undefined);
    return next;
  }

  async #writeNow(): Promise<void> {
    const body = JSON.stringify({ format: 'p2p-chat-registry', version: 1, users: Object.fromEntries(this.#users) });
    const tmp = `${this.#path}.${process.pid}.tmp`;
    await writeFile(tmp, body, 'utf8');
    await fsync(tmp);
    await rename(tmp, this.#path);
    // The rename itself is durable only once the folder's entry is on disk.
    await fsync(this.#dir).catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.#writing;
  }
}

async function fsync(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
