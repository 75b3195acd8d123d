/**
 * One tab of a profile is connected at a time (TEST-CASES 30). Two tabs logged in as the
 * same user would each log in to the server and open their own channels to every peer;
 * the server keeps one of them, so the other tab silently stops receiving and what its
 * user sends goes nowhere. So the connected tab holds a Web Lock for as long as it lives;
 * a later tab finds it taken, stays offline in the lock's queue, and offers to take over:
 * it asks the holder (over a BroadcastChannel) to let go. The holder reloads, which closes
 * every connection and frees the lock, and comes back as the tab that waits. Closing the
 * connected tab also hands over. Where a browser has no Web Locks every tab connects.
 */

/** The parts of the Web Locks API used here (navigator.locks). */
export interface LockManagerLike {
  request(name: string, options: { ifAvailable?: boolean; signal?: AbortSignal }, callback: (lock: unknown) => Promise<unknown> | unknown): Promise<unknown>;
}

/** The parts of BroadcastChannel used here. */
export interface TabChannelLike {
  postMessage(message: unknown): void;
  addEventListener(type: 'message', listener: (e: { data: unknown }) => void): void;
  close(): void;
}

export interface SingleTabEnv {
  locks: LockManagerLike | undefined;
  channel: () => TabChannelLike;
  /** This page's own id: a tab does not answer its own request. */
  id: string;
}

/** The lock and channel names: one profile (origin) shares them across its tabs. */
export const TAB_LOCK = 'p2p-chat/active-tab';
export const TAB_CHANNEL = 'p2p-chat/tabs';

interface TakeOver {
  t: 'take-over';
  /** The asking tab's id. */
  from: string;
}

function isTakeOver(data: unknown): data is TakeOver {
  if (typeof data !== 'object' || data === null) return false;
  const m = data as Partial<TakeOver>;
  return m.t === 'take-over' && typeof m.from === 'string';
}

/** This tab holds the lock until it goes away; `onTakeOver` runs when another tab asks for it. */
export class ActiveTab {
  #handler: (() => void) | null = null;
  #asked = false;

  constructor(channel: TabChannelLike | null) {
    channel?.addEventListener('message', (e) => {
      if (!isTakeOver(e.data) || this.#asked) return;
      this.#asked = true;
      this.#handler?.();
    });
  }

  /** What to do when another tab takes over: let go of every connection and the lock (reload). */
  onTakeOver(handler: () => void): void {
    this.#handler = handler;
    if (this.#asked) handler();
  }
}

/**
 * Resolves once the lock is ours, held until the page goes away. `ifAvailable` resolves
 * false at once when another tab holds it; `signal` takes the request out of the queue.
 */
function hold(locks: LockManagerLike, opts: { ifAvailable?: boolean; signal?: AbortSignal }): Promise<boolean> {
  return new Promise<boolean>((resolve, reject) => {
    locks
      .request(TAB_LOCK, opts, (lock) => {
        if (lock === null) {
          resolve(false);
          return undefined;
        }
        resolve(true);
        return new Promise<never>(() => undefined);
      })
      .catch(reject);
  });
}

/**
 * How long a tab waits in the lock's queue before saying another tab is connected. A
 * reloaded tab's old page lets go of the lock a moment after the new page asks for it.
 */
export const TAB_GRACE_MS = 1_000;

/**
 * Resolves once this tab is the connected one. If another tab is, `onBusy` runs (after
 * TAB_GRACE_MS) and this tab stays in the lock's queue: it becomes the connected one when
 * that tab closes, or lets go when asked (askToTakeOver). A waiting tab that hears another
 * one ask goes to the back of the queue, so the lock goes to the tab whose user asked.
 */
export async function waitForTab(env: SingleTabEnv, opts: { onBusy: () => void; graceMs?: number }): Promise<ActiveTab> {
  const { locks } = env;
  if (!locks) return new ActiveTab(null);
  if (!(await hold(locks, { ifAvailable: true }))) {
    const timer = setTimeout(opts.onBusy, opts.graceMs ?? TAB_GRACE_MS);
    const channel = env.channel();
    let queued = new AbortController();
    channel.addEventListener('message', (e) => {
      if (!isTakeOver(e.data) || e.data.from === env.id) return;
      queued.abort();
      queued = new AbortController();
    });
    try {
      for (;;) {
        const signal = queued.signal;
        try {
          await hold(locks, { signal });
          break;
        } catch (e) {
          if (!signal.aborted) throw e;
        }
      }
    } finally {
      clearTimeout(timer);
      channel.close();
    }
  }
  return new ActiveTab(env.channel());
}

/** Asks the connected tab to let go; this tab, already waiting in the queue, then gets the lock. */
export function askToTakeOver(env: SingleTabEnv): void {
  const channel = env.channel();
  channel.postMessage({ t: 'take-over', from: env.id } satisfies TakeOver);
  channel.close();
}

/** The browser's Web Locks and BroadcastChannel, where it has them. */
export function browserTabEnv(): SingleTabEnv {
  const nav = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator;
  const locks = typeof nav?.locks?.request === 'function' && typeof BroadcastChannel === 'function' ? nav.locks : undefined;
  return { locks, channel: () => new BroadcastChannel(TAB_CHANNEL), id: globalThis.crypto.randomUUID() };
}
