import { constants, openAsBlob } from 'node:fs';
import { copyFile, link, mkdir, open, readdir, readFile, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import * as v from 'valibot';
import { ChatError, ErrorCode } from '../../client/src/core/errors.ts';
import { checkChunkFits, chunkAfterEnd, OPEN_STATES, type FileRowUpdate, type FileStore, type NewFile, type StoredChunk } from '../../client/src/core/files/file-store.ts';
import { chunkLengthOf } from '../../client/src/core/files/limits.ts';
import type { FileRow, FileState } from '../../client/src/core/store/db.ts';
import { PURGE_INTERVAL_MS } from '../../client/src/core/store/limits.ts';
import { expiresAtFor } from '../../client/src/core/store/retention.ts';
import { syncDirectory, writeFileAtomic } from './atomic-file.ts';

/**
 * Core's FileStore port on disk, for the headless peer. Each file is two entries in one
 * folder (`<home>/files`):
 *
 *   <id>.part   the file's bytes, chunk i at offset i * chunkSize (a sparse file while
 *               chunks are missing), written as they arrive and never held whole in memory
 *   <id>.json   the manifest row and which chunks are stored, replaced atomically
 *
 * A batch of chunks is written and synced to the .part file before the .json says it is
 * stored, so a crash at any point leaves at most bytes nobody counts, which the sender
 * resends: a transfer cut by a restart resumes from the last chunk the .json lists.
 * Rows and their bytes expire 7 days after the file was sent, like the browser's.
 */

const SIDECAR_VERSION = 1;

/** File ids are 16 random bytes in base64url; anything else never becomes a path. */
const FILE_ID = /^[A-Za-z0-9_-]{22}$/;

const Str = v.string();
const Count = v.pipe(v.number(), v.integer(), v.minValue(0));
const FileRecord = v.object({
  id: v.pipe(Str, v.regex(FILE_ID)),
  room: Str,
  from: Str,
  to: v.optional(Str),
  name: Str,
  size: Count,
  type: Str,
  sha256: Str,
  chunkSize: v.pipe(Count, v.minValue(1)),
  chunkCount: v.pipe(Count, v.minValue(1)),
  signature: Str,
  state: v.picklist(['receiving', 'verifying', 'verified', 'failed', 'sending', 'sent']),
  receivedChunks: Count,
  sentAt: v.number(),
  expiresAt: v.number(),
  error: v.optional(Str),
});
const Sidecar = v.object({
  v: v.literal(SIDECAR_VERSION),
  row: FileRecord,
  /** Stored chunk indexes as sorted, disjoint, inclusive ranges: in-order transfers need one. */
  stored: v.array(v.tuple([Count, Count])),
});
type Ranges = [number, number][];

interface Entry {
  row: FileRow;
  stored: Ranges;
}

/** What the user reads when the disk is full; what was stored before stays. */
export const DISK_FULL_MESSAGE = 'The disk has no more room for this file; free space and try again. Earlier history is untouched.';

export interface DiskFileStoreOptions {
  now?: () => number;
  /** How often expired files are removed while the peer runs (start-up always does). */
  purgeIntervalMs?: number;
}

export class DiskFileStore implements FileStore {
  /** Our copy of a file we send is written from the bytes read to hash it (no second read). */
  readonly ownCopyFrom = 'bytes';
  readonly dir: string;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();
  /** Per file: changes run one after another, so a sidecar is never written from a stale copy. */
  readonly #locks = new Map<string, Promise<unknown>>();
  readonly #timer: ReturnType<typeof setInterval>;

  private constructor(dir: string, opts: DiskFileStoreOptions) {
    this.dir = dir;
    this.#now = opts.now ?? Date.now;
    this.#timer = setInterval(() => void this.purgeExpired().catch(() => undefined), opts.purgeIntervalMs ?? PURGE_INTERVAL_MS);
    // Expiry must not keep a finished command alive.
    this.#timer.unref();
  }

  /**
   * Opens the folder, reading every manifest. Leftovers of a crash (temporary files, bytes
   * without a manifest) and unreadable manifests are removed: this folder holds transfers,
   * which can be fetched again, never keys or history.
   */
  static async open(dir: string, opts: DiskFileStoreOptions = {}): Promise<DiskFileStore> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const store = new DiskFileStore(dir, opts);
    try {
      await store.#load();
    } catch (e) {
      store.close();
      throw e;
    }
    return store;
  }

  async #load(): Promise<void> {
    const names = await readdir(this.dir);
    for (const name of names) {
      if (!name.endsWith('.json')) continue;
      const entry = parseSidecar(await readFile(join(this.dir, name), 'utf8').catch(() => ''));
      if (entry && `${entry.row.id}.json` === name) this.#entries.set(entry.row.id, entry);
      else await unlink(join(this.dir, name)).catch(() => undefined);
    }
    for (const name of names) {
      const id = name.endsWith('.part') ? name.slice(0, -'.part'.length) : null;
      if (name.endsWith('.tmp') || (id !== null && !this.#entries.has(id))) await unlink(join(this.dir, name)).catch(() => undefined);
    }
    for (const entry of this.#entries.values()) {
      if (entry.stored.length === 0 || names.includes(`${entry.row.id}.part`)) continue;
      // Bytes removed behind our back: what the manifest lists is gone, so fetch it again.
      const next: Entry = { row: { ...entry.row, receivedChunks: 0 }, stored: [] };
      await this.#save(next);
      this.#entries.set(entry.row.id, next);
    }
    await this.purgeExpired();
  }

  /** Stops the expiry timer; the store stays usable. */
  close(): void {
    clearInterval(this.#timer);
  }

  /** Where file `id`'s bytes are; complete once countChunks equals its chunk count. */
  partPath(id: string): string {
    return join(this.dir, `${checkId(id)}.part`);
  }

  #sidecarPath(id: string): string {
    return join(this.dir, `${checkId(id)}.json`);
  }

  async add(file: NewFile): Promise<boolean> {
    checkId(file.id);
    await this.purgeExpired();
    return this.#locked(file.id, async () => {
      const now = this.#now();
      const expiresAt = expiresAtFor(file.sentAt, now);
      if (expiresAt <= now || this.#entries.has(file.id)) return false;
      const entry: Entry = { row: { ...file, state: file.state ?? 'receiving', receivedChunks: 0, expiresAt }, stored: [] };
      await diskWrite(async () => {
        // 'w': bytes left by a crash before their manifest was written are not ours any more.
        await (await open(this.partPath(file.id), 'w', 0o600)).close();
        await this.#save(entry);
      });
      this.#entries.set(file.id, entry);
      return true;
    });
  }

  async get(id: string): Promise<FileRow | undefined> {
    const entry = this.#entries.get(id);
    return entry ? { ...entry.row } : undefined;
  }

  update(id: string, changes: FileRowUpdate): Promise<void> {
    return this.#change(id, (row) => {
      for (const [key, value] of Object.entries(changes)) if (value !== undefined) Object.assign(row, { [key]: value });
    }).then(() => undefined);
  }

  delete(id: string): Promise<void> {
    return this.#locked(id, async () => {
      if (!this.#entries.delete(id)) return;
      // Manifest first: bytes without one are removed at the next start, never trusted.
      await unlink(this.#sidecarPath(id)).catch(ignoreMissing);
      await unlink(this.partPath(id)).catch(ignoreMissing);
    });
  }

  async inRoom(room: string): Promise<FileRow[]> {
    return [...this.#entries.values()].filter((e) => e.row.room === room).map((e) => ({ ...e.row }));
  }

  putChunks(id: string, chunks: readonly StoredChunk[]): Promise<number> {
    return this.#locked(id, async () => {
      const entry = this.#entries.get(id);
      if (!entry) throw new ChatError(ErrorCode.Malformed, 'A file chunk arrived for a file this chat does not know.');
      const { row } = entry;
      if (!OPEN_STATES.has(row.state)) throw chunkAfterEnd(row);
      if (chunks.length === 0) return row.receivedChunks;
      for (const chunk of chunks) checkChunkFits(row, chunk);
      const stored = entry.stored.map(([a, b]): [number, number] => [a, b]);
      let fresh = 0;
      await diskWrite(async () => {
        const handle = await open(this.partPath(id), constants.O_RDWR | constants.O_CREAT, 0o600);
        try {
          for (const { index, data } of chunks) {
            const bytes = data instanceof Uint8Array ? data : new Uint8Array(await data.arrayBuffer());
            await handle.write(bytes, 0, bytes.byteLength, index * row.chunkSize);
          }
          // The bytes are on disk before the manifest says so.
          await handle.datasync();
        } finally {
          await handle.close();
        }
        for (const { index } of chunks) if (addIndex(stored, index)) fresh++;
        if (fresh > 0) await this.#save({ row: { ...row, receivedChunks: row.receivedChunks + fresh }, stored });
      });
      if (fresh === 0) return row.receivedChunks;
      entry.stored = stored;
      row.receivedChunks += fresh;
      return row.receivedChunks;
    });
  }

  async countChunks(id: string): Promise<number> {
    return countOf(this.#entries.get(id)?.stored ?? []);
  }

  async lastContiguousChunk(id: string): Promise<number> {
    const first = this.#entries.get(id)?.stored[0];
    return first && first[0] === 0 ? first[1] : -1;
  }

  async *readChunks(id: string, from: number, to: number): AsyncGenerator<Uint8Array> {
    const entry = this.#entries.get(id);
    if (!entry || countOf(entry.stored) === 0 || from > to) return;
    const handle = await open(this.partPath(id), 'r');
    try {
      for (let index = Math.max(0, from); index <= Math.min(to, entry.row.chunkCount - 1); index++) {
        if (!hasIndex(entry.stored, index)) continue;
        const bytes = new Uint8Array(chunkLengthOf(entry.row, index));
        const { bytesRead } = await handle.read(bytes, 0, bytes.byteLength, index * entry.row.chunkSize);
        if (bytesRead !== bytes.byteLength) throw new ChatError(ErrorCode.FileOrder, `"${entry.row.name}" is shorter on disk than its stored chunks.`);
        yield bytes;
      }
    } finally {
      await handle.close();
    }
  }

  setState(id: string, state: FileState, error?: string): Promise<boolean> {
    return this.#change(id, (row) => {
      row.state = state;
      if (error === undefined) delete row.error;
      else row.error = error;
    });
  }

  discard(id: string, error: string): Promise<void> {
    return this.#locked(id, async () => {
      const entry = this.#entries.get(id);
      if (!entry) return;
      const next: Entry = { row: { ...entry.row, state: 'failed', error, receivedChunks: 0 }, stored: [] };
      await this.#save(next);
      this.#entries.set(id, next);
      await unlink(this.partPath(id)).catch(ignoreMissing);
    });
  }

  async readBlob(id: string, type: string): Promise<Blob> {
    const entry = this.#entries.get(id);
    if (!entry) throw new ChatError(ErrorCode.Malformed, 'This file is no longer stored on this device.');
    const { row } = entry;
    const have = countOf(entry.stored);
    if (have !== row.chunkCount) {
      throw new ChatError(ErrorCode.FileOrder, `"${row.name}" is incomplete: chunk ${(await this.lastContiguousChunk(id)) + 1} of ${row.chunkCount} is missing.`);
    }
    // Backed by the file: read as it is consumed, never loaded whole.
    return (await openAsBlob(this.partPath(id))).slice(0, row.size, type);
  }

  /**
   * Moves a complete file's bytes to `dest` without copying them when the folder is on
   * the same disk. Never replaces an existing file (throws EEXIST). The row stays, with no
   * chunks, so the file is still known (a re-offer is answered from its state).
   */
  moveOut(id: string, dest: string): Promise<void> {
    return this.#locked(id, async () => {
      const entry = this.#entries.get(id);
      if (!entry || countOf(entry.stored) !== entry.row.chunkCount) throw new ChatError(ErrorCode.FileOrder, 'This file is not complete on this device.');
      const part = this.partPath(id);
      try {
        await link(part, dest);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        // Another disk, or a file system without hard links: copy, still never replacing.
        if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'ENOTSUP') throw e;
        await diskWrite(() => copyFile(part, dest, constants.COPYFILE_EXCL));
      }
      await syncDirectory(dirname(dest));
      const next: Entry = { row: { ...entry.row }, stored: [] };
      await this.#save(next);
      this.#entries.set(id, next);
      await unlink(part).catch(ignoreMissing);
    });
  }

  /**
   * Removes every file whose 7 days are up; returns how many. Manifest first: bytes left
   * without one are removed at the next start.
   */
  async purgeExpired(): Promise<number> {
    let purged = 0;
    const due = [...this.#entries].filter(([, e]) => e.row.expiresAt <= this.#now()).map(([id]) => id);
    for (const id of due) {
      await this.#locked(id, async () => {
        const entry = this.#entries.get(id);
        if (!entry || entry.row.expiresAt > this.#now()) return;
        this.#entries.delete(id);
        await unlink(this.#sidecarPath(id)).catch(ignoreMissing);
        await unlink(this.partPath(id)).catch(ignoreMissing);
        purged++;
      });
    }
    return purged;
  }

  async #save(entry: Entry): Promise<void> {
    await diskWrite(() => writeFileAtomic(this.#sidecarPath(entry.row.id), JSON.stringify({ v: SIDECAR_VERSION, row: entry.row, stored: entry.stored })));
  }

  /** Changes a row under its lock; the copy in memory changes only once the disk has it. */
  #change(id: string, edit: (row: FileRow) => void): Promise<boolean> {
    return this.#locked(id, async () => {
      const entry = this.#entries.get(id);
      if (!entry) return false;
      const next: Entry = { row: { ...entry.row }, stored: entry.stored };
      edit(next.row);
      await this.#save(next);
      this.#entries.set(id, next);
      return true;
    });
  }

  #locked<T>(id: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(id) ?? Promise.resolve();
    const run = previous.then(task, task);
    const tail = run.catch(() => undefined);
    this.#locks.set(id, tail);
    void tail.then(() => {
      if (this.#locks.get(id) === tail) this.#locks.delete(id);
    });
    return run;
  }
}

