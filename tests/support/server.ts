import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../signaling/src/config.ts';
import { startSignalingServer, type SignalingServer, type StartOptions } from '../../signaling/src/server.ts';
import { createLogger } from '../../signaling/src/log.ts';

export const clientDist = resolve(fileURLToPath(new URL('../../client/dist', import.meta.url)));

export interface TestServer extends SignalingServer {
  /** Every packet payload the server received from any client, as text. */
  received: string[];
  dataDir: string;
  stop(): Promise<void>;
}

/**
 * A real signaling server on a free port, serving the built client, with every packet it
 * receives recorded so tests can assert what the server never saw.
 */
export async function startTestServer(opts: { port?: number; dataDir?: string; env?: Record<string, string> } & StartOptions = {}): Promise<TestServer> {
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'chat-test-')));
  const config = loadConfig({ PORT: String(opts.port ?? 0), HOST: '127.0.0.1', DATA_DIR: dataDir, STATIC_DIR: clientDist, LOG_LEVEL: 'silent', ...opts.env });
  const server = await startSignalingServer(config, { logger: createLogger('silent'), ...opts });
  const received: string[] = [];
  server.io.engine.on('connection', (raw: { on(ev: 'packet', cb: (p: { data?: unknown }) => void): void }) => {
    raw.on('packet', (p) => {
      if (p.data !== undefined) received.push(typeof p.data === 'string' ? p.data : Buffer.from(p.data as ArrayBuffer).toString('latin1'));
    });
  });
  return {
    ...server,
    received,
    dataDir,
    async stop() {
      await server.close();
      if (!opts.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
