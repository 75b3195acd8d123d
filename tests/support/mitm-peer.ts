/**
 * The attacker's half of a WebRTC man in the middle, for tests only. A malicious signaling
 * server that swallows the offer/answer between two browsers and answers each of them
 * itself ends up holding two real DTLS connections: one with the initiator (we answer its
 * offer) and one with the responder (we send our own offer). Data-channel messages are
 * then relayed between the two legs, so each browser believes it talks to the other while
 * every byte passes through here in the attacker's hands.
 *
 * WebRTC in Node comes from libdatachannel (`node-datachannel/polyfill`, installed with
 * simple-peer's `webrtc-polyfill`). The peer must run in the same network namespace as the
 * browsers, which it does when the test runs under `netns-run`.
 */
import { RTCPeerConnection } from 'node-datachannel/polyfill';
import type { SignalData } from '../../signaling/src/protocol.ts';

export type Leg = 'initiator' | 'responder';

export interface SeenFrame {
  /** The side that sent it. */
  from: Leg;
  binary: boolean;
  /** The text of a text frame; the bytes of a binary frame as latin1 (so a plaintext search still works). */
  text: string;
  /** True when the attacker kept the frame to itself instead of relaying it. */
  withheld: boolean;
}

export interface InterceptorOptions {
  /** Signals the attacker sends to the initiator, posing as the responder. */
  toInitiator: (data: SignalData) => void;
  /** Signals the attacker sends to the responder, posing as the initiator. */
  toResponder: (data: SignalData) => void;
  /**
   * Frames the attacker does not relay. By default a `bye` (one side telling the other it
   * refused the connection) is withheld: a real attacker hides a refusal to keep the other
   * victim engaged, so each browser must detect the substitution on its own. It also makes
   * what each side reports independent of which side finished checking first.
   */
  withhold?: (text: string, binary: boolean) => boolean;
}

type Channel = ReturnType<RTCPeerConnection['createDataChannel']>;
type Payload = string | ArrayBuffer | ArrayBufferView;

const withholdRefusals = (text: string, binary: boolean): boolean => {
  if (binary) return false;
  try {
    return (JSON.parse(text) as { t?: unknown }).t === 'bye';
  } catch {
    return false;
  }
};

function asText(data: unknown): { binary: boolean; text: string } {
  if (typeof data === 'string') return { binary: false, text: data };
  if (data instanceof ArrayBuffer) return { binary: true, text: Buffer.from(data).toString('latin1') };
  if (ArrayBuffer.isView(data)) return { binary: true, text: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('latin1') };
  return { binary: true, text: String(data) };
}

/** Our candidates in the shape the client's signal schema accepts. */
function candidateSignal(c: RTCIceCandidate): SignalData | null {
  const line = c.candidate.replace(/^a=/, '');
  if (!line) return null;
  return { type: 'candidate', candidate: { candidate: line, sdpMLineIndex: c.sdpMLineIndex ?? 0, sdpMid: c.sdpMid ?? '0' } };
}

/** One intercepted connection between an initiator and a responder. */
export class ChannelInterceptor {
  readonly seen: SeenFrame[] = [];
  readonly errors: string[] = [];
  /** Which legs ever had an open data channel with their browser. */
  readonly opened = new Set<Leg>();
  readonly #opts: InterceptorOptions;
  readonly #withhold: (text: string, binary: boolean) => boolean;
  /** Faces the initiator: it answers the initiator's offer. */
  readonly #pcI = new RTCPeerConnection({ iceServers: [] });
  /** Faces the responder: it makes its own offer. */
  readonly #pcR = new RTCPeerConnection({ iceServers: [] });
  #opsI: Promise<void> = Promise.resolve();
  #opsR: Promise<void> = Promise.resolve();
  #chI: Channel | null = null;
  readonly #chR: Channel;
  readonly #queued: Record<Leg, Payload[]> = { initiator: [], responder: [] };
  readonly #pending: Record<Leg, RTCIceCandidateInit[]> = { initiator: [], responder: [] };
  readonly #remoteSet: Record<Leg, boolean> = { initiator: false, responder: false };
  #closed = false;

