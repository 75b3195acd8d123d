import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Replaces `path` with `text` so a crash leaves either the old or the new content, never
 * a mix: write a temporary file beside it, fsync, rename over the old one, fsync the
 * folder. Throws the file system's error as is; the temporary file is removed.
 */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    const handle = await open(tmp, 'w', 0o600);
    try {
      await handle.writeFile(text, 'utf8');
      // NOTE: fsync before rename, or a crash can leave the new name pointing at an
      // empty file on some filesystems.
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
    await syncDirectory(dirname(path));
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}

/** Makes a rename or link durable (Linux); not every platform can open a directory. */
export async function syncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // Best effort: the data file itself was already synced.
  } finally {
    await handle?.close();
  }
}
