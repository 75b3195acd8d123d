import { createSHA256 } from 'hash-wasm';
import * as v from 'valibot';
import { fromB64u, randomBytes, toB64u } from '../crypto/bytes.ts';
import { signManifest, verifyManifest, type AddressedManifest } from '../crypto/signed.ts';
import { ChatError, ErrorCode } from '../errors.ts';
import type { FileRow } from '../store/db.ts';
import { SignedManifestSchema, TRANSFER_ID_BYTES } from '../net/wire.ts';
import { chunkCountFor, MAX_CHUNK_BYTES, MAX_SENT_NAME_BYTES, MIN_CHUNK_BYTES } from './limits.ts';
import { sanitizeFileName } from './sanitize.ts';

/**
 * File manifests: what the sender announces before the first chunk leaves (file-begin,
 * checked by the receiver before it stores a single byte) and signs once it has hashed
 * the file (file-manifest, checked before the file is shown as verified). The signature
 * covers room, author and recipient too (crypto/signed.ts), so a manifest cannot be
 * replayed into another room or passed off as someone else's file.
 */
export interface SignedManifest {
  manifest: AddressedManifest;
  /** Ed25519 signature (base64url) by `manifest.from`'s identity key. */
  sig: string;
}

/** A new file id: 16 random bytes, carried raw in every chunk header and base64url here. */
export function newFileId(): string {
  return toB64u(randomBytes(TRANSFER_ID_BYTES));
}

/** The 16-byte transfer id of a file id; throws ERR_MALFORMED for anything else. */
export function transferIdOf(fileId: string): Uint8Array {
  const raw = fromB64u(fileId);
  if (raw.length !== TRANSFER_ID_BYTES) throw new ChatError(ErrorCode.Malformed, 'a file id must be 16 bytes');
  return raw;
}

/**
 * Bytes read from a Blob at a time when hashing: whole chunks, about 4 MiB. Measured in
 * Chromium on 48 MiB, hashing in 128 KiB reads took 370-470 ms and in 4 MiB reads 180 ms:
 * each read is a round trip to the browser process.
 */
export const HASH_READ_BYTES = 4 * 1024 * 1024;

/**
 * SHA-256 (lowercase hex) of a Blob, read a few megabytes at a time: memory stays at one
 * read whatever the file size. WebCrypto has no incremental digest, hence hash-wasm.
 * (A file being sent is hashed by its HashPass, from the reads that send it.)
 */
export async function hashBlob(blob: Blob, chunkSize: number): Promise<string> {
  const hasher = await createSHA256();
  hasher.init();
  const perRead = Math.max(1, Math.floor(HASH_READ_BYTES / chunkSize)) * chunkSize;
  for (let start = 0; start < blob.size; start += perRead) {
    hasher.update(new Uint8Array(await blob.slice(start, Math.min(blob.size, start + perRead)).arrayBuffer()));
  }
  return hasher.digest('hex');
}

export interface BuildManifestInput {
  file: Blob;
  name: string;
  type: string;
  room: string;
  from: string;
  to?: string;
  chunkSize: number;
  /** Lowercase hex SHA-256 of the file, from hashBlob. */
  sha256: string;
  id?: string;
}

/** The manifest for a file, with a sanitised name and a type fit for the wire. */
export function buildManifest(input: BuildManifestInput): AddressedManifest {
  const type = input.type.length <= 255 && /^[\x21-\x7e]*$/.test(input.type) ? input.type.toLowerCase() : '';
  return {
    id: input.id ?? newFileId(),
    name: sanitizeFileName(input.name, { maxBytes: MAX_SENT_NAME_BYTES }),
    size: input.file.size,
    type,
    sha256: input.sha256,
    chunkSize: input.chunkSize,
    chunkCount: chunkCountFor(input.file.size, input.chunkSize),
    room: input.room,
    from: input.from,
    ...(input.to !== undefined ? { to: input.to } : {}),
  };
}

export async function signFileManifest(privateKey: CryptoKey, manifest: AddressedManifest): Promise<SignedManifest> {
  return { manifest, sig: await signManifest(privateKey, manifest) };
}

export interface VerifyContext {
  /** The sender's pinned identity key: the one its channel proved (PeerSession.peerKey). */
  peerKey: Uint8Array;
  /** The sender's username as the channel knows it. */
  peer: string;
  room: string;
  /** Our username: a private file must be addressed to us. */
  me: string;
  maxFileBytes: number;
}

/**
 * Checks a manifest's fields before anything is stored, and returns it or throws a
 * ChatError whose message can be shown as is. Order: shape, addressing, signature (when
 * `sig` is given), then size, so "too large" is only ever said about a file its author
 * really offered. Without `sig` (a file-begin, whose signed manifest follows the chunks)
 * the fields are vouched for by the channel alone, which proved the sender.
 */
