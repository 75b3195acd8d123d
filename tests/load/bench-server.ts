/**
 * A server process for the signaling load bench, driven over IPC by
 * tests/bench/signaling-load.ts. Mode `ours` runs the real signaling server; mode `bare`
 * runs a bare Socket.IO server with the same transport settings and no application
 * logic: the baseline for memory per client. Run with --expose-gc so memory is measured
 * after a full collection, the same way in both modes.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Server } from 'socket.io';
import { loadConfig } from '../../signaling/src/config.ts';
import { MAX_HTTP_BUFFER_BYTES } from '../../signaling/src/limits.ts';
import { createLogger } from '../../signaling/src/log.ts';
import { startSignalingServer } from '../../signaling/src/server.ts';

export type BenchServerRequest = { cmd: 'measure' } | { cmd: 'stop' } | { cmd: 'events' };
export type BenchServerReply =
  | { type: 'ready'; url: string }
  | { type: 'memory'; rss: number; heapUsed: number; heapTotal: number; external: number; sockets: number }
  | { type: 'events'; total: number; rejected: number }
  | { type: 'stopped' };

const mode = process.argv[2] === 'bare' ? 'bare' : 'ours';
const send = (m: BenchServerReply) => process.send?.(m);
/** Full collections with pauses between, so V8's concurrent sweeping returns what it frees before RSS is read. */
const collect = async () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 4; i++) {
    gc?.();
    await new Promise((r) => setTimeout(r, 250));
  }
};

const dataDir = await mkdtemp(join(tmpdir(), 'chat-bench-'));
let sockets: () => number;
let events: () => { total: number; rejected: number } = () => ({ total: 0, rejected: 0 });
let stop: () => Promise<void>;
let url: string;

if (mode === 'ours') {
  const config = loadConfig({
    ...process.env,
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    STATIC_DIR: '',
    LOG_LEVEL: 'warn',
    // Every client comes from 127.0.0.1 here: the per-address bounds must not apply.
    MAX_SOCKETS_PER_ADDRESS: '1000000',
    RATE_ADDRESS_CONNECTS_PER_MINUTE: '10000000',
    RATE_ADDRESS_EVENTS_PER_SECOND: '10000000',
  });
  const server = await startSignalingServer(config, { logger: createLogger('warn') });
  url = `http://127.0.0.1:${server.port}`;
  sockets = () => server.io.engine.clientsCount;
  events = () => ({ total: server.metrics.eventsTotal(), rejected: server.metrics.rejectedTotal() });
  stop = () => server.close();
} else {
  const http = createServer();
  // The same transport settings as ours, and nothing else.
  const io = new Server(http, { transports: ['websocket'], maxHttpBufferSize: MAX_HTTP_BUFFER_BYTES, serveClient: false, cors: { origin: true } });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  sockets = () => io.engine.clientsCount;
  stop = () => new Promise<void>((resolve) => void io.close(() => resolve()));
}

process.on('message', (m: BenchServerRequest) => {
  if (m.cmd === 'measure') {
    void collect().then(() => {
      const mem = process.memoryUsage();
      send({ type: 'memory', rss: mem.rss, heapUsed: mem.heapUsed, heapTotal: mem.heapTotal, external: mem.external, sockets: sockets() });
    });
  } else if (m.cmd === 'events') {
    send({ type: 'events', ...events() });
  } else if (m.cmd === 'stop') {
    void stop()
      .then(() => rm(dataDir, { recursive: true, force: true }))
      .then(() => {
        send({ type: 'stopped' });
        process.exit(0);
      });
  }
});
// The orchestrator going away takes this process with it.
process.on('disconnect', () => process.exit(0));
send({ type: 'ready', url });
