/**
 * Data-channel frames: their byte layout, their schemas, and parsers that turn untrusted
 * input into typed values or a typed error. Nothing else reads raw frames.
 *
 * Before the handshake only a text `hello` frame is accepted. After it, every frame is
 * binary and sealed: [version u8][type u8][nonce 12 bytes][type-specific header][ciphertext+tag].
 * The whole header, plus the room and both usernames, is the AES-GCM additional data, so
 * a frame moved to another room, sender or recipient fails to authenticate.
 */
import * as v from 'valibot';
import { canonicalBytes } from '../crypto/canonical.ts';
import { ChatError, ErrorCode } from '../errors.ts';
import { MAX_APP_FRAME_BYTES, MAX_MESSAGE_CHARS } from './limits.ts';

export const WIRE_VERSION = 1;

export const FrameType = { App: 1, Chunk: 2 } as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const BASE_HEADER = 2 + NONCE_BYTES;
export const TRANSFER_ID_BYTES = 16;
const CHUNK_HEADER = BASE_HEADER + TRANSFER_ID_BYTES + 4 + 1;

export interface ChunkHeader {
  transferId: Uint8Array;
  index: number;
  final: boolean;
}

export interface SealedFrame {
  type: FrameType;
  nonce: Uint8Array;
  chunk?: ChunkHeader;
  /** The exact header bytes, authenticated as additional data. */
  header: Uint8Array;
  sealed: Uint8Array;
}

export function encodeHeader(type: FrameType, nonce: Uint8Array, chunk?: ChunkHeader): Uint8Array {
  const header = new Uint8Array(type === FrameType.Chunk ? CHUNK_HEADER : BASE_HEADER);
  header[0] = WIRE_VERSION;
  header[1] = type;
  header.set(nonce, 2);
  if (type === FrameType.Chunk) {
    if (!chunk || chunk.transferId.length !== TRANSFER_ID_BYTES) throw new Error('chunk frame needs a 16-byte transfer id');
    header.set(chunk.transferId, BASE_HEADER);
    new DataView(header.buffer).setUint32(BASE_HEADER + TRANSFER_ID_BYTES, chunk.index);
    header[CHUNK_HEADER - 1] = chunk.final ? 1 : 0;
  }
  return header;
}

/**
 * The frame `header` + `sealed`, in a new buffer or, given `into` (large enough), in its
 * first bytes: a view of exactly the frame.
 */
export function encodeFrame(header: Uint8Array, sealed: Uint8Array, into?: Uint8Array): Uint8Array {
  const length = header.length + sealed.length;
  const out = into ? into.subarray(0, length) : new Uint8Array(length);
  if (out.length !== length) throw new RangeError(`a ${length}-byte frame does not fit a ${into?.length}-byte buffer`);
  out.set(header, 0);
  out.set(sealed, header.length);
  return out;
}

/** Parses the layout only; rejects short or unknown frames before any decryption. */
export function decodeFrame(bytes: Uint8Array): SealedFrame {
  if (bytes.length < BASE_HEADER + TAG_BYTES) throw new ChatError(ErrorCode.Malformed, 'frame too short');
  if (bytes[0] !== WIRE_VERSION) throw new ChatError(ErrorCode.Version, `peer speaks frame version ${bytes[0]}, we speak ${WIRE_VERSION}`);
  const type = bytes[1];
  const nonce = bytes.subarray(2, BASE_HEADER);
  if (type === FrameType.App) {
    return { type, nonce, header: bytes.subarray(0, BASE_HEADER), sealed: bytes.subarray(BASE_HEADER) };
  }
  if (type === FrameType.Chunk) {
    if (bytes.length < CHUNK_HEADER + TAG_BYTES) throw new ChatError(ErrorCode.Malformed, 'chunk frame too short');
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const finalFlag = bytes[CHUNK_HEADER - 1];
    if (finalFlag !== 0 && finalFlag !== 1) throw new ChatError(ErrorCode.Malformed, 'bad final flag');
    return {
      type,
      nonce,
      chunk: {
        transferId: bytes.slice(BASE_HEADER, BASE_HEADER + TRANSFER_ID_BYTES),
        index: view.getUint32(BASE_HEADER + TRANSFER_ID_BYTES),
        final: finalFlag === 1,
      },
      header: bytes.subarray(0, CHUNK_HEADER),
      sealed: bytes.subarray(CHUNK_HEADER),
    };
  }
  throw new ChatError(ErrorCode.Malformed, `unknown frame type ${type}`);
}

