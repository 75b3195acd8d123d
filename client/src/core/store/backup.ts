import * as v from 'valibot';
import { ChatError, ErrorCode } from '../errors.ts';
import { decodeBase64Url, encodeBase64Url, equalBytes, concatBytes, isBase64Url } from './bytes.ts';
import { systemClock, type Clock } from './clock.ts';
import type { ChatDatabase, ContactRow, FileRow, MessageRow, RoomRow } from './db.ts';
import { BACKUP_MAX_HEADER_BYTES, BACKUP_MAX_ITERATIONS, BACKUP_PBKDF2_ITERATIONS } from './limits.ts';
import { addMessages, type NewMessage } from './messages.ts';
import { wrapQuota } from './quota.ts';
import { expiresAtFor } from './retention.ts';

/**
 * The encrypted backup file: identity, pinned contacts and, optionally, history, to move
 * to another device. Layout (all integers big-endian):
 *
 *   "P2PB"                 4 bytes, tells a backup from any other file
 *   headerLength           4 bytes (u32), at most BACKUP_MAX_HEADER_BYTES
 *   header                 UTF-8 JSON: format, version, createdAt, kdf (PBKDF2-SHA256,
 *                          iterations, salt), cipher (AES-256-GCM), iv, keyCheck
 *   ciphertext             AES-256-GCM of the contents JSON, 16-byte tag included
 *   checksum               SHA-256 of every byte before it
 *
 * Everything before the ciphertext (magic, length, header) is the AES-GCM additional
 * data, so the header cannot be altered without decryption failing.
 * Keys: PBKDF2-SHA256(NFKC(passphrase), salt, iterations) -> 32 bytes -> HKDF-SHA256
 * splits it into the AES key and a 16-byte keyCheck stored in the header. The keyCheck
 * tells "wrong passphrase" from "damaged file" (AES-GCM alone cannot), and costs an
 * attacker exactly what trying a decryption would: one full PBKDF2 per guess.
 * The checksum is unkeyed: it only lets us say "damaged or incomplete" for a flipped or
 * missing byte; deliberate tampering is caught by AES-GCM.
 *
 * File data is never in a backup: `history.files` holds manifests only, restored as
 * failed ("not included in the backup") so the chat can say where a file went.
 */

export const BACKUP_FORMAT = 'p2p-chat-backup';
export const BACKUP_VERSION = 1;
export const FILE_NOT_IN_BACKUP = 'The file itself is not included in backups.';

const MAGIC = new Uint8Array([0x50, 0x32, 0x50, 0x42]); // "P2PB"
const PREFIX_BYTES = 8; // magic + header length
const CHECKSUM_BYTES = 32;
const TAG_BYTES = 16;
const SALT_BYTES = 16;
const IV_BYTES = 12;
const KEY_CHECK_BYTES = 16;
const HKDF_INFO_KEY = 'p2p-chat-backup v1 encryption key';
const HKDF_INFO_CHECK = 'p2p-chat-backup v1 passphrase check';

const MSG_DAMAGED = 'This backup file is damaged or incomplete; nothing was restored.';
const MSG_NOT_BACKUP = 'This file is not a chat backup; nothing was restored.';
const MSG_ALTERED = 'This backup file was altered or damaged and cannot be opened; nothing was restored.';
const MSG_INVALID = 'This backup file holds data this app does not understand; nothing was restored.';
const MSG_PASSPHRASE = 'Wrong passphrase for this backup; nothing was restored.';

// ---------------------------------------------------------------------------- schemas

const Time = v.pipe(v.number(), v.safeInteger(), v.minValue(0));
const Count = v.pipe(v.number(), v.safeInteger(), v.minValue(0));
const Name = v.pipe(v.string(), v.minLength(1), v.maxLength(256));
const B64u = v.pipe(v.string(), v.check(isBase64Url, 'expected base64url'));
const bytesOf = (length?: number) =>
  v.pipe(
    B64u,
    v.transform((s) => decodeBase64Url(s) as Uint8Array<ArrayBuffer>),
    v.check((b) => length === undefined || b.length === length, `expected ${length} bytes`),
  );

