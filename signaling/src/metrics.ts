/**
 * Counters for the operator, rendered in Prometheus text format. Labels carry event
 * names and reasons only, never user content.
 */
export class Metrics {
  sockets = 0;
  rooms = 0;
  connections = 0;
  rateLimited = 0;
  readonly #events = new Map<string, number>();
  readonly #rejected = new Map<string, number>();

  event(name: string): void {
    this.#events.set(name, (this.#events.get(name) ?? 0) + 1);
  }

  reject(event: string, reason: string): void {
    const key = `${event}\u0000${reason}`;
    this.#rejected.set(key, (this.#rejected.get(key) ?? 0) + 1);
  }

  rejectedTotal(): number {
    let n = 0;
    for (const c of this.#rejected.values()) n += c;
    return n;
  }

  render(): string {
    const esc = (s: string) => s.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
    const lines = [
      '# HELP chat_connected_sockets Sockets connected now.',
      '# TYPE chat_connected_sockets gauge',
      `chat_connected_sockets ${this.sockets}`,
      '# HELP chat_rooms Rooms with at least one member.',
      '# TYPE chat_rooms gauge',
      `chat_rooms ${this.rooms}`,
      '# HELP chat_connections_total Sockets accepted since start.',
      '# TYPE chat_connections_total counter',
      `chat_connections_total ${this.connections}`,
      '# HELP chat_rate_limited_total Events refused by a rate limit.',
      '# TYPE chat_rate_limited_total counter',
      `chat_rate_limited_total ${this.rateLimited}`,
      '# HELP chat_events_total Events received, by name.',
      '# TYPE chat_events_total counter',
      ...[...this.#events].map(([e, n]) => `chat_events_total{event="${esc(e)}"} ${n}`),
      '# HELP chat_rejected_total Events rejected, by name and reason.',
      '# TYPE chat_rejected_total counter',
      ...[...this.#rejected].map(([k, n]) => {
        const [e, r] = k.split('\u0000');
        return `chat_rejected_total{event="${esc(e ?? '')}",reason="${esc(r ?? '')}"} ${n}`;
      }),
    ];
    return lines.join('\n') + '\n';
  }
}
