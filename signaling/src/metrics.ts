/**
 * Counters for the operator, rendered in Prometheus text format. Labels carry event
 * names and reasons from fixed sets only, never user content: an attacker who could
 * choose label values could grow this map (and every scrape) without bound.
 */
export class Metrics {
  /** Gauges, refreshed by the server just before rendering. */
  sockets = 0;
  rooms = 0;
  /** 1 up, 0 down, null when Redis is not configured. */
  redisUp: number | null = null;
  /** Counters. */
  connections = 0;
  rateLimited = 0;
  rateLimitedClients = 0;
  readonly #events = new Map<string, number>();
  readonly #rejected = new Map<string, number>();

  event(name: string): void {
    this.#events.set(name, (this.#events.get(name) ?? 0) + 1);
  }

  reject(event: string, reason: string): void {
    const key = `${event}\u0000${reason}`;
    this.#rejected.set(key, (this.#rejected.get(key) ?? 0) + 1);
  }

  eventsTotal(): number {
    let n = 0;
    for (const c of this.#events.values()) n += c;
    return n;
  }

  rejectedTotal(): number {
    let n = 0;
    for (const c of this.#rejected.values()) n += c;
    return n;
  }

  rejected(event: string, reason: string): number {
    return this.#rejected.get(`${event}\u0000${reason}`) ?? 0;
  }

  render(): string {
    const esc = (s: string) => s.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
    const mem = process.memoryUsage();
    const metric = (name: string, type: 'gauge' | 'counter', help: string, samples: string[]) => [
      `# HELP ${name} ${help}`,
      `# TYPE ${name} ${type}`,
      ...samples,
    ];
    const lines = [
      ...metric('chat_connected_sockets', 'gauge', 'Sockets connected to this process now.', [`chat_connected_sockets ${this.sockets}`]),
      ...metric('chat_rooms', 'gauge', 'Rooms with at least one member (all processes when scaled).', [`chat_rooms ${this.rooms}`]),
      ...metric('chat_connections_total', 'counter', 'Sockets accepted since start.', [`chat_connections_total ${this.connections}`]),
      ...metric('chat_events_total', 'counter', 'Events received, by name.', [...this.#events].map(([e, n]) => `chat_events_total{event="${esc(e)}"} ${n}`)),
      ...metric(
        'chat_rejected_total',
        'counter',
        'Events and connections refused, by name and reason.',
        [...this.#rejected].map(([k, n]) => {
          const [e, r] = k.split('\u0000');
          return `chat_rejected_total{event="${esc(e ?? '')}",reason="${esc(r ?? '')}"} ${n}`;
        }),
      ),
      ...metric('chat_rate_limited_total', 'counter', 'Events refused by a rate limit.', [`chat_rate_limited_total ${this.rateLimited}`]),
      ...metric('chat_rate_limited_clients_total', 'counter', 'Sockets told and disconnected for flooding.', [
        `chat_rate_limited_clients_total ${this.rateLimitedClients}`,
      ]),
      ...(this.redisUp === null ? [] : metric('chat_redis_up', 'gauge', 'Whether Redis answers (scaled mode).', [`chat_redis_up ${this.redisUp}`])),
      ...metric('process_resident_memory_bytes', 'gauge', 'Resident memory of this process.', [`process_resident_memory_bytes ${mem.rss}`]),
      ...metric('nodejs_heap_used_bytes', 'gauge', 'V8 heap in use.', [`nodejs_heap_used_bytes ${mem.heapUsed}`]),
    ];
    return lines.join('\n') + '\n';
  }
}