const HeaderSchema = v.object({
  format: v.literal(BACKUP_FORMAT),
  version: v.literal(BACKUP_VERSION),
  createdAt: Time,
  kdf: v.object({
    name: v.literal('PBKDF2-SHA256'),
    iterations: v.pipe(v.number(), v.safeInteger(), v.minValue(1), v.maxValue(BACKUP_MAX_ITERATIONS)),
    salt: bytesOf(SALT_BYTES),
  }),
  cipher: v.literal('AES-256-GCM'),
  iv: bytesOf(IV_BYTES),
  keyCheck: bytesOf(KEY_CHECK_BYTES),
});
type Header = v.InferOutput<typeof HeaderSchema>;

const ContactSchema = v.object({
  username: Name,
  publicKey: B64u,
  firstSeenAt: Time,
  verified: v.boolean(),
  keyChangedAt: v.optional(Time),
  previousKey: v.optional(B64u),
});

const RoomSchema = v.object({
  name: Name,
  locked: v.boolean(),
  direct: v.optional(Name),
  joinedAt: Time,
  lastReadAt: Time,
  lastMessageAt: Time,
});

const MessageSchema = v.object({
  id: Name,
  room: Name,
  from: Name,
  to: v.optional(Name),
  sentAt: Time,
  kind: v.pipe(v.string(), v.minLength(1), v.maxLength(64)),
  body: v.string(),
  signature: B64u,
  receivedAt: Time,
  status: v.optional(v.picklist(['sending', 'sent', 'delivered'])),
  deliveredTo: v.optional(v.array(Name)),
});

const FileManifestSchema = v.object({
  id: Name,
  room: Name,
  from: Name,
  to: v.optional(Name),
  name: v.pipe(v.string(), v.maxLength(1024)),
  size: Count,
  type: v.pipe(v.string(), v.maxLength(256)),
  sha256: B64u,
  chunkSize: v.pipe(Count, v.minValue(1)),
  chunkCount: Count,
  signature: B64u,
  sentAt: Time,
});

const ContentsSchema = v.object({
  createdAt: Time,
  identity: v.object({
    publicKey: bytesOf(32),
    privateKeyPkcs8: bytesOf(),
    username: Name,
  }),
  contacts: v.array(ContactSchema),
  history: v.optional(
    v.object({
      rooms: v.array(RoomSchema),
      messages: v.array(MessageSchema),
      files: v.optional(v.array(FileManifestSchema)),
    }),
  ),
});

export type BackupContact = v.InferOutput<typeof ContactSchema>;
export type BackupRoom = v.InferOutput<typeof RoomSchema>;
/** A message without the fields the store derives (words, expiresAt). */
export type BackupMessage = v.InferOutput<typeof MessageSchema>;
/** A file manifest only: chunks are never backed up. */
export type BackupFile = v.InferOutput<typeof FileManifestSchema>;
export type BackupContents = v.InferOutput<typeof ContentsSchema>;

export interface BackupInput {
  identity: { publicKey: Uint8Array; privateKeyPkcs8: Uint8Array; username: string };
  contacts: readonly ContactRow[];
  history?: {
    rooms: readonly RoomRow[];
    messages: readonly (MessageRow | BackupMessage)[];
    /** Manifests only; file data is not backed up. */
    files?: readonly (FileRow | BackupFile)[];
  };
}

// ------------------------------------------------------------------------------ crypto

const subtle = () => globalThis.crypto.subtle;
const utf8 = (s: string) => new TextEncoder().encode(s);

