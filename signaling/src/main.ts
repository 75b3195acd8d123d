import { loadConfig } from './config.ts';
import { createLogger } from './log.ts';
import { startSignalingServer } from './server.ts';

const config = loadConfig();
const log = createLogger(config.logLevel);
const server = await startSignalingServer(config, { logger: log });
console.log(`\n  p2p-chat is running: open ${server.url} in two tabs\n`);

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1);
    stopping = true;
    log.info({ signal }, 'shutting down');
    void server.close().then(() => process.exit(0));
  });
}
