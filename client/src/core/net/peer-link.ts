import type { SignalData } from '../../../../signaling/src/protocol.ts';

/** Events a peer link reports to the chat layer. */
export interface PeerLinkEvents {
  /** A signal to relay to the other side through the signaling server. */
  signal: (data: SignalData) => void;
  /** The data channel is open; application frames may flow (after the handshake). */
  open: () => void;
  frame: (data: string | Uint8Array) => void;
  close: (reason?: string) => void;
  /** The send buffer drained below the low-water mark. */
  drain: () => void;
}

/**
 * One WebRTC data channel to one peer. The chat layer depends on this interface only;
 * simple-peer lives in its adapter, and tests swap in in-memory links.
 */
export interface PeerLink {
  readonly initiator: boolean;
  /** Feed a signal received from the other side. */
  signal(data: SignalData): void;
  send(data: string | Uint8Array): void;
  /** Bytes queued in the data channel and not yet sent. */
  readonly bufferedAmount: number;
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
