import { ConfigError, loadConfig, type ServerConfig } from './config.ts';
import { createLogger } from './log.ts';
import { startSignalingServer } from './server.ts';

/** Exit codes a supervisor can tell apart. */
const EXIT_CONFIG = 2;
const EXIT_START = 1;

let config: ServerConfig;
try {
  config = loadConfig();
} catch (e) {
  if (!(e instanceof ConfigError)) throw e;
  console.error(e.message);
  process.exit(EXIT_CONFIG);
}

const log = createLogger(config.logLevel);
// A bug in one request must not take every other chat down with it; it is logged
// loudly instead. (An uncaught exception leaves state unknown, so that one still exits.)
process.on('unhandledRejection', (reason) => log.error({ err: reason instanceof Error ? reason.message : String(reason) }, 'unhandled rejection'));

const server = await startSignalingServer(config, { logger: log }).catch((e: unknown) => {
  log.fatal({ err: e instanceof Error ? e.message : String(e) }, 'could not start');
  process.exit(EXIT_START);
});
if (process.stdout.isTTY) console.log(`\n  p2p-chat is running: open ${server.url} in two tabs\n`);

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1); // a second signal: the operator wants out now
    stopping = true;
    log.info({ signal }, 'shutting down');
    // close() is bounded by SHUTDOWN_GRACE_MS; this is the backstop if something still hangs.
    setTimeout(() => process.exit(1), config.limits.shutdownGraceMs + 3_000).unref();
    void server.close().then(() => process.exit(0));
  });
}
