import { generateKeyPairSync, sign as nodeSign, type KeyObject } from 'node:crypto';
import { io, type Socket } from 'socket.io-client';
import {
  ClientEvent,
  loginChallengeText,
  type Member,
  type MembersPush,
  type NoticePush,
  PROTOCOL_VERSION,
  type RoomSummary,
  ServerEvent,
  type SignalData,
  type SignalPush,
} from '../../signaling/src/protocol.ts';

/**
 * A signaling client for tests and the load bench: a real socket.io-client over
 * WebSocket speaking the protocol as the browser app does, with an Ed25519 identity.
 */

export interface Identity {
  /** Raw 32-byte public key, base64url. */
  publicKey: string;
  sign(text: string): Promise<string>;
}

/** An identity made with WebCrypto, as the browser makes it (private key not extractable). */
export async function webCryptoIdentity(): Promise<Identity> {
  const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])) as CryptoKeyPair;
  const raw = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
  return {
    publicKey: Buffer.from(raw).toString('base64url'),
    async sign(text) {
      const sig = await crypto.subtle.sign({ name: 'Ed25519' }, pair.privateKey, new TextEncoder().encode(text));
      return Buffer.from(sig).toString('base64url');
    },
  };
}

/** The same with node:crypto, synchronous and cheaper: for thousands of bench clients. */
export function nodeIdentity(): Identity {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const jwk = publicKey.export({ format: 'jwk' }) as { x: string };
  const key: KeyObject = privateKey;
  return { publicKey: jwk.x, sign: async (text) => nodeSign(null, Buffer.from(text, 'utf8'), key).toString('base64url') };
}

export type Ack = { ok: true; [k: string]: unknown } | { ok: false; error: string; message: string };

export interface ConnectOptions {
  /** Handshake auth; defaults to the current protocol version. */
  auth?: Record<string, unknown>;
  /** socket.io-client's automatic reconnection; off unless asked for. */
  reconnection?: boolean;
  /** How long to wait for the connection (ms). */
  timeoutMs?: number;
  /** Forwarded for the server behind a trusted proxy. */
  forwardedFor?: string;
  /** Extra handshake headers (e.g. the Origin a browser would send). */
  headers?: Record<string, string>;
}

export class SignalingTestClient {
  readonly socket: Socket;
  readonly members: MembersPush[] = [];
  readonly signals: SignalPush[] = [];
  readonly notices: NoticePush[] = [];
  readonly roomLists: RoomSummary[][] = [];
  /** Rosters from join acknowledgements, which count as much as pushes. */
  readonly #joinRosters: MembersPush[] = [];
  #waiters = new Set<() => void>();

  private constructor(socket: Socket) {
    this.socket = socket;
    const record = <T>(list: T[]) => (p: T) => {
      list.push(p);
      for (const w of [...this.#waiters]) w();
    };
    socket.on(ServerEvent.Members, record(this.members));
    socket.on(ServerEvent.Signal, record(this.signals));
    socket.on(ServerEvent.Notice, record(this.notices));
    socket.on(ServerEvent.Rooms, record(this.roomLists));
    socket.on('disconnect', () => {
      for (const w of [...this.#waiters]) w();
    });
  }

  /** Connects; rejects with the server's connect_error (message = ServerError code). */
  static connect(url: string, opts: ConnectOptions = {}): Promise<SignalingTestClient> {
    const socket = io(url, {
      transports: ['websocket'],
      auth: opts.auth ?? { v: PROTOCOL_VERSION },
      reconnection: opts.reconnection ?? false,
      forceNew: true,
      timeout: opts.timeoutMs ?? 20_000,
      extraHeaders: { ...opts.headers, ...(opts.forwardedFor ? { 'x-forwarded-for': opts.forwardedFor } : {}) },
    });
    const client = new SignalingTestClient(socket);
    return new Promise((resolve, reject) => {
      socket.once('connect', () => {
        socket.off('connect_error');
        resolve(client);
      });
      socket.once('connect_error', (err) => {
        socket.close();
        reject(err);
      });
    });
  }

  get id(): string {
    return this.socket.id ?? '';
  }

  /** Sends one event and waits for its acknowledgement (rejects after `timeoutMs`). */
  request(event: string, payload?: unknown, timeoutMs = 15_000): Promise<Ack> {
    const args = payload === undefined ? [] : [payload];
    return this.socket.timeout(timeoutMs).emitWithAck(event, ...args) as Promise<Ack>;
  }

  /** The real login: challenge, Ed25519 signature over the domain-separated text, prove. */
  async login(username: string, identity: Identity): Promise<Ack> {
    const challenge = await this.request(ClientEvent.AuthChallenge, { username, publicKey: identity.publicKey });
    if (!challenge.ok) return challenge;
    const key = username.normalize('NFKC').trim().replace(/\s+/gu, ' ').toLowerCase();
    const signature = await identity.sign(loginChallengeText(String(challenge.challenge), key, identity.publicKey));
    return this.request(ClientEvent.AuthProve, { signature });
  }

  async join(room: string, opts: { create?: boolean; joinToken?: string } = {}): Promise<Ack> {
    const ack = await this.request(ClientEvent.RoomJoin, { room, create: opts.create ?? true, ...(opts.joinToken ? { joinToken: opts.joinToken } : {}) });
    if (ack.ok) this.#joinRosters.push({ room: String(ack.room), members: ack.members as Member[], version: Number(ack.version) });
    return ack;
  }

  /** Usernames in the highest-versioned roster of `room` received so far (what a client keeps). */
  newestRoster(room: string): string[] {
    let best: MembersPush | undefined;
    for (const r of [...this.#joinRosters, ...this.members]) if (r.room === room && (!best || r.version > best.version)) best = r;
    return (best?.members ?? []).map((m) => m.username).sort();
  }

  leave(room: string): Promise<Ack> {
    return this.request(ClientEvent.RoomLeave, { room });
  }

  signal(room: string, to: string, data: SignalData = { type: 'offer', sdp: 'v=0 test' }): Promise<Ack> {
    return this.request(ClientEvent.Signal, { room, to, data });
  }

  /** Resolves when `predicate` holds (checked on every push and disconnect), rejects after `timeoutMs`. */
  waitFor(predicate: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!predicate()) return;
        this.#waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`timed out waiting for ${what}`));
      }, timeoutMs);
      this.#waiters.add(check);
    });
  }

  /** Waits for a roster of `room` that lists exactly these usernames. */
  waitForRoster(room: string, usernames: string[], timeoutMs?: number): Promise<void> {
    const want = [...usernames].sort().join('\n');
    return this.waitFor(
      () => this.members.some((m) => m.room === room && m.members.map((x) => x.username).sort().join('\n') === want),
      `roster of ${room} = ${usernames.join(', ')}`,
      timeoutMs,
    );
  }

  waitForDisconnect(timeoutMs?: number): Promise<void> {
    return this.waitFor(() => this.socket.disconnected, 'disconnect', timeoutMs);
  }

  close(): void {
    this.socket.close();
  }
}
