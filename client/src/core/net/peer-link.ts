import type { SignalData } from '../../../../signaling/src/protocol.ts';

/** Events a peer link reports to the chat layer. */
export interface PeerLinkEvents {
  /** A signal to relay to the other side through the signaling server. */
  signal: (data: SignalData) => void;
  /** The data channel is open; application frames may flow (after the handshake). */
  open: () => void;
  frame: (data: string | Uint8Array) => void;
  close: (reason?: string) => void;
  /** A send buffer (main or bulk) drained below the low-water mark. */
  drain: () => void;
  /** The bulk lane opened: `bulk` is set from now on. */
  bulk: () => void;
}

/**
 * A second ordered data channel on the same connection, for bulk data (file chunks).
 * SCTP sends the messages of different channels in turn, so a chat message on the main
 * channel waits for at most the chunk on the wire, not for every chunk queued before it.
 * Its frames arrive through the link's 'frame' event like the main channel's.
 */
/** Which channel a frame goes on: 'bulk' falls back to 'main' on links without a bulk lane. */
export type Lane = 'main' | 'bulk';

export interface BulkLane {
  /** Copies `data` before it returns, like PeerLink.send. */
  send(data: Uint8Array): void;
  /** Bytes queued on this channel and not yet sent. */
  readonly bufferedAmount: number;
}

/**
 * One WebRTC data channel to one peer. The chat layer depends on this interface only;
 * simple-peer lives in its adapter, and tests swap in in-memory links.
 */
export interface PeerLink {
  readonly initiator: boolean;
  /** Feed a signal received from the other side. */
  signal(data: SignalData): void;
  /** Copies `data` (as RTCDataChannel.send does) before it returns: the caller may reuse the buffer. */
  send(data: string | Uint8Array): void;
  /** Bytes queued in the data channel and not yet sent. */
  readonly bufferedAmount: number;
  /** The bulk lane once it is open; null (or absent) on links without one. */
  readonly bulk?: BulkLane | null;
  /** Largest message the connection accepts (SCTP maxMessageSize), read from the connection. */
  readonly maxMessageSize: number;
  /** DTLS fingerprints of the descriptions actually applied to this connection. */
  fingerprints(): { local: string; remote: string } | { error: string };
  /** Round-trip time and whether the path is direct or relayed, when known. */
  stats(): Promise<{ rttMs: number | null; relayed: boolean | null }>;
  on<K extends keyof PeerLinkEvents>(event: K, handler: PeerLinkEvents[K]): () => void;
  close(): void;
}

export interface PeerLinkOptions {
  initiator: boolean;
  iceServers: RTCIceServer[];
  /** 'relay' to use TURN only, so the peer never learns our addresses. */
  iceTransportPolicy?: RTCIceTransportPolicy;
}

export interface PeerLinkFactory {
  create(opts: PeerLinkOptions): PeerLink;
}
