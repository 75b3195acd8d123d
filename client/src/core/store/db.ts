import Dexie, { type DexieOptions, type EntityTable, type Table } from 'dexie';

/**
 * The chat history database (Dexie 4 over IndexedDB). Identity keys and settings live
 * elsewhere, in the keystore (keystore.ts), so wiping history never touches the keys.
 *
 * Room names and usernames arrive here already normalised (NFKC, case-folded) by the
 * protocol layer; the store compares them byte for byte.
 */

export const DEFAULT_DB_NAME = 'p2p-chat';

export interface RoomRow {
  /** Normalised room name. */
  name: string;
  /** Whether a password gates the room. */
  locked: boolean;
  /** For a direct (two-person) chat: the other person's username. */
  direct?: string;
  joinedAt: number;
  lastReadAt: number;
  lastMessageAt: number;
}

export type MessageStatus = 'sending' | 'sent' | 'delivered';

export interface MessageRow {
  id: string;
  room: string;
  from: string;
  /** Set for a private message: the one recipient. */
  to?: string;
  sentAt: number;
  /** The wire schema owns the set ('text' | 'file' | 'notice' | ...); kept as validated there. */
  kind: string;
  body: string;
  /**
   * The author's Ed25519 signature over the envelope (base64url). Kept so the message can
   * be relayed to a late joiner, who verifies it before storing.
   */
  signature: string;
  receivedAt: number;
  expiresAt: number;
  /** Only for messages we sent. */
  status?: MessageStatus;
  deliveredTo?: string[];
  /** Folded search words (search.ts); the `*words` multiEntry index serves search. */
  words: string[];
}

export type FileState = 'receiving' | 'verifying' | 'verified' | 'failed' | 'sending' | 'sent';

export interface FileRow {
  id: string;
  room: string;
  from: string;
  to?: string;
  name: string;
  size: number;
  type: string;
  /** SHA-256 of the whole plaintext (base64url), checked once every chunk is in. */
  sha256: string;
  chunkSize: number;
  chunkCount: number;
  /** The author's signature over the manifest (base64url). */
  signature: string;
  state: FileState;
  receivedChunks: number;
  sentAt: number;
  expiresAt: number;
  error?: string;
  /**
   * Where the bytes are: 'opfs' for a file in the origin private file system (one file per
   * transfer, opfs-files.ts); absent for chunk rows in this database.
   */
  bytesIn?: 'opfs';
}

export interface ChunkRow {
  fileId: string;
  index: number;
  /** In browsers prefer Blob: IndexedDB keeps Blobs on disk, so reading them back is cheap. */
  data: Uint8Array | Blob;
  /** Copied from the manifest, so the purge finds chunks by this index alone. */
  expiresAt: number;
}

export interface ContactRow {
  /** Normalised username. */
  username: string;
  /** The pinned Ed25519 public key (base64url), trusted on first use. */
  publicKey: string;
  firstSeenAt: number;
  /** The user compared safety numbers out of band. */
  verified: boolean;
  keyChangedAt?: number;
  previousKey?: string;
}

export interface OutboxRow {
  seq: number;
  room: string;
  /** The offline recipient this frame waits for. */
  to: string;
  messageId: string;
  /** Whatever the chat layer needs to resend: the envelope JSON and its signature. */
  payload: string;
  createdAt: number;
  /** Same as the message's: nothing is delivered after the sender would have forgotten it. */
  expiresAt: number;
}

export class ChatDatabase extends Dexie {
  rooms!: EntityTable<RoomRow, 'name'>;
  messages!: EntityTable<MessageRow, 'id'>;
  files!: EntityTable<FileRow, 'id'>;
  chunks!: Table<ChunkRow, [string, number]>;
  contacts!: EntityTable<ContactRow, 'username'>;
  outbox!: EntityTable<OutboxRow, 'seq'>;

  /** `options.indexedDB` / `options.IDBKeyRange` let tests or workers pass their own. */
  constructor(name: string = DEFAULT_DB_NAME, options?: DexieOptions) {
    super(name, options);

    // Only indexed properties are listed; the rest of each row is stored as is.
    this.version(1).stores({
      rooms: 'name',
      // [room+sentAt]: room pages and history sync; expiresAt: purge; *words: search.
      messages: 'id, [room+sentAt], expiresAt, *words, sentAt',
      files: 'id, room, expiresAt',
      chunks: '[fileId+index], fileId, expiresAt',
      contacts: 'username',
      // room: deleting a chat drops its queued frames too.
      outbox: '++seq, [to+room], [to+seq], messageId, room, expiresAt',
    });

    // Later schema changes go here, never by editing version 1 (browsers already hold it):
    //   this.version(2)
    //     .stores({ messages: 'id, [room+sentAt], expiresAt, *words, sentAt, newIndex' })
    //     .upgrade((tx) => tx.table('messages').toCollection().modify((m) => { ... }));
  }
}