function checkId(id: string): string {
  if (!FILE_ID.test(id)) throw new ChatError(ErrorCode.Malformed, 'a file id must be 16 bytes');
  return id;
}


function parseSidecar(text: string): Entry | null {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return null;
  }
  const parsed = v.safeParse(Sidecar, raw);
  if (!parsed.success) return null;
  const { row, stored } = parsed.output;
  // Ranges must be what addIndex writes: sorted, disjoint, inside the file.
  let after = -2;
  for (const [a, b] of stored) {
    if (a <= after + 1 || b < a || b >= row.chunkCount) return null;
    after = b;
  }
  if (countOf(stored) !== row.receivedChunks) return null;
  // Absent optional fields stay absent, as in rows read from IndexedDB.
  const clean = Object.fromEntries(Object.entries(row).filter(([, value]) => value !== undefined)) as unknown as FileRow;
  return { row: clean, stored: stored.map(([a, b]): [number, number] => [a, b]) };
}

function countOf(ranges: Ranges): number {
  let n = 0;
  for (const [a, b] of ranges) n += b - a + 1;
  return n;
}

function hasIndex(ranges: Ranges, index: number): boolean {
  return ranges.some(([a, b]) => a <= index && index <= b);
}

/** Adds `index`, merging neighbours; false when it was already there. */
function addIndex(ranges: Ranges, index: number): boolean {
  let i = 0;
  while (i < ranges.length && ranges[i]![1] < index - 1) i++;
  const r = ranges[i];
  if (!r || index < r[0] - 1) {
    ranges.splice(i, 0, [index, index]);
    return true;
  }
  if (index >= r[0] && index <= r[1]) return false;
  if (index === r[0] - 1) r[0] = index;
  else {
    r[1] = index;
    const next = ranges[i + 1];
    if (next && next[0] === index + 1) {
      r[1] = next[1];
      ranges.splice(i + 1, 1);
    }
  }
  return true;
}

function ignoreMissing(e: unknown): void {
  if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
}

/** A full disk as core's ERR_QUOTA, like a full IndexedDB in the browser. */
async function diskWrite<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') throw new ChatError(ErrorCode.Quota, DISK_FULL_MESSAGE, { cause: e });
    throw e;
  }
}
