import { readFile } from 'node:fs/promises';
import * as v from 'valibot';
import type { ChatMessage, ChatStorage, Contact, ContactBook, HistoryCursor, MessageLog, Outbox, OutboxEntry, RoomBook, SavedRoom } from '../../client/src/core/chat/ports.ts';
import { HISTORY_TTL_MS } from '../../client/src/core/store/limits.ts';
import { expiresAtFor } from '../../client/src/core/store/retention.ts';
import { writeFileAtomic } from './atomic-file.ts';
import { CliError, CliErrorCode } from './errors.ts';
import { MAX_STORAGE_FILE_BYTES } from './limits.ts';

/**
 * Core's storage ports (contacts and pinned keys, messages, outbox, rooms) in one JSON file
 * for the headless peer. Everything lives in memory; each change rewrites the file
 * atomically (write a temporary file, fsync, rename over the old one), and the change's
 * promise resolves once it is on disk, as an IndexedDB transaction would. Changes made
 * while a write is pending share the next write.
 *
 * Messages and queued messages expire 7 days after they were sent, like the browser's.
 */

const FILE_VERSION = 1;

const Str = v.string();
const ContactRecord = v.object({
  username: Str,
  publicKey: Str,
  verified: v.boolean(),
  firstSeenAt: v.number(),
  pendingKey: v.optional(Str),
  keyChangedAt: v.optional(v.number()),
});
const MessageRecord = v.object({
  id: Str,
  room: Str,
  from: Str,
  to: v.optional(Str),
  sentAt: v.number(),
  kind: v.picklist(['text', 'file']),
  body: Str,
  signature: Str,
  status: v.picklist(['sending', 'sent', 'delivered', 'received']),
  deliveredTo: v.array(Str),
  receivedAt: v.number(),
  /** Derived on insert from `sentAt` (clamped against a lying clock), never from a peer. */
  expiresAt: v.number(),
});
const OutboxRecord = v.object({
  seq: v.number(),
  room: Str,
  to: Str,
  messageId: Str,
  payload: Str,
  createdAt: v.number(),
});
/** NOTE: no join token and no proof key: both stand for the room password, which stays off disk. */
const RoomRecord = v.object({ key: Str, name: Str, locked: v.boolean() });
const StorageFile = v.object({
  v: v.literal(FILE_VERSION),
  contacts: v.array(ContactRecord),
  messages: v.array(MessageRecord),
  outbox: v.array(OutboxRecord),
  nextSeq: v.number(),
  rooms: v.array(RoomRecord),
});
type StorageFile = v.InferOutput<typeof StorageFile>;
type MessageRecord = v.InferOutput<typeof MessageRecord>;

export interface FileStorageOptions {
  now?: () => number;
}

const byTime = (a: ChatMessage, b: ChatMessage) => a.sentAt - b.sentAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

function toMessage(r: MessageRecord): ChatMessage {
  const { expiresAt: _, ...m } = r;
  return { ...m, deliveredTo: [...m.deliveredTo] };
}

export class FileChatStorage implements ChatStorage {
  readonly path: string;
  readonly contacts: ContactBook;
  readonly messages: MessageLog;
  readonly outbox: Outbox;
  readonly rooms: RoomBook;
  readonly #now: () => number;
  readonly #contacts = new Map<string, Contact>();
  readonly #messages = new Map<string, MessageRecord>();
  readonly #outbox = new Map<number, OutboxEntry & { seq: number }>();
  readonly #rooms = new Map<string, { key: string; name: string; locked: boolean }>();
  /** Proof keys of password rooms, for this process only: a CryptoKey cannot be written to a file. */
  readonly #proofKeys = new Map<string, { joinToken: string; peerProofKey: CryptoKey }>();
  #nextSeq = 1;
  /** A write that has not taken its snapshot yet; later changes ride along with it. */
  #scheduled: Promise<void> | null = null;
  #tail: Promise<void> = Promise.resolve();
  /** A write nobody waited for that failed; reported by the next flush(). */
  #backgroundError: unknown = null;

