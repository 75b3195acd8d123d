/// <reference lib="dom" />
/**
 * The bench page: runs our real core code (SimplePeerLink + PeerSession, signed hello,
 * AES-256-GCM frames) and, beside it, a bare RTCPeerConnection data channel, so run.ts can
 * compare the two between the same two pages in the same run; and, for the files bench,
 * the work every file transfer must do, one part at a time (fileWork). Built with Vite like the
 * client (same code, minified), driven from Node through `window.bench`.
 */
import { createSHA256 } from 'hash-wasm';
import { PeerSession } from '../../../client/src/core/chat/peer-session.ts';
import { fromB64u, toB64u } from '../../../client/src/core/crypto/bytes.ts';
import { generateIdentityKeyPair, type IdentityKeyPair } from '../../../client/src/core/crypto/sign.ts';
import { importAesKey, nonceForCounter, openAesGcm, sealAesGcm } from '../../../client/src/core/crypto/aead.ts';
import { SEAL_AHEAD, SEND_READ_BYTES } from '../../../client/src/core/files/limits.ts';
import { OpfsFiles, PERSIST_EVERY_BYTES } from '../../../client/src/core/store/opfs-files.ts';
import { BUFFER_HIGH_WATER, BUFFER_LOW_WATER } from '../../../client/src/core/net/limits.ts';
import { SimplePeerLink } from '../../../client/src/core/net/simple-peer-link.ts';
import type { SignalData } from '../../../signaling/src/protocol.ts';
import type { BenchPageApi, ChannelKind, FileWorkStep, OpenOptions } from './api.ts';

/** Room name bound into the hello and every frame's additional data. */
const ROOM = 'bench';
/**
 * Chunks being sealed ahead of the channel. PeerSession seals one frame at a time, so this
 * only hides the hop back to our loop between chunks; it bounds memory like a file sender would.
 */
const SEAL_WINDOW = 4;

/** Wall-clock milliseconds with sub-ms resolution; every page on the machine shares this clock. */
const wallNow = (): number => performance.timeOrigin + performance.now();

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    p.then(
      (v) => (clearTimeout(timer), resolve(v)),
      (e: unknown) => (clearTimeout(timer), reject(e)),
    );
  });
}

interface Receiver {
  bytes: number;
  target: number;
  done: Promise<number>;
  resolve: (atMs: number) => void;
}

function newReceiver(target: number): Receiver {
  let resolve!: (atMs: number) => void;
  const done = new Promise<number>((r) => (resolve = r));
  return { bytes: 0, target, done, resolve };
}

function countReceived(rx: Receiver, n: number): void {
  rx.bytes += n;
  if (rx.target > 0 && rx.bytes >= rx.target) {
    rx.target = 0;
    rx.resolve(wallNow());
  }
}

type Ping = { t: 'ping' | 'pong'; id: number; sentAt: number };

let identity: IdentityKeyPair | undefined;
let session: PeerSession | undefined;
let pc: RTCPeerConnection | undefined;
let channel: RTCDataChannel | undefined;
let bareOpen: Promise<void> | undefined;
let bareSignals: Promise<void> = Promise.resolve();
const receivers: Record<ChannelKind, Receiver> = { mesh: newReceiver(0), bare: newReceiver(0) };
const pongs = new Map<number, () => void>();
let nextPingId = 1;

function out(kind: ChannelKind, data: unknown): void {
  void window.benchSignalOut(kind, JSON.stringify(data));
}

function onPing(m: Ping, reply: (pong: Ping) => void): void {
  if (m.t === 'ping') reply({ t: 'pong', id: m.id, sentAt: m.sentAt });
  else pongs.get(m.id)?.();
}

function openMesh(opts: OpenOptions): void {
  if (!identity || !opts.me || !opts.peer || !opts.peerKey) throw new Error('mesh needs an identity, both names and the peer key');
  const link = new SimplePeerLink({ initiator: opts.initiator, iceServers: [] });
  link.on('signal', (data) => out('mesh', data));
  const s = new PeerSession({
    link,
    room: ROOM,
    me: { username: opts.me, identity },
    peer: { username: opts.peer, publicKey: fromB64u(opts.peerKey) },
  });
  s.on('chunk', (_header, data) => countReceived(receivers.mesh, data.length));
  s.on('message', (m) => {
    if (m.t === 'ping' || m.t === 'pong') onPing(m, (pong) => void s.sendMessage(pong));
  });
  session = s;
}

function setUpBareChannel(dc: RTCDataChannel): void {
  dc.binaryType = 'arraybuffer';
  dc.bufferedAmountLowThreshold = BUFFER_LOW_WATER;
  dc.onmessage = (e: MessageEvent<string | ArrayBuffer>) => {
    if (typeof e.data === 'string') onPing(JSON.parse(e.data) as Ping, (pong) => dc.send(JSON.stringify(pong)));
    else countReceived(receivers.bare, e.data.byteLength);
  };
  channel = dc;
}

