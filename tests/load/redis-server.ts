import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Debian's redis-server; CI installs it. Tests skip (saying why) only when it is missing. */
export const REDIS_SERVER = process.env.REDIS_SERVER_PATH ?? '/usr/bin/redis-server';
export const haveRedis = existsSync(REDIS_SERVER);
// CI installs redis-server (.ci/run): there a missing server is a broken setup, never a skip.
if (!haveRedis && process.env.CI) throw new Error(`${REDIS_SERVER} is missing; .ci/run must install redis-server`);
export const NO_REDIS_MESSAGE = `skipped: ${REDIS_SERVER} is not installed (apt-get install redis-server)`;

/** A port nobody listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * A private redis-server on 127.0.0.1 and a free port, in a temporary folder. Without
 * `persist` nothing is written to disk; with it, an append-only file fsynced on every
 * write, as a deployment that keeps its registry in Redis must run it.
 */
export class RedisServer {
  readonly port: number;
  readonly dir: string;
  readonly #persist: boolean;
  #child: ChildProcess | null = null;

  private constructor(port: number, dir: string, persist: boolean) {
    this.port = port;
    this.dir = dir;
    this.#persist = persist;
  }

  static async start(opts: { persist?: boolean } = {}): Promise<RedisServer> {
    const dir = await mkdtemp(join(tmpdir(), 'chat-redis-'));
    // Another test may take the free port before redis-server binds it: try a few.
    for (let attempt = 1; ; attempt++) {
      const server = new RedisServer(await freePort(), dir, opts.persist ?? false);
      try {
        await server.#spawn();
        return server;
      } catch (e) {
        await server.#stop('SIGKILL');
        if (attempt >= 3) {
          await rm(dir, { recursive: true, force: true });
          throw e;
        }
      }
    }
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.#child !== null;
  }

  /** Kills it without warning (SIGKILL), as a crash or an OOM kill would. */
  async kill(): Promise<void> {
    await this.#stop('SIGKILL');
  }

  /** Starts it again on the same port and folder. */
  async restart(): Promise<void> {
    if (this.#child) await this.#stop('SIGKILL');
    await this.#spawn();
  }

  /** Stops it and removes its folder. */
  async stop(): Promise<void> {
    await this.#stop('SIGTERM');
    await rm(this.dir, { recursive: true, force: true });
  }

  async #spawn(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', '--daemonize', 'no', '--logfile', ''];
    args.push(...(this.#persist ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']));
    const child = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    await new Promise<void>((resolve, reject) => {
      let output = '';
      const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${output}`)), 10_000);
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) {
          clearTimeout(timer);
          child.stdout?.off('data', onData);
          child.stdout?.resume();
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited (${code}):\n${output}`));
      });
    });
  }

  async #stop(signal: NodeJS.Signals): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = null;
    if (child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill(signal);
    });
  }
}
