import { createHmac } from 'node:crypto';
import type { ServerConfig } from './config.ts';
import type { IceServer } from './protocol.ts';

/**
 * The ICE servers a client gets: configured STUN servers, plus TURN with a short-lived
 * credential when TURN_SECRET is set (TURN REST API convention, as coturn's
 * `use-auth-secret` expects: username = "expiry:user", password = base64(HMAC-SHA1)).
 */
export function issueIceServers(config: ServerConfig, user: string, now = Date.now()): IceServer[] {
  const servers: IceServer[] = [...config.iceServers];
  if (config.turnSecret && config.turnUrls.length > 0) {
    const expiry = Math.floor(now / 1000) + config.turnTtlSeconds;
    const username = `${expiry}:${user}`;
    const credential = createHmac('sha1', config.turnSecret).update(username).digest('base64');
    servers.push({ urls: config.turnUrls, username, credential });
  }
  return servers;
}
