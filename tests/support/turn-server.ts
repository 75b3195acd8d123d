import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../load/redis-server.ts';

/** Debian's coturn; CI installs it. Tests skip (saying why) only when it is missing. */
const TURNSERVER = process.env.TURNSERVER_PATH ?? '/usr/bin/turnserver';
export const haveTurnServer = existsSync(TURNSERVER);
// CI installs coturn (.ci/run): there a missing server is a broken setup, never a skip.
if (!haveTurnServer && process.env.CI) throw new Error(`${TURNSERVER} is missing; .ci/run must install coturn`);
export const NO_TURN_MESSAGE = `skipped: ${TURNSERVER} is not installed (apt-get install coturn)`;

const START_TIMEOUT_MS = 15_000;

/**
 * The address a browser reaches the TURN server on: the test network's own interface
 * (inside the private namespace the tests run in). Browsers do not relay through loopback.
 */
function testNetworkAddress(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  throw new Error('no IPv4 address besides loopback: run the tests inside the test network namespace (.ci/netns-run)');
}

/**
 * A private coturn with the TURN REST API secret, as the README's recipe configures it,
 * relaying only between addresses of the test network. Its log is kept for assertions.
 */
export class TurnServer {
  readonly secret = randomBytes(16).toString('hex');
  readonly host: string;
  readonly port: number;
  readonly #dir: string;
  #child: ChildProcess | null = null;
  log = '';

  private constructor(host: string, port: number, dir: string) {
    this.host = host;
    this.port = port;
    this.#dir = dir;
  }

  get url(): string {
    return `turn:${this.host}:${this.port}?transport=udp`;
  }

  static async start(): Promise<TurnServer> {
    const server = new TurnServer(testNetworkAddress(), await freePort(), await mkdtemp(join(tmpdir(), 'chat-turn-')));
    await server.#spawn();
    return server;
  }

  async #spawn(): Promise<void> {
    const relayFrom = this.port < 65_000 ? this.port + 1 : 40_000;
    const child = spawn(
      TURNSERVER,
      [
        '-n',
        `--listening-ip=${this.host}`,
        `--listening-port=${this.port}`,
        `--relay-ip=${this.host}`,
        `--min-port=${relayFrom}`,
        `--max-port=${relayFrom + 400}`,
        '--use-auth-secret',
        `--static-auth-secret=${this.secret}`,
        '--realm=chat-test',
        `--allowed-peer-ip=${this.host}`,
        '--no-tls',
        '--no-dtls',
        '--no-cli',
        '--log-file=stdout',
        '--simple-log',
        `--pidfile=${join(this.#dir, 'turnserver.pid')}`,
        `--userdb=${join(this.#dir, 'turndb')}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.#child = child;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`turnserver did not start:\n${this.log}`)), START_TIMEOUT_MS);
      const onData = (d: Buffer) => {
        this.log += d.toString();
        if (this.log.includes('Total General servers')) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`turnserver exited (${code}):\n${this.log}`));
      });
    });
  }

  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = null;
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    await rm(this.#dir, { recursive: true, force: true });
  }
}