/** Additional data: binds the header to this room and this direction of this pair. */
export function frameAad(header: Uint8Array, ctx: { room: string; from: string; to: string }): Uint8Array {
  return canonicalBytes('p2pchat/v1/frame', [header, ctx.room, ctx.from, ctx.to]);
}

// ---- text frames (before the handshake) ---------------------------------------------

const B64u = (max: number) => v.pipe(v.string(), v.maxLength(max), v.regex(/^[A-Za-z0-9_-]*$/));
const Short = (max: number) => v.pipe(v.string(), v.maxLength(max));

export const HelloSchema = v.strictObject({
  v: v.number(),
  room: Short(256),
  username: Short(128),
  peerUsername: Short(128),
  identityKey: B64u(64),
  peerIdentityKey: B64u(64),
  ephemeralKey: B64u(64),
  nonce: B64u(64),
  localFingerprint: Short(256),
  remoteFingerprint: Short(256),
  roomProof: v.optional(B64u(64)),
});

export const HelloFrame = v.strictObject({
  t: v.literal('hello'),
  hello: HelloSchema,
  signature: B64u(128),
});
export type HelloFrame = v.InferOutput<typeof HelloFrame>;

/** Sent before closing, so the other side can tell its user why. */
export const ByeFrame = v.strictObject({ t: v.literal('bye'), code: Short(64), message: Short(512) });
export type ByeFrame = v.InferOutput<typeof ByeFrame>;

export const TextFrame = v.variant('t', [HelloFrame, ByeFrame]);
export type TextFrame = v.InferOutput<typeof TextFrame>;

export function parseTextFrame(text: string): TextFrame {
  if (text.length > 8 * 1024) throw new ChatError(ErrorCode.Malformed, 'text frame too large');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ChatError(ErrorCode.Malformed, 'text frame is not JSON');
  }
  const r = v.safeParse(TextFrame, json);
  if (!r.success) throw new ChatError(ErrorCode.Malformed, `bad text frame: ${r.issues[0].message}`);
  return r.output;
}

// ---- application messages (inside sealed App frames) -----------------------------------

const Id = v.pipe(v.string(), v.minLength(8), v.maxLength(64), v.regex(/^[A-Za-z0-9_-]+$/));

export const EnvelopeSchema = v.strictObject({
  id: Id,
  room: Short(256),
  from: Short(128),
  to: v.optional(Short(128)),
  sentAt: v.pipe(v.number(), v.integer(), v.minValue(0)),
  kind: v.picklist(['text', 'file']),
  body: Short(MAX_MESSAGE_CHARS * 4),
});
export type EnvelopeWire = v.InferOutput<typeof EnvelopeSchema>;

const SignedEnvelope = v.strictObject({ env: EnvelopeSchema, sig: B64u(128) });

// ---- file transfer control messages (files/ owns the logic; chunks travel as Chunk frames)

/** A file id is the base64url of the 16-byte transfer id carried in every chunk header. */
const FileId = v.pipe(v.string(), v.length(22), v.regex(/^[A-Za-z0-9_-]+$/));
const Count = (max: number) => v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(max));
/** Longest file name accepted from a peer; names are sanitised again before any use. */
export const MAX_FILE_NAME_CHARS = 1024;
/** Longest MIME type accepted from a peer. */
export const MAX_FILE_TYPE_CHARS = 255;

/** The signed fields of a file manifest (crypto/signed.ts AddressedManifest). */
export const FileManifestSchema = v.strictObject({
  id: FileId,
  name: Short(MAX_FILE_NAME_CHARS),
  size: Count(Number.MAX_SAFE_INTEGER),
  type: Short(MAX_FILE_TYPE_CHARS),
  sha256: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/)),
  chunkSize: Count(16 * 1024 * 1024),
  // Chunk indices are u32 in the frame header.
  chunkCount: Count(0xffff_ffff),
  room: Short(256),
  from: Short(128),
  to: v.optional(Short(128)),
});
export type FileManifestWire = v.InferOutput<typeof FileManifestSchema>;

/** The manifest of a file-begin: every field but the hash, which the sender is still computing. */
export const BegunManifestSchema = v.strictObject({ ...v.omit(FileManifestSchema, ['sha256']).entries });

/** A manifest with its author's signature: the file-offer payload and a 'file' message body. */
export const SignedManifestSchema = v.strictObject({ manifest: FileManifestSchema, sig: B64u(128) });
export type SignedManifestWire = v.InferOutput<typeof SignedManifestSchema>;

/** Why a transfer stopped, as told to the other side. */
export const FileCancelReason = v.picklist([
  'cancelled',
  'refused',
  'too-large',
  'altered',
  'order',
  'size',
  'quota',
  'unavailable',
  'failed',
]);
export type FileCancelReason = v.InferOutput<typeof FileCancelReason>;