  constructor(opts: InterceptorOptions) {
    this.#opts = opts;
    this.#withhold = opts.withhold ?? withholdRefusals;
    this.#pcI.onicecandidate = (e) => {
      const s = e.candidate && candidateSignal(e.candidate);
      if (s && !this.#closed) opts.toInitiator(s);
    };
    this.#pcR.onicecandidate = (e) => {
      const s = e.candidate && candidateSignal(e.candidate);
      if (s && !this.#closed) opts.toResponder(s);
    };
    this.#pcI.ondatachannel = (e) => this.#attach('initiator', e.channel as Channel);
    this.#chR = this.#pcR.createDataChannel('mitm');
    this.#attach('responder', this.#chR);
    this.#opsR = this.#run('offer to responder', async () => {
      await this.#pcR.setLocalDescription(await this.#pcR.createOffer());
      const sdp = this.#pcR.localDescription?.sdp;
      if (sdp && !this.#closed) opts.toResponder({ type: 'offer', sdp });
    });
  }

  /** A signal the initiator meant for the responder. */
  fromInitiator(data: SignalData): void {
    this.#opsI = this.#opsI.then(() =>
      this.#run(`initiator ${data.type}`, async () => {
        if (data.type === 'offer') {
          await this.#pcI.setRemoteDescription({ type: 'offer', sdp: data.sdp });
          this.#remoteSet.initiator = true;
          await this.#pcI.setLocalDescription(await this.#pcI.createAnswer());
          const sdp = this.#pcI.localDescription?.sdp;
          if (sdp && !this.#closed) this.#opts.toInitiator({ type: 'answer', sdp });
          await this.#addPending('initiator');
        } else if (data.type === 'candidate' && data.candidate.candidate) {
          this.#pending.initiator.push({ candidate: data.candidate.candidate, sdpMid: data.candidate.sdpMid ?? '0' });
          await this.#addPending('initiator');
        }
      }),
    );
  }

  /** A signal the responder meant for the initiator. */
  fromResponder(data: SignalData): void {
    this.#opsR = this.#opsR.then(() =>
      this.#run(`responder ${data.type}`, async () => {
        if (data.type === 'answer') {
          await this.#pcR.setRemoteDescription({ type: 'answer', sdp: data.sdp });
          this.#remoteSet.responder = true;
          await this.#addPending('responder');
        } else if (data.type === 'candidate' && data.candidate.candidate) {
          this.#pending.responder.push({ candidate: data.candidate.candidate, sdpMid: data.candidate.sdpMid ?? '0' });
          await this.#addPending('responder');
        }
      }),
    );
  }

  /**
   * Candidates wait for the remote description: a browser may trickle its first candidate
   * before its answer reaches us.
   */
  async #addPending(leg: Leg): Promise<void> {
    const pc = leg === 'initiator' ? this.#pcI : this.#pcR;
    if (!this.#remoteSet[leg]) return;
    for (const c of this.#pending[leg].splice(0)) await pc.addIceCandidate(c);
  }

  /** Frames one side sent, as text. */
  framesFrom(leg: Leg): SeenFrame[] {
    return this.seen.filter((f) => f.from === leg);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const pc of [this.#pcI, this.#pcR]) {
      try {
        pc.close();
      } catch {
        // already closed
      }
    }
  }

  async #run(what: string, task: () => Promise<void>): Promise<void> {
    if (this.#closed) return;
    try {
      await task();
    } catch (e) {
      if (!this.#closed) this.errors.push(`${what}: ${(e as Error).message}`);
    }
  }

  #attach(leg: Leg, channel: Channel): void {
    if (leg === 'initiator') this.#chI = channel;
    channel.binaryType = 'arraybuffer';
    channel.onopen = () => {
      this.opened.add(leg);
      this.#flush(leg); // what the other side sent before this leg was up
    };
    // NOTE: a close on one leg is not passed on: the attacker keeps the other victim
    // talking, so each side's failure is its own verdict.
    channel.onmessage = (e: MessageEvent) => {
      const data = e.data as Payload;
      const { binary, text } = asText(data);
      const withheld = this.#withhold(text, binary);
      this.seen.push({ from: leg, binary, text, withheld });
      if (withheld) return;
      const to: Leg = leg === 'initiator' ? 'responder' : 'initiator';
      this.#queued[to].push(data);
      this.#flush(to);
    };
  }

  /** Sends what is queued for `to` once its channel is open. */
  #flush(to: Leg): void {
    const channel = to === 'initiator' ? this.#chI : this.#chR;
    if (!channel || channel.readyState !== 'open' || this.#closed) return;
    const queue = this.#queued[to];
    while (queue.length > 0) {
      const data = queue.shift()!;
      try {
        if (typeof data === 'string') channel.send(data);
        else if (data instanceof ArrayBuffer) channel.send(data);
        else channel.send(new Uint8Array(data.buffer, data.byteOffset, data.byteLength) as Uint8Array<ArrayBuffer>);
      } catch (e) {
        this.errors.push(`relay to ${to}: ${(e as Error).message}`);
      }
    }
  }
}
