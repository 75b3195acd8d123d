/// <reference lib="webworker" />
/**
 * Runs in a dedicated worker: the origin private file system's synchronous access handles
 * (in-place writes, one flush per batch, no copy-on-close) exist only in workers.
 * One handle per file stays open while chunks come, and is closed before the page reads
 * the file (getFile() is refused while a handle holds the file's lock).
 */
import type { OpfsReply, OpfsRequest } from './opfs-protocol.ts';

interface SyncAccessHandle {
  write(buffer: ArrayBufferView, options?: { at?: number }): number;
  read(buffer: ArrayBufferView, options?: { at?: number }): number;
  flush(): void;
  close(): void;
  getSize(): number;
}

type SyncFileHandle = FileSystemFileHandle & { createSyncAccessHandle(): Promise<SyncAccessHandle> };

const scope = self as unknown as DedicatedWorkerGlobalScope;
const handles = new Map<string, SyncAccessHandle>();
let folder: Promise<FileSystemDirectoryHandle> | null = null;

function directory(name: string): Promise<FileSystemDirectoryHandle> {
  folder ??= navigator.storage.getDirectory().then((root) => root.getDirectoryHandle(name, { create: true }));
  return folder;
}

async function handleFor(dir: string, name: string): Promise<SyncAccessHandle> {
  let handle = handles.get(name);
  if (!handle) {
    const file = (await (await directory(dir)).getFileHandle(name, { create: true })) as SyncFileHandle;
    handle = await file.createSyncAccessHandle();
    handles.set(name, handle);
  }
  return handle;
}

function close(name: string): void {
  handles.get(name)?.close();
  handles.delete(name);
}

/** Buffers of the last write, returned with its answer (OpfsReply.spent). */
let spent: ArrayBuffer[] = [];

async function serve(req: OpfsRequest): Promise<OpfsReply['value']> {
  switch (req.op) {
    case 'probe': {
      const probe = `.probe-${Math.random().toString(36).slice(2)}`;
      await handleFor(req.dir, probe);
      close(probe);
      await (await directory(req.dir)).removeEntry(probe);
      return true;
    }
    case 'write': {
      const handle = await handleFor(req.dir, req.name);
      for (const { at, data } of req.parts) {
        const bytes = data instanceof Blob ? new Uint8Array(await data.arrayBuffer()) : data;
        if (handle.write(bytes, { at }) !== bytes.byteLength) throw new DOMException('The disk took fewer bytes than written.', 'QuotaExceededError');
        if (!(data instanceof Blob) && bytes.buffer instanceof ArrayBuffer && !spent.includes(bytes.buffer)) spent.push(bytes.buffer);
      }
      // Asked for before the row counts the bytes, so it never counts bytes not on disk.
      if (req.flush) handle.flush();
      return true;
    }
    case 'read': {
      const handle = await handleFor(req.dir, req.name);
      const bytes = new Uint8Array(req.length);
      const got = handle.read(bytes, { at: req.at });
      return got === req.length ? bytes : bytes.subarray(0, got);
    }
    case 'close':
      close(req.name);
      return true;
    case 'remove':
      close(req.name);
      try {
        await (await directory(req.dir)).removeEntry(req.name);
      } catch (e) {
        if (!(e instanceof DOMException && e.name === 'NotFoundError')) throw e;
      }
      return true;
    case 'list': {
      const names: string[] = [];
      const dir = (await directory(req.dir)) as FileSystemDirectoryHandle & { keys(): AsyncIterable<string> };
      for await (const name of dir.keys()) names.push(name);
      return names;
    }
  }
}

/** One request at a time: a close or remove never runs in the middle of a write. */
let queue: Promise<void> = Promise.resolve();

scope.onmessage = (e: MessageEvent<OpfsRequest>) => {
  const req = e.data;
  queue = queue.then(() => serve(req)).then(
    (value) => {
      const back = spent;
      spent = [];
      const transfer = value instanceof Uint8Array ? [value.buffer as ArrayBuffer, ...back] : back;
      scope.postMessage({ seq: req.seq, value, ...(back.length > 0 ? { spent: back } : {}) } satisfies OpfsReply, transfer);
    },
    (error: unknown) => {
      spent = [];
      const { name, message } = error instanceof Error || error instanceof DOMException ? error : { name: 'Error', message: String(error) };
      scope.postMessage({ seq: req.seq, error: { name, message } } satisfies OpfsReply);
    },
  );
};