function openBare(opts: OpenOptions): void {
  const conn = new RTCPeerConnection({ iceServers: [] });
  conn.onicecandidate = (e) => {
    if (e.candidate) out('bare', { type: 'candidate', candidate: e.candidate.toJSON() });
  };
  bareOpen = new Promise<void>((resolve) => {
    const ready = (dc: RTCDataChannel) => {
      setUpBareChannel(dc);
      if (dc.readyState === 'open') resolve();
      else dc.addEventListener('open', () => resolve(), { once: true });
    };
    if (opts.initiator) {
      // Same shape as simple-peer's channel: ordered and reliable, default settings.
      ready(conn.createDataChannel('bench'));
      void (async () => {
        await conn.setLocalDescription(await conn.createOffer());
        out('bare', conn.localDescription);
      })();
    } else {
      conn.ondatachannel = (e) => ready(e.channel);
    }
  });
  pc = conn;
}

async function applyBareSignal(data: SignalData): Promise<void> {
  if (!pc) throw new Error('bare connection not created');
  if (data.type === 'offer') {
    await pc.setRemoteDescription(data);
    await pc.setLocalDescription(await pc.createAnswer());
    out('bare', pc.localDescription);
  } else if (data.type === 'answer') {
    await pc.setRemoteDescription(data);
  } else if (data.type === 'candidate') {
    await pc.addIceCandidate(data.candidate);
  }
}

function waitMeshOpen(s: PeerSession): Promise<void> {
  if (s.isOpen) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const off = s.on('state', (state, error) => {
      if (state === 'open') {
        off();
        resolve();
      } else if (state === 'failed' || state === 'closed') {
        off();
        reject(new Error(`mesh session ${state}: ${error?.code ?? ''} ${error?.message ?? ''}`));
      }
    });
  });
}

function meshSession(): PeerSession {
  if (!session?.isOpen) throw new Error('mesh session not open');
  return session;
}

function bareChannel(): RTCDataChannel {
  if (channel?.readyState !== 'open') throw new Error('bare channel not open');
  return channel;
}

async function sendBulkMesh(totalBytes: number, chunk: Uint8Array): Promise<void> {
  const s = meshSession();
  const transferId = crypto.getRandomValues(new Uint8Array(16));
  const count = Math.ceil(totalBytes / chunk.length);
  const inflight: Promise<void>[] = [];
  for (let index = 0; index < count; index++) {
    if (s.isCongested()) {
      await new Promise<void>((resolve) => {
        const off = s.on('drain', () => (off(), resolve()));
      });
    }
    const size = Math.min(chunk.length, totalBytes - index * chunk.length);
    inflight.push(s.sendChunk({ transferId, index, final: index === count - 1 }, chunk.subarray(0, size)));
    if (inflight.length >= SEAL_WINDOW) await inflight.shift();
  }
  await Promise.all(inflight);
}

async function sendBulkBare(totalBytes: number, chunk: Uint8Array<ArrayBuffer>): Promise<void> {
  const dc = bareChannel();
  const count = Math.ceil(totalBytes / chunk.length);
  for (let index = 0; index < count; index++) {
    if (dc.bufferedAmount > BUFFER_HIGH_WATER) {
      await new Promise<void>((resolve) => dc.addEventListener('bufferedamountlow', () => resolve(), { once: true }));
    }
    dc.send(chunk.subarray(0, Math.min(chunk.length, totalBytes - index * chunk.length)));
  }
}

async function pingPong(kind: ChannelKind, count: number, timeoutMs: number): Promise<number[]> {
  let send: (m: Ping) => void;
  if (kind === 'mesh') {
    const s = meshSession();
    send = (m) => void s.sendMessage(m);
  } else {
    const dc = bareChannel();
    send = (m) => dc.send(JSON.stringify(m));
  }
  const rtts: number[] = [];
  for (let i = 0; i < count; i++) {
    const id = nextPingId++;
    const started = performance.now();
    const answered = new Promise<void>((resolve) => pongs.set(id, resolve));
    send({ t: 'ping', id, sentAt: started });
    await withTimeout(answered, timeoutMs, `${kind} ping ${id}`);
    rtts.push(performance.now() - started);
    pongs.delete(id);
  }
  return rtts;
}

function randomBytes(n: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n);
  for (let at = 0; at < n; at += 65_536) crypto.getRandomValues(out.subarray(at, at + 65_536));
  return out;
}

