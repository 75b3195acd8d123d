import { ChatError, ErrorCode } from '../errors.ts';
import type { FileRow, FileState } from '../store/db.ts';
import { chunkLengthOf } from './limits.ts';

/**
 * What file transfers need from storage: manifests (one row per file) and their chunks.
 * Core owns this port; each platform supplies an adapter: origin-private files in the
 * browser (store/opfs-files.ts `opfsFileStore`), or IndexedDB where a browser refuses
 * those (store/files.ts `dexieFileStore`), and files on disk in the terminal peer
 * (cli/src/disk-file-store.ts).
 *
 * Every adapter keeps the same promises, which the transfers rely on:
 *   - a row expires 7 days after it was sent (retention.ts `expiresAtFor`), and a row
 *     already expired is refused rather than stored;
 *   - chunks are accepted only while the file is 'receiving' or 'sending', only inside
 *     the announced chunk count and size, and a batch is stored all or nothing;
 *   - a full disk surfaces as ChatError ERR_QUOTA and leaves what was stored intact;
 *   - a whole file is never held in memory: chunks are read back lazily.
 */

export type NewFile = Omit<FileRow, 'expiresAt' | 'receivedChunks' | 'state' | 'error'> & {
  /** 'receiving' on the receiver (default), 'sending' on the sender. */
  state?: FileState;
};

/** The manifest fields a transfer changes after the row is added. */
export type FileRowUpdate = Partial<Pick<FileRow, 'sha256' | 'signature' | 'state' | 'error'>>;

export interface StoredChunk {
  index: number;
  /** Blob slices let a browser copy a file's bytes to disk without them passing through script memory. */
  data: Uint8Array | Blob;
}

/**
 * Refuses a chunk that a store keeping chunks at fixed offsets (one file per transfer)
 * cannot take: outside the file, or not exactly its announced length. NOTE: exact, not
 * just "at most": a short chunk would leave a hole the hash computed on the way never saw.
 */
export function checkChunkFits(file: Pick<FileRow, 'name' | 'size' | 'chunkSize' | 'chunkCount'>, { index, data }: StoredChunk): void {
  if (!Number.isInteger(index) || index < 0 || index >= file.chunkCount) {
    throw new ChatError(ErrorCode.FileOrder, `Chunk ${index} is outside "${file.name}" (${file.chunkCount} chunks).`);
  }
  const size = data instanceof Uint8Array ? data.byteLength : data.size;
  if (size !== chunkLengthOf(file, index)) throw new ChatError(ErrorCode.FileSize, `Chunk ${index} of "${file.name}" is not the announced size.`);
}

/** The error for a chunk that comes once the file is no longer being written (every store says the same). */
export function chunkAfterEnd(file: Pick<FileRow, 'name'>): ChatError {
  return new ChatError(ErrorCode.FileOrder, `A chunk arrived for "${file.name}" after the transfer ended.`);
}

/** States in which chunks may still be written. */
export const OPEN_STATES: ReadonlySet<FileState> = new Set(['receiving', 'sending']);

export interface FileStore {
  /**
   * How the sender's own copy comes to this store: 'slices' of the file (the default:
   * IndexedDB copies a Blob slice to disk without its bytes passing through script), or
   * the 'bytes' the sender has just read and hashed (a store writing files takes them
   * without reading the file a second time).
   */
  readonly ownCopyFrom?: 'slices' | 'bytes';
  /** Stores a manifest; false when the id is already known or the file is already expired. */
  add(file: NewFile): Promise<boolean>;
  get(id: string): Promise<FileRow | undefined>;
  update(id: string, changes: FileRowUpdate): Promise<void>;
  /** Removes the row and its chunks. */
  delete(id: string): Promise<void>;
  inRoom(room: string): Promise<FileRow[]>;
  /**
   * Stores a batch of one file's chunks, all or nothing, and returns how many distinct
   * chunks the file now has (a chunk stored again is not counted twice). The store may
   * take the bytes of a chunk that fills its whole buffer (a browser store transfers them
   * to its writer): callers must not read them afterwards.
   */
  putChunks(id: string, chunks: readonly StoredChunk[]): Promise<number>;
  countChunks(id: string): Promise<number>;
  /** The index of the last chunk such that every chunk before it is stored; -1 when none. */
  lastContiguousChunk(id: string): Promise<number>;
  /**
   * The stored chunks `from`..`to` (inclusive) in index order, a few at a time, so a
   * resumed transfer can hash what it already has without loading the file.
   */
  readChunks(id: string, from: number, to: number): AsyncIterable<Uint8Array>;
  /** Sets the state (and the error, removed when not given); false when the row is unknown. */
  setState(id: string, state: FileState, error?: string): Promise<boolean>;
  /** Gives up on a file: every chunk removed, the row kept and marked failed with `error`. */
  discard(id: string, error: string): Promise<void>;
  /**
   * The whole file, assembled lazily from its chunks (throws ERR_FILE_ORDER when one is
   * missing). `type` is the caller's choice, so a dangerous type can be downgraded first.
   */
  readBlob(id: string, type: string): Promise<Blob>;
}
