/** Messages between the page and the origin-private-file worker (opfs-worker.ts). */

export interface OpfsWritePart {
  /** Byte offset in the file. */
  at: number;
  data: Uint8Array | Blob;
}

export type OpfsRequest = { seq: number; dir: string } & (
  | { op: 'probe' }
  | { op: 'write'; name: string; parts: OpfsWritePart[]; flush: boolean }
  | { op: 'read'; name: string; at: number; length: number }
  | { op: 'close'; name: string }
  | { op: 'remove'; name: string }
  | { op: 'list' }
);

export interface OpfsReply {
  seq: number;
  value?: boolean | number | Uint8Array | string[];
  /**
   * Byte buffers of a write, handed back: once written they are garbage, and garbage in
   * the page's heap is collected with the page's own (the worker's heap alone would hold
   * up to its collector's slack more).
   */
  spent?: ArrayBuffer[];
  error?: { name: string; message: string };
}