/** Chunks per write request: about what the receiver's batches hold at full speed. */
const STORE_BATCH = 8;
/** Made by `store`, read and removed by `read`. */
const WORK_FILE = 'benchfilework0';
let opfs: Promise<OpfsFiles | null> | null = null;

async function storeWork(totalBytes: number, chunkBytes: number): Promise<void> {
  const files = await (opfs ??= OpfsFiles.open());
  if (!files) throw new Error('no origin private file system here');
  const chunk = randomBytes(chunkBytes);
  let flushedAt = 0;
  for (let at = 0; at < totalBytes; ) {
    const parts = [];
    // A fresh buffer per chunk, moved to the worker, as the receiver's decrypted chunks are.
    for (let i = 0; i < STORE_BATCH && at < totalBytes; i++, at += chunkBytes) parts.push({ at, data: chunk.slice(0, Math.min(chunkBytes, totalBytes - at)) });
    // Flushed as often as the app flushes a file being received.
    const flush = at - flushedAt >= PERSIST_EVERY_BYTES || at >= totalBytes;
    if (flush) flushedAt = at;
    await files.write(WORK_FILE, parts, flush);
  }
}

async function readWork(): Promise<void> {
  const files = await opfs;
  if (!files) throw new Error('read before store');
  const file = await files.file(WORK_FILE);
  for (let at = 0; at < file.size; at += SEND_READ_BYTES) await file.slice(at, at + SEND_READ_BYTES).arrayBuffer();
  await files.remove(WORK_FILE);
}

/** Content does not change the cost of SHA-256 or AES-GCM: one random block, reused. */
async function fileWork(step: FileWorkStep, totalBytes: number, chunkBytes: number): Promise<void> {
  if (step === 'store') return storeWork(totalBytes, chunkBytes);
  if (step === 'read') return readWork();
  if (step === 'hash') {
    const block = randomBytes(SEND_READ_BYTES);
    const hasher = await createSHA256();
    hasher.init();
    for (let done = 0; done < totalBytes; done += block.byteLength) hasher.update(block.subarray(0, Math.min(block.byteLength, totalBytes - done)));
    hasher.digest('hex');
    return;
  }
  const key = await importAesKey(randomBytes(32));
  // A chunk frame's additional data is about this long (header, transfer id, index, flags).
  const aad = randomBytes(64);
  const plain = randomBytes(chunkBytes);
  const sealed = await sealAesGcm(key, nonceForCounter(0n), aad, plain);
  const one = (i: number) => (step === 'seal' ? sealAesGcm(key, nonceForCounter(BigInt(i)), aad, plain) : openAesGcm(key, nonceForCounter(0n), aad, sealed));
  const inFlight: Promise<unknown>[] = [];
  for (let i = 0; i * chunkBytes < totalBytes; i++) {
    inFlight.push(one(i));
    if (inFlight.length >= SEAL_AHEAD) await inFlight.shift();
  }
  await Promise.all(inFlight);
}

const api: BenchPageApi = {
  async createIdentity() {
    identity = await generateIdentityKeyPair();
    return toB64u(identity.publicKey);
  },
  open(kind, opts) {
    if (kind === 'mesh') openMesh(opts);
    else openBare(opts);
  },
  signal(kind, json) {
    const data = JSON.parse(json) as SignalData;
    if (kind === 'mesh') session?.acceptSignal(data);
    // Applied one after another: a candidate must not overtake the description it belongs to.
    else bareSignals = bareSignals.then(() => applyBareSignal(data)).catch((e: unknown) => console.error('bare signal failed', e));
  },
  opened(kind, timeoutMs) {
    if (kind === 'mesh') {
      if (!session) return Promise.reject(new Error('mesh session not created'));
      return withTimeout(waitMeshOpen(session), timeoutMs, 'mesh handshake');
    }
    if (!bareOpen) return Promise.reject(new Error('bare connection not created'));
    return withTimeout(bareOpen, timeoutMs, 'bare channel open');
  },
  armReceive(kind, totalBytes) {
    receivers[kind] = newReceiver(totalBytes);
  },
  received(kind, timeoutMs) {
    return withTimeout(receivers[kind].done, timeoutMs, `${kind} bulk receive`);
  },
  async sendBulk(kind, totalBytes, chunkBytes) {
    // Random bytes once, reused: AES-GCM's cost does not depend on the content.
    const chunk = new Uint8Array(chunkBytes);
    for (let at = 0; at < chunkBytes; at += 65_536) crypto.getRandomValues(chunk.subarray(at, at + 65_536));
    const started = wallNow();
    if (kind === 'mesh') await sendBulkMesh(totalBytes, chunk);
    else await sendBulkBare(totalBytes, chunk);
    return started;
  },
  fileWork,
  pingPong,
  close() {
    session?.close();
    pc?.close();
  },
};

window.bench = api;