  private constructor(path: string, now: () => number) {
    this.path = path;
    this.#now = now;
    this.contacts = {
      get: async (username) => {
        const c = this.#contacts.get(username);
        return c ? { ...c } : undefined;
      },
      put: (contact) => {
        this.#contacts.set(contact.username, { ...contact });
        return this.#commit();
      },
    };
    this.messages = {
      add: async (m) => {
        const now = this.#now();
        const expiresAt = expiresAtFor(m.sentAt, now);
        // Relayed history older than 7 days is refused rather than stored and purged.
        if (this.#messages.has(m.id) || expiresAt <= now) return false;
        this.#messages.set(m.id, { ...m, deliveredTo: [...m.deliveredTo], expiresAt });
        await this.#commit();
        return true;
      },
      recent: async (room, limit) => this.#inRoom(room).slice(-limit).map(toMessage),
      since: async (room, after, limit, visibleTo) => this.#since(room, after, limit, visibleTo),
      markDelivered: async (id, username) => {
        const m = this.#messages.get(id);
        if (!m) return undefined;
        m.status = 'delivered';
        if (!m.deliveredTo.includes(username)) m.deliveredTo.push(username);
        await this.#commit();
        return toMessage(m);
      },
      deleteRoom: (room) => {
        for (const [id, m] of this.#messages) if (m.room === room) this.#messages.delete(id);
        for (const [seq, e] of this.#outbox) if (e.room === room) this.#outbox.delete(seq);
        return this.#commit();
      },
    };
    this.outbox = {
      add: (entry) => {
        const seq = this.#nextSeq++;
        this.#outbox.set(seq, { ...entry, seq });
        return this.#commit();
      },
      pending: async (room, to) => [...this.#outbox.values()].filter((e) => e.room === room && e.to === to).map((e) => ({ ...e })),
      remove: (seq) => {
        if (!this.#outbox.delete(seq)) return Promise.resolve();
        return this.#commit();
      },
    };
    this.rooms = {
      // NOTE: a password room is listed only while its proof key is in memory. After a
      // restart the key is gone (it is never written down), and re-joining without it would
      // fail at the server and leave the peers unable to prove membership: the password
      // must be given again.
      list: async () =>
        [...this.#rooms.values()]
          .filter((r) => !r.locked || this.#proofKeys.has(r.key))
          .map((r) => ({ ...r, ...(this.#proofKeys.get(r.key) ?? {}) })),
      // NOTE: saving a room does not wait for the disk. ChatClient awaits this save between
      // the server's join answer and applying the roster that came with it; meanwhile newer
      // roster pushes are applied first and the older join roster then overwrites them, so
      // a member who joined at the same moment stays "left" for good. Resolving at once
      // leaves no gap for a push to slip into (see cli/README.md, core changes).
      save: async (room: SavedRoom) => {
        this.#rooms.set(room.key, { key: room.key, name: room.name, locked: room.locked });
        if (room.joinToken && room.peerProofKey) this.#proofKeys.set(room.key, { joinToken: room.joinToken, peerProofKey: room.peerProofKey });
        this.#commitInBackground();
      },
      remove: async (key) => {
        this.#rooms.delete(key);
        this.#proofKeys.delete(key);
        this.#commitInBackground();
      },
    };
  }

  /**
   * Opens (or starts) the file at `path`. A file that exists but cannot be read as ours is
   * refused, never replaced: it holds the pinned keys, and starting over silently would
   * trust whatever key a server announces next (trust on first use, again).
   */
  static async open(path: string, opts: FileStorageOptions = {}): Promise<FileChatStorage> {
    const storage = new FileChatStorage(path, opts.now ?? Date.now);
    let text: string | null = null;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new CliError(CliErrorCode.Storage, `cannot read ${path}: ${(e as Error).message}`, { cause: e });
    }
    if (text !== null) storage.#load(text);
    return storage;
  }

  #load(text: string): void {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      throw this.#unreadable('it is not valid JSON');
    }
    const parsed = v.safeParse(StorageFile, raw);
    if (!parsed.success) {
      const version = (raw as { v?: unknown } | null)?.v;
      if (typeof version === 'number' && version !== FILE_VERSION) throw this.#unreadable(`it was written by another version (format ${version}, this one reads ${FILE_VERSION})`);
      throw this.#unreadable(`it does not have the expected shape (${parsed.issues[0].message} at ${v.getDotPath(parsed.issues[0]) ?? 'top level'})`);
    }
    const file = parsed.output;
    for (const c of file.contacts) this.#contacts.set(c.username, stripUndefined(c) as Contact);
    for (const m of file.messages) this.#messages.set(m.id, stripUndefined(m) as MessageRecord);
    for (const e of file.outbox) this.#outbox.set(e.seq, e);
    for (const r of file.rooms) this.#rooms.set(r.key, r);
    this.#nextSeq = Math.max(file.nextSeq, ...file.outbox.map((e) => e.seq + 1), 1);
    this.#purgeExpired();
  }

  #unreadable(why: string): CliError {
    return new CliError(
      CliErrorCode.Storage,
      `cannot use ${this.path}: ${why}. It holds your contacts' pinned keys, so it is left untouched; move it aside to start over (every contact will be new again).`,
    );
  }

  #inRoom(room: string): MessageRecord[] {
    return [...this.#messages.values()].filter((m) => m.room === room).sort(byTime);
  }

  #since(room: string, after: HistoryCursor, limit: number, visibleTo: string): ChatMessage[] {
    const who = visibleTo.toLowerCase();
    return this.#inRoom(room)
      .filter((m) => (typeof after === 'number' ? m.sentAt >= after : m.sentAt > after.sentAt || (m.sentAt === after.sentAt && m.id > after.id)))
      .filter((m) => m.to === undefined || m.to.toLowerCase() === who || m.from.toLowerCase() === who)
      .slice(0, Math.max(0, limit))
      .map(toMessage);
  }

  /** The 7-day promise: what was sent more than a week ago is dropped before each write. */
  #purgeExpired(): void {
    const now = this.#now();
    for (const [id, m] of this.#messages) if (m.expiresAt <= now) this.#messages.delete(id);
    for (const [seq, e] of this.#outbox) if (e.createdAt + HISTORY_TTL_MS <= now) this.#outbox.delete(seq);
  }

  #snapshot(): string {
    this.#purgeExpired();
    const file: StorageFile = {
      v: FILE_VERSION,
      contacts: [...this.#contacts.values()],
      messages: [...this.#messages.values()],
      outbox: [...this.#outbox.values()],
      nextSeq: this.#nextSeq,
      rooms: [...this.#rooms.values()],
    };
    return JSON.stringify(file);
  }

  /** Resolves when the current state (this change included) is on disk. */
  #commit(): Promise<void> {
    if (this.#scheduled) return this.#scheduled;
    const write = this.#tail.then(() => {
      this.#scheduled = null;
      return this.#write(this.#snapshot());
    });
    this.#scheduled = write;
    this.#tail = write.catch(() => undefined);
    return write;
  }

  async #write(text: string): Promise<void> {
    if (Buffer.byteLength(text) > MAX_STORAGE_FILE_BYTES) {
      throw new CliError(CliErrorCode.Storage, `${this.path} would grow past ${MAX_STORAGE_FILE_BYTES} bytes; this change was not saved`);
    }
    try {
      // NOTE: atomic, or a crash mid-write could lose the pinned keys.
      await writeFileAtomic(this.path, text);
    } catch (e) {
      throw new CliError(CliErrorCode.Storage, `could not save ${this.path}: ${(e as Error).message}`, { cause: e });
    }
  }

  #commitInBackground(): void {
    this.#commit().catch((e: unknown) => (this.#backgroundError = e));
  }

  /** Waits for every change made so far to reach the disk. */
  async flush(): Promise<void> {
    await (this.#scheduled ?? this.#tail);
    const failed = this.#backgroundError;
    this.#backgroundError = null;
    if (failed) throw failed;
  }
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, value]) => value !== undefined)) as T;
}
