/**
 * What the chat layer needs from storage, as small interfaces: the Dexie store implements
 * them in the browser, memory implementations serve unit tests and short-lived bots.
 */

export type TrustState = 'new' | 'verified' | 'changed';

export interface Contact {
  /** Case-folded username. */
  username: string;
  /** Pinned key (base64url raw Ed25519), the first one seen unless the user accepted a change. */
  publicKey: string;
  verified: boolean;
  firstSeenAt: number;
  /** Set while an announced key differs from the pinned one and the user has not accepted it. */
  pendingKey?: string;
  keyChangedAt?: number;
}

export interface ContactBook {
  get(username: string): Promise<Contact | undefined>;
  put(contact: Contact): Promise<void>;
}

export type DeliveryStatus = 'sending' | 'sent' | 'delivered' | 'received';

export interface ChatMessage {
  id: string;
  room: string;
  from: string;
  to?: string;
  sentAt: number;
  kind: 'text' | 'file';
  body: string;
  /** The author's signature over the envelope, kept so history can be relayed and re-verified. */
  signature: string;
  status: DeliveryStatus;
  /** Usernames (case-folded) that acknowledged receipt. */
  deliveredTo: string[];
  receivedAt: number;
}

/** A position in a room's history: a time, or the last message already seen. */
export type HistoryCursor = number | { sentAt: number; id: string };

export interface MessageLog {
  /** False when a message with this id is already stored (replay, relayed duplicate). */
  add(m: ChatMessage): Promise<boolean>;
  recent(room: string, limit: number): Promise<ChatMessage[]>;
  /**
   * One page of a room's history after a position, oldest first. `visibleTo` keeps other
   * people's private messages out of what is relayed to a member.
   */
  since(room: string, after: HistoryCursor, limit: number, visibleTo: string): Promise<ChatMessage[]>;
  markDelivered(id: string, username: string): Promise<ChatMessage | undefined>;
  deleteRoom(room: string): Promise<void>;
}

export interface OutboxEntry {
  seq?: number;
  room: string;
  /** Case-folded recipient username. */
  to: string;
  messageId: string;
  /** The signed envelope, serialised, exactly as it will be sent. */
  payload: string;
  createdAt: number;
}

export interface Outbox {
  add(entry: OutboxEntry): Promise<void>;
  /** Oldest first. */
  pending(room: string, to: string): Promise<OutboxEntry[]>;
  remove(seq: number): Promise<void>;
}

/** A room this browser is in, remembered so a reloaded tab re-joins it. */
export interface SavedRoom {
  key: string;
  name: string;
  locked: boolean;
  /** Password rooms: the token the server checks, and the non-extractable proof key. */
  joinToken?: string;
  peerProofKey?: CryptoKey;
  /** A direct (two-person) chat: the other person's username as the server registered it. */
  direct?: string;
}

export interface RoomBook {
  list(): Promise<SavedRoom[]>;
  save(room: SavedRoom): Promise<void>;
  remove(key: string): Promise<void>;
}

export interface ChatStorage {
  contacts: ContactBook;
  messages: MessageLog;
  outbox: Outbox;
  rooms: RoomBook;
}