async function deriveKeys(
  passphrase: string,
  salt: Uint8Array<ArrayBuffer>,
  iterations: number,
): Promise<{ key: CryptoKey; keyCheck: Uint8Array }> {
  // NFKC: the same passphrase typed on another system (composed or decomposed Vietnamese
  // letters) must open the file.
  const password = await subtle().importKey('raw', utf8(passphrase.normalize('NFKC')), 'PBKDF2', false, ['deriveBits']);
  const master = await subtle().deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt, iterations }, password, 256);
  const hkdf = await subtle().importKey('raw', master, 'HKDF', false, ['deriveKey', 'deriveBits']);
  const hkdfParams = (info: string) => ({ name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: utf8(info) });
  const key = await subtle().deriveKey(hkdfParams(HKDF_INFO_KEY), hkdf, { name: 'AES-GCM', length: 256 }, false, [
    'encrypt',
    'decrypt',
  ]);
  const keyCheck = new Uint8Array(await subtle().deriveBits(hkdfParams(HKDF_INFO_CHECK), hkdf, KEY_CHECK_BYTES * 8));
  return { key, keyCheck };
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  return new Uint8Array(await subtle().digest('SHA-256', bytes));
}

// ---------------------------------------------------------------------------- export

function pickMessage(m: MessageRow | BackupMessage): BackupMessage {
  const out: BackupMessage = {
    id: m.id,
    room: m.room,
    from: m.from,
    sentAt: m.sentAt,
    kind: m.kind,
    body: m.body,
    signature: m.signature,
    receivedAt: m.receivedAt,
  };
  if (m.to !== undefined) out.to = m.to;
  if (m.status !== undefined) out.status = m.status;
  if (m.deliveredTo !== undefined) out.deliveredTo = [...m.deliveredTo];
  return out;
}

function pickFile(f: FileRow | BackupFile): BackupFile {
  const out: BackupFile = {
    id: f.id,
    room: f.room,
    from: f.from,
    name: f.name,
    size: f.size,
    type: f.type,
    sha256: f.sha256,
    chunkSize: f.chunkSize,
    chunkCount: f.chunkCount,
    signature: f.signature,
    sentAt: f.sentAt,
  };
  if (f.to !== undefined) out.to = f.to;
  return out;
}

export interface ExportOptions {
  /** Defaults to BACKUP_PBKDF2_ITERATIONS; lower only in tests. */
  iterations?: number;
}

/** Encrypts identity, contacts and (optionally) history into a backup file's bytes. */
export async function exportBackup(
  input: BackupInput,
  passphrase: string,
  clock: Clock = systemClock,
  { iterations = BACKUP_PBKDF2_ITERATIONS }: ExportOptions = {},
): Promise<Uint8Array> {
  if (passphrase.length === 0) {
    throw new ChatError(ErrorCode.BackupPassphrase, 'Choose a passphrase to protect the backup.');
  }
  if (!Number.isSafeInteger(iterations) || iterations < 1 || iterations > BACKUP_MAX_ITERATIONS) {
    throw new RangeError(`backup iterations must be 1..${BACKUP_MAX_ITERATIONS}`);
  }
  const createdAt = clock.now();
  const history = input.history;
  const contents = {
    createdAt,
    identity: {
      publicKey: encodeBase64Url(input.identity.publicKey),
      privateKeyPkcs8: encodeBase64Url(input.identity.privateKeyPkcs8),
      username: input.identity.username,
    },
    contacts: input.contacts.map((c) => ({ ...c })),
    ...(history && {
      history: {
        rooms: history.rooms.map((r) => ({ ...r })),
        messages: history.messages.map(pickMessage),
        ...(history.files && { files: history.files.map(pickFile) }),
      },
    }),
  };
  // Refuse to write a file we could not read back.
  const checked = v.safeParse(ContentsSchema, JSON.parse(JSON.stringify(contents)));
  if (!checked.success) {
    throw new ChatError(ErrorCode.Backup, `Cannot back up: ${v.summarize(checked.issues)}`);
  }

  const salt = globalThis.crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const iv = globalThis.crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const { key, keyCheck } = await deriveKeys(passphrase, salt, iterations);
  const header = utf8(
    JSON.stringify({
      format: BACKUP_FORMAT,
      version: BACKUP_VERSION,
      createdAt,
      kdf: { name: 'PBKDF2-SHA256', iterations, salt: encodeBase64Url(salt) },
      cipher: 'AES-256-GCM',
      iv: encodeBase64Url(iv),
      keyCheck: encodeBase64Url(keyCheck),
    }),
  );
  const prefix = new Uint8Array(PREFIX_BYTES);
  prefix.set(MAGIC);
  new DataView(prefix.buffer).setUint32(4, header.length);
  const additionalData = concatBytes(prefix, header);
  const ciphertext = new Uint8Array(
    await subtle().encrypt({ name: 'AES-GCM', iv, additionalData }, key, utf8(JSON.stringify(checked.output, replaceBytes))),
  );
  const body = concatBytes(additionalData, ciphertext);
  return concatBytes(body, await sha256(body));
}

