import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import * as v from 'valibot';

/**
 * The keystore: the identity key pair and settings, in their own IndexedDB database so
 * clearing history can never take the identity with it. IndexedDB stores the private
 * CryptoKey by structured clone, which keeps it non-extractable: script can sign with it
 * but can never read its bytes.
 */

export const DEFAULT_KEYSTORE_NAME = 'p2p-chat-keys';
const KEYSTORE_VERSION = 1;
const IDENTITY_KEY = 'identity';
/** Web Locks name shared by every tab of this origin. */
const IDENTITY_LOCK = 'p2p-chat-identity';

export interface StoredIdentity {
  /** Raw Ed25519 public key (32 bytes); ArrayBuffer-backed so WebCrypto takes it as is. */
  publicKey: Uint8Array<ArrayBuffer>;
  /** Non-extractable Ed25519 private key. */
  privateKey: CryptoKey;
  username?: string;
  createdAt: number;
  /**
   * The private key's PKCS#8 bytes sealed under a non-extractable device key, kept only so
   * the user can export an encrypted backup to move to another device.
   */
  sealedPrivateKey?: SealedKey;
}

export interface SealedKey {
  deviceKey: CryptoKey;
  iv: Uint8Array;
  data: Uint8Array;
}

export const SettingsSchema = v.object({
  language: v.pipe(v.string(), v.maxLength(35)),
  theme: v.picklist(['system', 'light', 'dark']),
  /** Honour a peer's request to delete a chat on this device too. */
  acceptDeleteRequests: v.boolean(),
  notifications: v.boolean(),
  /** Empty = the signaling server that served the page. */
  signalingUrl: v.pipe(v.string(), v.maxLength(2048)),
});
export type Settings = v.InferOutput<typeof SettingsSchema>;
export type SettingKey = keyof Settings;

export const DEFAULT_SETTINGS: Readonly<Settings> = Object.freeze({
  language: '',
  theme: 'system',
  acceptDeleteRequests: false,
  notifications: true,
  signalingUrl: '',
});

interface KeystoreSchema extends DBSchema {
  identity: { key: string; value: unknown };
  settings: { key: string; value: unknown };
}

function isCryptoKey(u: unknown): u is CryptoKey {
  return typeof CryptoKey !== 'undefined' && u instanceof CryptoKey;
}

/**
 * What IndexedDB gave back is unknown until checked: a half-written or foreign record
 * reads as "no identity" rather than a crash (TEST-CASES 29).
 */
function parseIdentity(u: unknown): StoredIdentity | undefined {
  if (typeof u !== 'object' || u === null) return undefined;
  const r = u as Record<string, unknown>;
  if (!(r.publicKey instanceof Uint8Array) || !isCryptoKey(r.privateKey) || r.privateKey.type !== 'private') return undefined;
  if (typeof r.createdAt !== 'number' || (r.username !== undefined && typeof r.username !== 'string')) return undefined;
  // Structured clone always hands back an ArrayBuffer-backed copy.
  const publicKey = r.publicKey as Uint8Array<ArrayBuffer>;
  const identity: StoredIdentity = { publicKey, privateKey: r.privateKey, createdAt: r.createdAt };
  if (typeof r.username === 'string') identity.username = r.username;
  const sealed = r.sealedPrivateKey as Partial<SealedKey> | undefined;
  if (sealed && isCryptoKey(sealed.deviceKey) && sealed.iv instanceof Uint8Array && sealed.data instanceof Uint8Array) {
    identity.sealedPrivateKey = { deviceKey: sealed.deviceKey, iv: sealed.iv, data: sealed.data };
  }
  return identity;
}

interface LockManagerLike {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>;
}

function webLocks(): LockManagerLike | undefined {
  const nav = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator;
  return typeof nav?.locks?.request === 'function' ? nav.locks : undefined;
}

export class Keystore {
  readonly #db: IDBPDatabase<KeystoreSchema>;

  private constructor(db: IDBPDatabase<KeystoreSchema>) {
    this.#db = db;
  }