const FileMessages = [
  /** Sender: here is a signed manifest; reply with file-resume to receive it. */
  v.strictObject({ t: v.literal('file-offer'), manifest: FileManifestSchema, sig: B64u(128), sentAt: Count(Number.MAX_SAFE_INTEGER) }),
  /**
   * Sender: here is a file I am still hashing; reply with file-resume to receive it, and
   * keep it unverified until its file-manifest (the same fields, hashed and signed).
   */
  v.strictObject({ t: v.literal('file-begin'), manifest: BegunManifestSchema, sentAt: Count(Number.MAX_SAFE_INTEGER) }),
  /** Sender: the signed manifest of a file sent with file-begin. */
  v.strictObject({ t: v.literal('file-manifest'), manifest: FileManifestSchema, sig: B64u(128) }),
  /** Receiver: send chunks from index `from` (0 = start; after a reconnect, first missing). */
  v.strictObject({ t: v.literal('file-resume'), id: FileId, from: Count(0xffff_ffff) }),
  /** Receiver: chunks 0..upTo are stored (flow control and "last confirmed chunk"). */
  v.strictObject({ t: v.literal('file-ack'), id: FileId, upTo: Count(0xffff_ffff) }),
  /** Sender: every chunk was sent; a receiver still missing the final chunk fails the file. */
  v.strictObject({ t: v.literal('file-end'), id: FileId }),
  /** Receiver: every chunk stored and the SHA-256 matched the signed manifest. */
  v.strictObject({ t: v.literal('file-verified'), id: FileId }),
  /** Either side: the transfer is over, and why. */
  v.strictObject({ t: v.literal('file-cancel'), id: FileId, reason: FileCancelReason }),
] as const;

/** Random direct-room names: "dm-" and 16 base32 characters (80 bits), lower case so name = key. */
export const DIRECT_ROOM_PREFIX = 'dm-';
export const DIRECT_ROOM_RANDOM_CHARS = 16;
const DirectRoomName = v.pipe(v.string(), v.regex(/^dm-[a-z2-7]{16}$/));
/** A direct room's password: base64url of 16 to 48 random bytes (128 bits at least). */
const DirectPassword = v.pipe(v.string(), v.minLength(22), v.maxLength(64), v.regex(/^[A-Za-z0-9_-]+$/));

export const AppMessage = v.variant('t', [
  v.strictObject({ t: v.literal('msg'), env: EnvelopeSchema, sig: B64u(128) }),
  v.strictObject({ t: v.literal('ack'), ids: v.pipe(v.array(Id), v.maxLength(256)) }),
  v.strictObject({ t: v.literal('typing'), active: v.boolean() }),
  v.strictObject({ t: v.literal('ping'), id: v.number(), sentAt: v.number() }),
  v.strictObject({ t: v.literal('pong'), id: v.number(), sentAt: v.number() }),
  v.strictObject({ t: v.literal('history-req'), since: v.number() }),
  v.strictObject({
    t: v.literal('history'),
    items: v.pipe(v.array(SignedEnvelope), v.maxLength(200)),
    done: v.boolean(),
  }),
  v.strictObject({ t: v.literal('delete-room'), at: v.number() }),
  /** Our bulk lane (PeerLink.bulk) is open: file chunks to us may go on it. */
  v.strictObject({ t: v.literal('lanes'), bulk: v.boolean() }),
  /**
   * An invitation to a new two-person chat, sent only over the channel to the invitee. The
   * shapes are exact, so an invite can neither name an ordinary room nor carry a weak password.
   */
  v.strictObject({ t: v.literal('direct-invite'), room: DirectRoomName, password: DirectPassword }),
  ...FileMessages,
]);
export type AppMessage = v.InferOutput<typeof AppMessage>;

export function parseAppMessage(bytes: Uint8Array): AppMessage {
  if (bytes.length > MAX_APP_FRAME_BYTES) throw new ChatError(ErrorCode.Malformed, 'message frame too large');
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new ChatError(ErrorCode.Malformed, 'message frame is not UTF-8 JSON');
  }
  const r = v.safeParse(AppMessage, json);
  if (!r.success) throw new ChatError(ErrorCode.Malformed, `bad message frame: ${r.issues[0].message}`);
  return r.output;
}

export function encodeAppMessage(m: AppMessage): Uint8Array {
  const bytes = new TextEncoder().encode(JSON.stringify(m));
  if (bytes.length > MAX_APP_FRAME_BYTES) throw new ChatError(ErrorCode.Malformed, 'message too large to send');
  return bytes;
}