/** JSON for the validated contents: bytes go back to base64url. */
function replaceBytes(_key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? encodeBase64Url(value) : value;
}

// ---------------------------------------------------------------------------- import

function fail(code: ErrorCode, message: string, cause?: unknown): never {
  throw new ChatError(code, message, cause === undefined ? undefined : { cause });
}

function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    return fail(ErrorCode.Backup, MSG_INVALID, e);
  }
}

function parseHeader(bytes: Uint8Array): Header {
  const raw = parseJson(bytes);
  const framing = v.safeParse(v.object({ format: v.literal(BACKUP_FORMAT), version: v.number() }), raw);
  if (!framing.success) fail(ErrorCode.Backup, MSG_NOT_BACKUP);
  if (framing.output.version !== BACKUP_VERSION) {
    fail(
      ErrorCode.Backup,
      `This backup uses format version ${framing.output.version}, which this version of the app cannot read; nothing was restored.`,
    );
  }
  const header = v.safeParse(HeaderSchema, raw);
  if (!header.success) fail(ErrorCode.Backup, MSG_INVALID, new Error(v.summarize(header.issues)));
  return header.output;
}

/**
 * Opens a backup file: checks framing and checksum, the passphrase, the AES-GCM tag, and
 * the contents' schema, all before returning. Nothing is written anywhere.
 * Wrong passphrase -> ERR_BACKUP_PASSPHRASE; anything else wrong -> ERR_BACKUP.
 */
export async function importBackup(file: Uint8Array, passphrase: string): Promise<BackupContents> {
  // Our own copy: safe from caller changes, and offset 0 in its own ArrayBuffer even when
  // `file` is a view into a larger buffer (where .slice() may not copy, e.g. Node's Buffer).
  const bytes = new Uint8Array(file);
  if (!equalBytes(bytes.subarray(0, MAGIC.length), MAGIC)) fail(ErrorCode.Backup, MSG_NOT_BACKUP);
  if (bytes.length < PREFIX_BYTES + TAG_BYTES + CHECKSUM_BYTES) fail(ErrorCode.Backup, MSG_DAMAGED);

  const body = bytes.subarray(0, bytes.length - CHECKSUM_BYTES);
  if (!equalBytes(await sha256(body), bytes.subarray(body.length))) fail(ErrorCode.Backup, MSG_DAMAGED);

  const headerLength = new DataView(bytes.buffer).getUint32(4);
  if (headerLength < 2 || headerLength > BACKUP_MAX_HEADER_BYTES || PREFIX_BYTES + headerLength + TAG_BYTES > body.length) {
    fail(ErrorCode.Backup, MSG_DAMAGED);
  }
  const headerEnd = PREFIX_BYTES + headerLength;
  const header = parseHeader(bytes.subarray(PREFIX_BYTES, headerEnd));

  const { key, keyCheck } = await deriveKeys(passphrase, header.kdf.salt, header.kdf.iterations);
  if (!equalBytes(keyCheck, header.keyCheck)) fail(ErrorCode.BackupPassphrase, MSG_PASSPHRASE);

  let plaintext: Uint8Array;
  try {
    plaintext = new Uint8Array(
      await subtle().decrypt(
        { name: 'AES-GCM', iv: header.iv, additionalData: bytes.slice(0, headerEnd) },
        key,
        bytes.slice(headerEnd, body.length),
      ),
    );
  } catch (e) {
    return fail(ErrorCode.Backup, MSG_ALTERED, e);
  }
  const contents = v.safeParse(ContentsSchema, parseJson(plaintext));
  if (!contents.success) fail(ErrorCode.Backup, MSG_INVALID, new Error(v.summarize(contents.issues)));
  return contents.output;
}