async function checkManifest(m: AddressedManifest, sig: string | null, ctx: VerifyContext): Promise<AddressedManifest> {
  const what = `${ctx.peer}'s file`;
  const malformed = (why: string) => new ChatError(ErrorCode.Malformed, `${what} was refused: ${why}.`);
  try {
    transferIdOf(m.id);
  } catch {
    throw malformed('its id is invalid');
  }
  if (!Number.isSafeInteger(m.chunkSize) || m.chunkSize < MIN_CHUNK_BYTES || m.chunkSize > MAX_CHUNK_BYTES) {
    throw malformed(`its chunk size ${m.chunkSize} is outside ${MIN_CHUNK_BYTES}-${MAX_CHUNK_BYTES} bytes`);
  }
  if (!Number.isSafeInteger(m.size) || m.size < 0 || m.chunkCount !== chunkCountFor(m.size, m.chunkSize)) {
    throw malformed('its size and chunk count do not agree');
  }
  if (m.from.toLowerCase() !== ctx.peer.toLowerCase()) {
    throw new ChatError(ErrorCode.IdentityMismatch, `${what} was refused: it claims to come from ${m.from}.`);
  }
  if (m.room !== ctx.room) throw malformed('it was addressed to another room');
  if (m.to !== undefined && m.to.toLowerCase() !== ctx.me.toLowerCase()) throw malformed('it was addressed to someone else');
  // NOTE: verify with the key the channel proved, never a key named by the manifest: a
  // member relaying another's file must not be able to re-sign it as theirs, or alter it.
  if (sig !== null && !(await verifyManifest(ctx.peerKey, m, sig))) {
    throw new ChatError(ErrorCode.BadSignature, `${what} "${sanitizeFileName(m.name)}" was refused: its signature does not match ${ctx.peer}'s key.`);
  }
  if (m.size > ctx.maxFileBytes) {
    throw new ChatError(
      ErrorCode.FileTooLarge,
      `${what} "${sanitizeFileName(m.name)}" was refused: it is ${formatBytes(m.size)}, more than the ${formatBytes(ctx.maxFileBytes)} limit.`,
    );
  }
  return m;
}

/** Checks a signed manifest (see checkManifest): fields, addressing, signature, size. */
export function verifySignedManifest(signed: SignedManifest, ctx: VerifyContext): Promise<AddressedManifest> {
  return checkManifest(signed.manifest, signed.sig, ctx);
}

/** Checks the manifest of a file-begin (see checkManifest): everything but the hash and signature, which come later. */
export function checkBegunManifest(manifest: AddressedManifest, ctx: VerifyContext): Promise<AddressedManifest> {
  return checkManifest(manifest, null, ctx);
}

/**
 * A manifest whose hash is not known yet: the sender streams a file while it hashes it,
 * and signs the manifest once the hash is known (file-begin, then file-manifest).
 */
export function unsignedManifest(manifest: AddressedManifest): SignedManifest {
  return { manifest: { ...manifest, sha256: '' }, sig: '' };
}

/** Whether the signature (and so the hash) of a file is known yet. */
export function isSigned(signed: SignedManifest): boolean {
  return signed.sig !== '';
}

/** Same file: every field but the hash, which a manifest begun unsigned does not have yet. */
export function sameFileFields(x: AddressedManifest, y: AddressedManifest): boolean {
  return (
    x.id === y.id &&
    x.name === y.name &&
    x.size === y.size &&
    x.type === y.type &&
    x.chunkSize === y.chunkSize &&
    x.chunkCount === y.chunkCount &&
    x.room === y.room &&
    x.from === y.from &&
    (x.to ?? null) === (y.to ?? null)
  );
}

/** Same signed file: the same fields, hash and signature. */
export function sameManifest(a: SignedManifest, b: SignedManifest): boolean {
  return a.sig === b.sig && a.manifest.sha256 === b.manifest.sha256 && sameFileFields(a.manifest, b.manifest);
}

/** The JSON a 'file' chat message carries as its body: the signed manifest. */
export function fileMessageBody(signed: SignedManifest): string {
  return JSON.stringify({ manifest: signed.manifest, sig: signed.sig });
}

/**
 * A manifest as the wire schema gives it, as core keeps it: `to` only when there is one
 * (the schema's output may carry `to: undefined`, which an optional field may not hold).
 */
export function manifestFromWire<M extends { to?: string | undefined }>(m: M): Omit<M, 'to'> & { to?: string } {
  const { to, ...rest } = m;
  return { ...rest, ...(to !== undefined ? { to } : {}) };
}

/** Parses a 'file' message body; null when it is not a well-formed signed manifest. */
export function parseFileMessageBody(body: string): SignedManifest | null {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return null;
  }
  const r = v.safeParse(SignedManifestSchema, json);
  if (!r.success) return null;
  return { manifest: manifestFromWire(r.output.manifest), sig: r.output.sig };
}

/**
 * The signed manifest inside a 'file' chat message, checked against the message's author
 * (whose key the caller pinned) and room; null when malformed or not authentic. The size
 * limit is not applied here: the message only announces the file.
 */
export async function verifyFileMessageBody(
  body: string,
  author: { username: string; publicKey: Uint8Array },
  ctx: { room: string; me: string },
): Promise<SignedManifest | null> {
  const signed = parseFileMessageBody(body);
  if (!signed) return null;
  try {
    await verifySignedManifest(signed, { peerKey: author.publicKey, peer: author.username, room: ctx.room, me: ctx.me, maxFileBytes: Number.MAX_SAFE_INTEGER });
    return signed;
  } catch {
    return null;
  }
}

/** The signed manifest a stored file was received (or sent) with. */
export function signedManifestOf(row: FileRow): SignedManifest {
  return {
    manifest: {
      id: row.id,
      name: row.name,
      size: row.size,
      type: row.type,
      sha256: row.sha256,
      chunkSize: row.chunkSize,
      chunkCount: row.chunkCount,
      room: row.room,
      from: row.from,
      ...(row.to !== undefined ? { to: row.to } : {}),
    },
    sig: row.signature,
  };
}

/** "1.5 MB" style sizes for messages (decimal units, like file managers). */
export function formatBytes(n: number): string {
  const units = ['bytes', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  let x = n;
  while (x >= 1000 && i < units.length - 1) {
    x /= 1000;
    i++;
  }
  return i === 0 ? `${n} bytes` : `${x < 10 ? x.toFixed(1) : Math.round(x)} ${units[i]}`;
}
