import type { IncomingMessage } from 'node:http';
import { isIPv6 } from 'node:net';

/**
 * The address per-address limits apply to. Behind `trustProxy` reverse proxies, the
 * client is the entry those proxies appended to X-Forwarded-For; entries further left
 * were written by the client itself and are never trusted (NOTE: a client could
 * otherwise claim a fresh address per connection and escape every per-address limit).
 * IPv6 addresses are grouped by /64, the block one subscriber typically holds.
 */
export function clientAddress(req: IncomingMessage, trustProxy: number): string {
  let address = req.socket.remoteAddress ?? 'unknown';
  if (trustProxy > 0) {
    const header = req.headers['x-forwarded-for'];
    const hops = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',').map((s) => s.trim()).filter(Boolean);
    const fromProxy = hops[hops.length - trustProxy];
    if (fromProxy) address = fromProxy;
  }
  return addressGroup(address);
}

/** IPv4 (also when IPv4-mapped) as is; IPv6 reduced to its /64 prefix. */
export function addressGroup(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!isIPv6(address)) return address;
  const [head = '', tail = ''] = address.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = address.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/** Open connections per address, counted at the transport so every close is seen. */
export class AddressCounter {
  readonly #counts = new Map<string, number>();

  add(address: string): void {
    this.#counts.set(address, (this.#counts.get(address) ?? 0) + 1);
  }

  remove(address: string): void {
    const n = (this.#counts.get(address) ?? 1) - 1;
    if (n <= 0) this.#counts.delete(address);
    else this.#counts.set(address, n);
  }

  count(address: string): number {
    return this.#counts.get(address) ?? 0;
  }
}
