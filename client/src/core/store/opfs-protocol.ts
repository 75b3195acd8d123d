/** Messages between the page and the origin-private-file worker (opfs-worker.ts). */

export interface OpfsWritePart {
  /** Byte offset in the file. */
  at: number;
  data: Uint8Array | Blob;
}

export type OpfsRequest = { seq: number; dir: string } & (
  | { op: 'probe' }
  | { op: 'write'; name: string; parts: OpfsWritePart[] }
  | { op: 'read'; name: string; at: number; length: number }
  | { op: 'close'; name: string }
  | { op: 'remove'; name: string }
  | { op: 'list' }
);

export interface OpfsReply {
  seq: number;
  value?: boolean | Uint8Array | string[];
  error?: { name: string; message: string };
}
