import { chmod, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import * as v from 'valibot';
import type { Identity } from '../../client/src/core/chat/identity.ts';
import { toB64u } from '../../client/src/core/crypto/bytes.ts';
import { CliError, CliErrorCode } from './errors.ts';
import { FileChatStorage } from './file-storage.ts';
import { loadOrCreateIdentity } from './identity-file.ts';

/**
 * The `--home` folder: who this peer is and what it remembers.
 *
 *   identity.pem   Ed25519 private key, PKCS#8 (0600)
 *   profile.json   username last logged in with, public key (for people reading the folder)
 *   chat.json      contacts and pinned keys, messages, outbox, rooms (FileChatStorage)
 *   files/         files being received, until verified and saved (DiskFileStore)
 *   lock           pid of the process using the folder
 */
export const HOME_FILES = { identity: 'identity.pem', profile: 'profile.json', storage: 'chat.json', files: 'files', lock: 'lock' } as const;

const Profile = v.object({ v: v.literal(1), username: v.optional(v.string()), publicKey: v.optional(v.string()) });
type Profile = v.InferOutput<typeof Profile>;

export class Home {
  readonly dir: string;
  readonly identity: Identity;
  readonly storage: FileChatStorage;
  #profile: Profile;
  #closed = false;

  private constructor(dir: string, identity: Identity, storage: FileChatStorage, profile: Profile) {
    this.dir = dir;
    this.identity = identity;
    this.storage = storage;
    this.#profile = profile;
  }

  /** The username saved by the last successful login, if any. */
  get username(): string | undefined {
    return this.#profile.username;
  }

  static async open(dir: string, opts: { now?: () => number } = {}): Promise<Home> {
    const now = opts.now ?? Date.now;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await lockHome(dir);
    try {
      const identity = await loadOrCreateIdentity(join(dir, HOME_FILES.identity), now());
      const profile = await readProfile(join(dir, HOME_FILES.profile));
      const storage = await FileChatStorage.open(join(dir, HOME_FILES.storage), { now });
      return new Home(dir, identity, storage, profile);
    } catch (e) {
      await unlockHome(dir);
      throw e;
    }
  }

  async saveUsername(username: string): Promise<void> {
    this.#profile = { v: 1, username, publicKey: toB64u(this.identity.publicKey) };
    const path = join(this.dir, HOME_FILES.profile);
    const tmp = `${path}.${process.pid}.tmp`;
    const handle = await open(tmp, 'w', 0o600);
    try {
      await handle.writeFile(JSON.stringify(this.#profile, null, 2) + '\n', 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  }

  /** Saves what is pending and releases the folder for the next run. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.storage.flush();
    } finally {
      await unlockHome(this.dir);
    }
  }
}

async function readProfile(path: string): Promise<Profile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { v: 1 };
    throw e;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    raw = null;
  }
  const parsed = v.safeParse(Profile, raw);
  // Only the remembered username lives here; an unreadable profile just means "give --user".
  return parsed.success ? parsed.output : { v: 1 };
}

/**
 * One process per home: two would overwrite each other's storage file, and log in twice
 * with the same identity. A lock left by a process that died is taken over.
 */
async function lockHome(dir: string): Promise<void> {
  const path = join(dir, HOME_FILES.lock);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, 'wx', 0o600);
      await handle.writeFile(String(process.pid));
      await handle.close();
      // The folder may predate us with looser permissions.
      await chmod(dir, 0o700).catch(() => undefined);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new CliError(CliErrorCode.Storage, `cannot use ${dir}: ${(e as Error).message}`, { cause: e });
    }
    const holder = Number((await readFile(path, 'utf8').catch(() => '')).trim());
    if (Number.isInteger(holder) && holder > 0 && isAlive(holder)) {
      throw new CliError(CliErrorCode.HomeLocked, `${dir} is in use by another p2p-chat-cli (pid ${holder}); give each running peer its own --home`);
    }
    // Stale: its owner is gone.
    await unlink(path).catch(() => undefined);
  }
  throw new CliError(CliErrorCode.HomeLocked, `could not lock ${dir}`);
}

async function unlockHome(dir: string): Promise<void> {
  const path = join(dir, HOME_FILES.lock);
  const holder = (await readFile(path, 'utf8').catch(() => '')).trim();
  if (holder === String(process.pid)) await unlink(path).catch(() => undefined);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** For tests and diagnostics: the permission bits of a home file. */
export async function fileMode(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}
