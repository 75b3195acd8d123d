import { io, type Socket } from 'socket.io-client';
import type * as v from 'valibot';
import {
  AuthChallengeAck,
  AuthProveAck,
  ClientEvent,
  MembersPush,
  NoticePush,
  parse,
  PROTOCOL_VERSION,
  RoomJoinAck,
  RoomsPush,
  ServerError,
  ServerEvent,
  SignalPush,
  SimpleAck,
} from '../../../../signaling/src/protocol.ts';
import { Emitter } from '../util/emitter.ts';
import type { SignalingEvents, SignalingLink } from './signaling-link.ts';
import { SIGNALING_RECONNECT_MAX_MS, SIGNALING_RECONNECT_MIN_MS } from './limits.ts';

/** An ack that does not arrive in this time is treated as the server being unavailable. */
const ACK_TIMEOUT_MS = 10_000;

/** socket.io adapter. WebSocket only: no sticky sessions are needed behind a balancer. */
export class SocketIoSignaling implements SignalingLink {
  readonly #socket: Socket;
  readonly #events = new Emitter<SignalingEvents>();

  constructor(url: string) {
    this.#socket = io(url, {
      autoConnect: false,
      transports: ['websocket'],
      auth: { v: PROTOCOL_VERSION },
      reconnectionDelay: SIGNALING_RECONNECT_MIN_MS,
      reconnectionDelayMax: SIGNALING_RECONNECT_MAX_MS,
      randomizationFactor: 0.5,
    });
    const s = this.#socket;
    s.on('connect', () => this.#events.emit('status', 'connected'));
    s.on('disconnect', (reason) => this.#events.emit('status', 'disconnected', reason));
    s.on('connect_error', (err: Error & { data?: { message?: string } }) => {
      if (err.message === ServerError.Version) {
        s.disconnect();
        this.#events.emit('status', 'incompatible', err.data?.message ?? 'incompatible server version');
      } else {
        this.#events.emit('status', 'disconnected', err.message);
      }
    });
    this.#listen(ServerEvent.Rooms, RoomsPush, (p) => this.#events.emit('rooms', p));
    this.#listen(ServerEvent.Members, MembersPush, (p) => this.#events.emit('members', p));
    this.#listen(ServerEvent.Signal, SignalPush, (p) => this.#events.emit('signal', p));
    this.#listen(ServerEvent.Notice, NoticePush, (p) => this.#events.emit('notice', p));
  }

  #listen<S extends v.GenericSchema>(event: string, schema: S, handler: (value: v.InferOutput<S>) => void): void {
    this.#socket.on(event, (payload: unknown) => {
      const r = parse(schema, payload);
      if (r.ok) handler(r.value);
      else this.#events.emit('invalid', event, r.error);
    });
  }

  async #request<S extends v.GenericSchema>(event: string, schema: S, payload?: unknown): Promise<v.InferOutput<S>> {
    const unavailable = { ok: false, error: ServerError.Unavailable, message: 'the server did not answer' };
    if (!this.#socket.connected) return { ...unavailable, message: 'not connected to the server' } as v.InferOutput<S>;
    try {
      const args = payload === undefined ? [] : [payload];
      const answer: unknown = await this.#socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, ...args);
      const r = parse(schema, answer);
      if (r.ok) return r.value;
      this.#events.emit('invalid', event, r.error);
      return { ...unavailable, message: `the server sent an invalid answer (${r.error})` } as v.InferOutput<S>;
    } catch {
      return unavailable as v.InferOutput<S>;
    }
  }

  get socketId(): string | null {
    return this.#socket.id ?? null;
  }

  connect(): void {
    this.#events.emit('status', 'connecting');
    this.#socket.connect();
  }

  authChallenge(req: Parameters<SignalingLink['authChallenge']>[0]) {
    return this.#request(ClientEvent.AuthChallenge, AuthChallengeAck, req);
  }
  authProve(req: Parameters<SignalingLink['authProve']>[0]) {
    return this.#request(ClientEvent.AuthProve, AuthProveAck, req);
  }
  joinRoom(req: Parameters<SignalingLink['joinRoom']>[0]) {
    return this.#request(ClientEvent.RoomJoin, RoomJoinAck, req);
  }
  leaveRoom(req: Parameters<SignalingLink['leaveRoom']>[0]) {
    return this.#request(ClientEvent.RoomLeave, SimpleAck, req);
  }
  signal(req: Parameters<SignalingLink['signal']>[0]) {
    return this.#request(ClientEvent.Signal, SimpleAck, req);
  }

  on<K extends keyof SignalingEvents>(event: K, handler: SignalingEvents[K]): () => void {
    return this.#events.on(event, handler);
  }

  close(): void {
    this.#socket.disconnect();
    this.#events.clear();
  }
}
