/**
 * What the bench page exposes on `window.bench`, shared by the page (bench.ts) and the
 * Node side that drives it (bench-page.ts). Types only: nothing here runs.
 */

/** `mesh` = our SimplePeerLink + PeerSession; `bare` = a plain RTCPeerConnection data channel. */
export type ChannelKind = 'mesh' | 'bare';

export type FileWorkStep = 'hash' | 'seal' | 'open' | 'store' | 'read';

export interface OpenOptions {
  initiator: boolean;
  /** Mesh only: usernames and the other page's raw Ed25519 public key, base64url. */
  me?: string;
  peer?: string;
  peerKey?: string;
}

export interface BenchPageApi {
  /** Generates this page's Ed25519 identity; returns the raw public key, base64url. */
  createIdentity(): Promise<string>;
  /** Creates the connection; outgoing signals leave through `window.benchSignalOut`. */
  open(kind: ChannelKind, opts: OpenOptions): void;
  /** A signal from the other page (JSON of whatever its side emitted). */
  signal(kind: ChannelKind, json: string): void;
  /** Resolves once the channel is usable (for mesh: both signed hellos verified). */
  opened(kind: ChannelKind, timeoutMs: number): Promise<void>;
  /** Resets the byte counter; `received` then resolves once `totalBytes` payload bytes arrived. */
  armReceive(kind: ChannelKind, totalBytes: number): void;
  /** Wall-clock ms (performance.timeOrigin + now) when the last armed byte arrived. */
  received(kind: ChannelKind, timeoutMs: number): Promise<number>;
  /** Sends `totalBytes` in `chunkBytes` pieces with backpressure; returns the wall-clock ms it started. */
  sendBulk(kind: ChannelKind, totalBytes: number, chunkBytes: number): Promise<number>;
  /**
   * One part of the work each side of a file transfer must do, over `totalBytes`, with the
   * app's code and sizes: `hash`, SHA-256 (hash-wasm) in read blocks; `seal` / `open`,
   * AES-256-GCM of every `chunkBytes` chunk, as many in flight as the file sender keeps;
   * `store`, every chunk written to an origin-private file by the app's storage worker in
   * the receiver's batches; `read`, that file read back in the sender's blocks (then removed).
   */
  fileWork(step: FileWorkStep, totalBytes: number, chunkBytes: number): Promise<void>;
  /** `count` sequential small ping/pong round trips; returns each round trip in ms. */
  pingPong(kind: ChannelKind, count: number, timeoutMs: number): Promise<number[]>;
  close(): void;
}

declare global {
  interface Window {
    bench: BenchPageApi;
    /** Exposed by Node (page.exposeFunction): relays a signal to the other page. */
    benchSignalOut(kind: ChannelKind, json: string): Promise<void>;
  }
}