  static async open(name: string = DEFAULT_KEYSTORE_NAME): Promise<Keystore> {
    const db = await openDB<KeystoreSchema>(name, KEYSTORE_VERSION, {
      upgrade(database, oldVersion) {
        // Later versions add `if (oldVersion < 2) { ... }` steps here.
        if (oldVersion < 1) {
          database.createObjectStore('identity');
          database.createObjectStore('settings');
        }
      },
      // Another tab upgrading the schema: let it, and reopen on next load.
      blocking() {
        db.close();
      },
    });
    return new Keystore(db);
  }

  close(): void {
    this.#db.close();
  }

  async loadIdentity(): Promise<StoredIdentity | undefined> {
    return parseIdentity(await this.#db.get('identity', IDENTITY_KEY));
  }

  /** Replaces the identity. For a first identity use getOrCreateIdentity instead. */
  async saveIdentity(identity: StoredIdentity): Promise<void> {
    await this.#db.put('identity', identity, IDENTITY_KEY);
  }

  async deleteIdentity(): Promise<void> {
    await this.#db.delete('identity', IDENTITY_KEY);
  }

  /**
   * The stored identity, or a new one from `create` when there is none. Two tabs opened
   * at once must not each make an identity and overwrite the other's (TEST-CASES 30):
   * with Web Locks only one tab runs this at a time; without them, the write re-checks
   * inside a readwrite transaction and the first identity stored wins for everybody.
   */
  async getOrCreateIdentity(create: () => Promise<StoredIdentity>): Promise<StoredIdentity> {
    const locks = webLocks();
    if (locks) return locks.request(IDENTITY_LOCK, () => this.#loadOrCreate(create));
    return this.#loadOrCreate(create);
  }

  async #loadOrCreate(create: () => Promise<StoredIdentity>): Promise<StoredIdentity> {
    const existing = await this.loadIdentity();
    if (existing) return existing;
    // Key generation is async WebCrypto, which would auto-commit an open transaction,
    // so create first, then check again and write in one transaction.
    const created = await create();
    const tx = this.#db.transaction('identity', 'readwrite');
    const raced = parseIdentity(await tx.store.get(IDENTITY_KEY));
    if (!raced) await tx.store.put(created, IDENTITY_KEY);
    await tx.done;
    return raced ?? created;
  }

  /** A setting, or its default when unset or unreadable (e.g. written by another version). */
  async getSetting<K extends SettingKey>(key: K): Promise<Settings[K]> {
    const parsed = v.safeParse(SettingsSchema.entries[key], await this.#db.get('settings', key));
    return parsed.success ? (parsed.output as Settings[K]) : DEFAULT_SETTINGS[key];
  }

  async setSetting<K extends SettingKey>(key: K, value: Settings[K]): Promise<void> {
    // Validate on the way in too: a bad value would otherwise silently read back as default.
    const parsed = v.parse(SettingsSchema.entries[key], value);
    await this.#db.put('settings', parsed, key);
  }

  async loadSettings(): Promise<Settings> {
    const settings: Settings = { ...DEFAULT_SETTINGS };
    const tx = this.#db.transaction('settings', 'readonly');
    for (const key of Object.keys(SettingsSchema.entries) as SettingKey[]) {
      const parsed = v.safeParse(SettingsSchema.entries[key], await tx.store.get(key));
      if (parsed.success) (settings as Record<SettingKey, unknown>)[key] = parsed.output;
    }
    await tx.done;
    return settings;
  }

  async saveSettings(patch: Partial<Settings>): Promise<void> {
    const valid = v.parse(v.partial(SettingsSchema), patch);
    const tx = this.#db.transaction('settings', 'readwrite');
    for (const [key, value] of Object.entries(valid)) {
      if (value !== undefined) await tx.store.put(value, key);
    }
    await tx.done;
  }
}

/** Opens the keystore (default database name 'p2p-chat-keys'). */
export function openKeystore(name: string = DEFAULT_KEYSTORE_NAME): Promise<Keystore> {
  return Keystore.open(name);
}
