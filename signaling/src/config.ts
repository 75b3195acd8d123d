import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IceServer } from './protocol.ts';

/** Everything an operator can set, read from the environment with embedded defaults. */
export interface ServerConfig {
  port: number;
  host: string;
  /** Allowed origins for CORS; '*' when the client is served from anywhere. */
  corsOrigins: string[] | '*';
  dataDir: string;
  /** Built client to serve; null to serve nothing but the API. */
  staticDir: string | null;
  logLevel: string;
  iceServers: IceServer[];
  /** Seconds a TURN credential is valid (TURN REST API convention). */
  turnTtlSeconds: number;
  turnSecret: string | null;
  turnUrls: string[];
  redisUrl: string | null;
}

const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));

function list(value: string | undefined): string[] {
  return (value ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const origins = list(env.CORS_ORIGINS);
  return {
    port: Number(env.PORT ?? 8080),
    host: env.HOST ?? '0.0.0.0',
    corsOrigins: origins.length === 0 || origins.includes('*') ? '*' : origins,
    dataDir: resolve(env.DATA_DIR ?? resolve(repoRoot, 'data')),
    staticDir: env.STATIC_DIR === '' ? null : resolve(env.STATIC_DIR ?? resolve(repoRoot, 'client/dist')),
    logLevel: env.LOG_LEVEL ?? 'info',
    iceServers: list(env.STUN_URLS).map((urls) => ({ urls })),
    turnTtlSeconds: Number(env.TURN_TTL_SECONDS ?? 3600),
    turnSecret: env.TURN_SECRET || null,
    turnUrls: list(env.TURN_URLS),
    redisUrl: env.REDIS_URL || null,
  };
}