// --------------------------------------------------------------------------- restore

export interface RestoreCounts {
  contacts: number;
  rooms: number;
  messages: number;
  files: number;
}

/**
 * Writes a decrypted, validated backup into the history database, in one transaction,
 * adding only what is missing: nothing already on this device is overwritten (a pinned
 * key here wins over the backup's). Expired history is skipped. The identity is not
 * written here: the caller imports `contents.identity` into the keystore.
 */
export async function restoreBackup(
  db: ChatDatabase,
  contents: BackupContents,
  clock: Clock = systemClock,
): Promise<RestoreCounts> {
  const now = clock.now();
  const history = contents.history;
  const fileNames = new Map((history?.files ?? []).map((f) => [f.id, f.name]));

  return wrapQuota(() =>
    db.transaction('rw', [db.contacts, db.rooms, db.messages, db.files], async () => {
      const haveContacts = new Set(
        await db.contacts.where(':id').anyOf(contents.contacts.map((c) => c.username)).primaryKeys(),
      );
      const contacts = contents.contacts.filter((c) => !haveContacts.has(c.username));
      await db.contacts.bulkPut(contacts);

      const rooms = history?.rooms ?? [];
      const haveRooms = new Set(await db.rooms.where(':id').anyOf(rooms.map((r) => r.name)).primaryKeys());
      const newRooms = rooms.filter((r) => !haveRooms.has(r.name));
      await db.rooms.bulkPut(newRooms);

      const messages: NewMessage[] = (history?.messages ?? []).map((m) => {
        // A file message shares its id with its manifest: keep it findable by file name.
        const name = m.kind === 'file' ? fileNames.get(m.id) : undefined;
        return name === undefined ? m : { ...m, searchText: name };
      });
      const addedMessages = await addMessages(db, messages, clock);

      const files = (history?.files ?? [])
        .map((f): FileRow => ({ ...f, state: 'failed', error: FILE_NOT_IN_BACKUP, receivedChunks: 0, expiresAt: expiresAtFor(f.sentAt, now) }))
        .filter((f) => f.expiresAt > now);
      const haveFiles = new Set(await db.files.where(':id').anyOf(files.map((f) => f.id)).primaryKeys());
      const newFiles = files.filter((f) => !haveFiles.has(f.id));
      await db.files.bulkPut(newFiles);

      return { contacts: contacts.length, rooms: newRooms.length, messages: addedMessages, files: newFiles.length };
    }),
  );
}

/** The app's restore flow: open the file fully first, then write; any failure writes nothing. */
export async function restoreBackupFile(
  db: ChatDatabase,
  file: Uint8Array,
  passphrase: string,
  clock: Clock = systemClock,
): Promise<{ contents: BackupContents; restored: RestoreCounts }> {
  const contents = await importBackup(file, passphrase);
  const restored = await restoreBackup(db, contents, clock);
  return { contents, restored };
}

/** Everything a full backup needs from the history database, read in one snapshot. */
export async function readBackupData(
  db: ChatDatabase,
): Promise<{ contacts: ContactRow[]; history: { rooms: RoomRow[]; messages: MessageRow[]; files: FileRow[] } }> {
  return db.transaction('r', [db.contacts, db.rooms, db.messages, db.files], async () => ({
    contacts: await db.contacts.toArray(),
    history: {
      rooms: await db.rooms.toArray(),
      messages: await db.messages.toArray(),
      // A file still unsigned (being hashed, or begun by a sender that never signed it) proves nothing.
      files: (await db.files.toArray()).filter((f) => f.signature !== ''),
    },
  }));
}
