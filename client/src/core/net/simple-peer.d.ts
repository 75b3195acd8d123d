// The parts of @thaunknown/simple-peer we use; the package ships no types.
declare module '@thaunknown/simple-peer' {
  interface SimplePeerOptions {
    initiator?: boolean;
    trickle?: boolean;
    objectMode?: boolean;
    config?: RTCConfiguration;
    channelConfig?: RTCDataChannelInit;
    wrtc?: unknown;
  }
  export default class SimplePeer {
    constructor(opts?: SimplePeerOptions);
    readonly destroyed: boolean;
    readonly connected: boolean;
    _pc: RTCPeerConnection | null;
    _channel: RTCDataChannel | null;
    signal(data: unknown): void;
    send(data: string | Uint8Array | ArrayBuffer): void;
    destroy(err?: Error): void;
    on(event: 'signal', cb: (data: unknown) => void): this;
    on(event: 'connect' | 'close', cb: () => void): this;
    on(event: 'data', cb: (data: string | Uint8Array) => void): this;
    on(event: 'error', cb: (err: Error & { code?: string }) => void): this;
  }
}
