/**
 * A process holding a slice of the signaling load bench's clients, driven over IPC by
 * tests/bench/signaling-load.ts. Clients are lean socket.io-client sockets (no history
 * of pushes kept) speaking the real protocol: Ed25519 login, joins, relayed signals.
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { io, type Socket } from 'socket.io-client';
import { ClientEvent, loginChallengeText, PROTOCOL_VERSION, ServerEvent } from '../../signaling/src/protocol.ts';

export type BenchWorkerRequest =
  | { cmd: 'connect'; url: string; from: number; to: number; concurrency: number; auth: boolean }
  | { cmd: 'login'; concurrency: number }
  | { cmd: 'join'; rooms: Record<number, string>; concurrency: number }
  | { cmd: 'signal'; targets: Record<number, { room: string; to: string }>; perClient: number; concurrency: number }
  | { cmd: 'received' }
  | { cmd: 'close' };

export type BenchWorkerReply =
  | { type: 'connected'; ms: number[]; failed: number; ids: Record<number, string> }
  | { type: 'loggedIn'; ms: number[]; failed: number }
  | { type: 'joined'; ms: number[]; failed: number }
  | { type: 'signaled'; sent: number; failed: number; startedAt: number }
  | { type: 'received'; count: number; lastAt: number; connected: number }
  | { type: 'closed' };

interface BenchClient {
  index: number;
  socket: Socket;
  publicKey: string;
  privateKey: KeyObject;
  /** Resolvers waiting for a roster of a room that lists this socket. */
  rosterWaiters: Map<string, () => void>;
}

const clients = new Map<number, BenchClient>();
let received = 0;
let lastReceivedAt = 0;
const reply = (m: BenchWorkerReply) => process.send?.(m);
const ACK_TIMEOUT_MS = 60_000;

/** Runs `task` for every item with at most `limit` at once. */
async function pool<T>(items: T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await task(items[next++]!);
    }),
  );
}

function request(socket: Socket, event: string, payload: unknown): Promise<{ ok: boolean; [k: string]: unknown }> {
  return socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, payload) as Promise<{ ok: boolean }>;
}

async function connectOne(url: string, index: number, auth: boolean): Promise<BenchClient> {
  const socket = io(url, { transports: ['websocket'], forceNew: true, reconnection: false, timeout: ACK_TIMEOUT_MS, auth: { v: PROTOCOL_VERSION } });
  const keys = auth ? generateKeyPairSync('ed25519') : null;
  const client: BenchClient = {
    index,
    socket,
    publicKey: keys ? (keys.publicKey.export({ format: 'jwk' }) as { x: string }).x : '',
    privateKey: keys?.privateKey as KeyObject,
    rosterWaiters: new Map(),
  };
  if (auth) {
    socket.on(ServerEvent.Members, (push: { room: string; members: { socketId: string }[] }) => {
      const waiter = client.rosterWaiters.get(push.room);
      if (waiter && push.members.some((m) => m.socketId === socket.id)) {
        client.rosterWaiters.delete(push.room);
        waiter();
      }
    });
    socket.on(ServerEvent.Signal, () => {
      received++;
      lastReceivedAt = Date.now();
    });
  }
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', (e) => reject(e));
  });
  return client;
}

process.on('message', (m: BenchWorkerRequest) => {
  void handle(m).catch((e: unknown) => {
    console.error('bench worker failed:', e);
    process.exit(1);
  });
});
process.on('disconnect', () => process.exit(0));

async function handle(m: BenchWorkerRequest): Promise<void> {
  switch (m.cmd) {
    case 'connect': {
      const ms: number[] = [];
      let failed = 0;
      const ids: Record<number, string> = {};
      const indexes = Array.from({ length: m.to - m.from }, (_, i) => m.from + i);
      await pool(indexes, m.concurrency, async (index) => {
        const started = performance.now();
        try {
          const c = await connectOne(m.url, index, m.auth);
          ms.push(performance.now() - started);
          clients.set(index, c);
          ids[index] = c.socket.id ?? '';
        } catch {
          failed++;
        }
      });
      reply({ type: 'connected', ms, failed, ids });
      return;
    }
    case 'login': {
      const ms: number[] = [];
      let failed = 0;
      await pool([...clients.values()], m.concurrency, async (c) => {
        const started = performance.now();
        const username = `user${c.index}`;
        try {
          const challenge = await request(c.socket, ClientEvent.AuthChallenge, { username, publicKey: c.publicKey });
          if (!challenge.ok) throw new Error(String(challenge.error));
          const text = loginChallengeText(String(challenge.challenge), username, c.publicKey);
          const signature = sign(null, Buffer.from(text, 'utf8'), c.privateKey).toString('base64url');
          const proved = await request(c.socket, ClientEvent.AuthProve, { signature });
          if (!proved.ok) throw new Error(String(proved.error));
          ms.push(performance.now() - started);
        } catch {
          failed++;
        }
      });
      reply({ type: 'loggedIn', ms, failed });
      return;
    }
    case 'join': {
      const ms: number[] = [];
      let failed = 0;
      await pool([...clients.values()], m.concurrency, async (c) => {
        const room = m.rooms[c.index];
        if (!room) return;
        const started = performance.now();
        try {
          // join -> roster: until the members push listing this socket arrives.
          const roster = new Promise<void>((resolve) => c.rosterWaiters.set(room, resolve));
          const ack = await request(c.socket, ClientEvent.RoomJoin, { room, create: true });
          if (!ack.ok) throw new Error(String(ack.error));
          await roster;
          ms.push(performance.now() - started);
        } catch {
          failed++;
        }
      });
      reply({ type: 'joined', ms, failed });
      return;
    }
    case 'signal': {
      let sent = 0;
      let failed = 0;
      const startedAt = Date.now();
      const jobs: { c: BenchClient; room: string; to: string; n: number }[] = [];
      for (const c of clients.values()) {
        const t = m.targets[c.index];
        if (t) for (let n = 0; n < m.perClient; n++) jobs.push({ c, room: t.room, to: t.to, n });
      }
      await pool(jobs, m.concurrency, async ({ c, room, to, n }) => {
        try {
          const ack = await request(c.socket, ClientEvent.Signal, { room, to, data: { type: 'candidate', candidate: { candidate: `candidate:${n} 1 udp 2122260223 127.0.0.1 ${50000 + n} typ host`, sdpMLineIndex: 0, sdpMid: '0' } } });
          if (ack.ok) sent++;
          else failed++;
        } catch {
          failed++;
        }
      });
      reply({ type: 'signaled', sent, failed, startedAt });
      return;
    }
    case 'received': {
      let connected = 0;
      for (const c of clients.values()) if (c.socket.connected) connected++;
      reply({ type: 'received', count: received, lastAt: lastReceivedAt, connected });
      return;
    }
    case 'close': {
      for (const c of clients.values()) c.socket.close();
      clients.clear();
      reply({ type: 'closed' });
      setTimeout(() => process.exit(0), 100);
      return;
    }
  }
}
