import type { ChatMessage } from '../../client/src/core/chat/ports.ts';
import type { MemberView, RoomSession } from '../../client/src/core/chat/room-session.ts';

/** Who confirmed a message, and for everyone who did not, why as far as we can tell. */
export interface DeliveryReport {
  message: ChatMessage;
  /** Case-folded usernames that sent a receipt. */
  confirmed: string[];
  missing: { username: string; why: string }[];
  /** Members online when the message was sent (the ones asked to confirm). */
  expected: string[];
}

/**
 * Watches receipts (`ChatMessage.deliveredTo`) for messages sent in one room. It listens
 * before anything is sent: a receipt can come back before `sendText` even returns.
 */
export class DeliveryWatch {
  readonly #room: RoomSession;
  readonly #seen = new Map<string, Set<string>>();
  readonly #waiters = new Set<() => void>();
  readonly #off: () => void;

  constructor(room: RoomSession) {
    this.#room = room;
    this.#off = room.on('message', (m, incoming) => {
      if (incoming || m.deliveredTo.length === 0) return;
      const set = this.#seen.get(m.id) ?? new Set<string>();
      for (const u of m.deliveredTo) set.add(u.toLowerCase());
      this.#seen.set(m.id, set);
      for (const wake of [...this.#waiters]) wake();
    });
  }

  /** Members that must confirm a message sent now: online ones, or just the private recipient. */
  expectedFor(to?: string): string[] {
    const online = this.#room.members.filter((m) => m.online).map((m) => m.username.toLowerCase());
    if (to === undefined) return online;
    return [to.toLowerCase()];
  }

  confirmedBy(id: string): Set<string> {
    return this.#seen.get(id) ?? new Set();
  }

  /**
   * Resolves when every expected member confirmed `message`, or when `timeoutMs` passed, or
   * as soon as a member can no longer confirm (it left, or its key changed).
   */
  wait(message: ChatMessage, expected: string[], timeoutMs: number): Promise<DeliveryReport> {
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        offChanged();
        resolve(this.#report(message, expected));
      };
      const check = () => {
        const got = this.confirmedBy(message.id);
        const open = expected.filter((u) => !got.has(u));
        if (open.length === 0 || open.every((u) => this.#unreachable(this.#room.member(u)) !== null)) finish();
      };
      const timer = setTimeout(finish, timeoutMs);
      this.#waiters.add(check);
      const offChanged = this.#room.on('changed', check);
      check();
    });
  }

  #report(message: ChatMessage, expected: string[]): DeliveryReport {
    const got = this.confirmedBy(message.id);
    const missing = expected
      .filter((u) => !got.has(u))
      .map((u) => {
        const view = this.#room.member(u);
        return { username: view?.username ?? u, why: this.#unreachable(view) ?? describeWaiting(view) };
      });
    return { message, confirmed: expected.filter((u) => got.has(u)), missing, expected };
  }

  /** Why a member cannot confirm at all, or null while it still might. */
  #unreachable(view: MemberView | undefined): string | null {
    if (!view) return 'not in the room';
    if (view.trust === 'changed') return 'their key changed; nothing is sent to them until it is accepted (/verify, /accept)';
    if (!view.online) return 'left the room before confirming';
    return null;
  }

  close(): void {
    this.#off();
    this.#waiters.clear();
  }
}

function describeWaiting(view: MemberView | undefined): string {
  if (!view) return 'not in the room';
  const err = view.error ? `: ${view.error.message} (${view.error.code})` : '';
  switch (view.connection) {
    case 'open':
      return 'connected, but no receipt came back in time';
    case 'failed':
      return `the connection could not be verified${err}`;
    case 'blocked':
      return 'blocked: their key changed';
    default:
      return `no verified connection yet (${view.connection})${err}`;
  }
}
