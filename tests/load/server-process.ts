import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './redis-server.ts';

export const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/**
 * The real server entry point (`signaling/src/main.ts`) in its own process, as an
 * operator runs it: configured by environment, JSON logs on stdout.
 */
export class ServerProcess {
  readonly port: number;
  readonly logs: string[] = [];
  readonly #child: ChildProcess;
  readonly #dataDir: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(child: ChildProcess, port: number, dataDir: string) {
    this.#child = child;
    this.port = port;
    this.#dataDir = dataDir;
    let buffered = '';
    const collect = (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      this.logs.push(...lines.filter(Boolean));
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    this.exited = new Promise((done) => child.once('exit', (code, signal) => done({ code, signal })));
  }

  /** Starts `main.ts` with `env` on a free port and waits until /healthz answers 200. */
  static async start(env: Record<string, string>, opts: { nodeArgs?: string[]; readyTimeoutMs?: number } = {}): Promise<ServerProcess> {
    // Another test may take the free port first: try again on another one.
    for (let attempt = 1; ; attempt++) {
      try {
        return await ServerProcess.#startOnce(env, opts);
      } catch (e) {
        if (env.PORT || attempt >= 3) throw e;
      }
    }
  }

  static async #startOnce(env: Record<string, string>, opts: { nodeArgs?: string[]; readyTimeoutMs?: number }): Promise<ServerProcess> {
    const port = Number(env.PORT ?? (await freePort()));
    const dataDir = env.DATA_DIR ?? (await mkdtemp(join(tmpdir(), 'chat-proc-')));
    const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), '--import', 'tsx', 'signaling/src/main.ts'], {
      cwd: repoRoot,
      env: { ...process.env, HOST: '127.0.0.1', STATIC_DIR: '', LOG_LEVEL: 'info', ...env, PORT: String(port), DATA_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const server = new ServerProcess(child, port, env.DATA_DIR ? '' : dataDir);
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 30_000);
    for (;;) {
      if (child.exitCode !== null) {
        await server.stop();
        throw new Error(`server exited while starting:\n${server.logs.join('\n')}`);
      }
      if ((await server.health().catch(() => 0)) === 200) return server;
      if (Date.now() > deadline) {
        await server.stop('SIGKILL');
        throw new Error(`server did not become healthy:\n${server.logs.join('\n')}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** The /healthz status code. */
  async health(): Promise<number> {
    return (await fetch(`${this.url}/healthz`)).status;
  }

  async healthBody(): Promise<unknown> {
    return (await fetch(`${this.url}/healthz`)).json();
  }

  /** Sends `signal` and waits for the exit; removes its data folder. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.running) this.#child.kill(signal);
    const result = await this.exited;
    if (this.#dataDir) await rm(this.#dataDir, { recursive: true, force: true });
    return result;
  }

  /** Log records (JSON lines) parsed; non-JSON lines are kept as `{ raw }`. */
  records(): Record<string, unknown>[] {
    return this.logs.map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        return { raw: line };
      }
    });
  }
}
