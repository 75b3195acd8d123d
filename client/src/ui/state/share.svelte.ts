import { getContext } from 'svelte';
import * as v from 'valibot';
import { MAX_MESSAGE_CHARS } from '../../core/net/limits.ts';

/**
 * Sharing into the chat from other apps (Web Share Target, manifest `share_target`) and
 * out of it (Web Share API).
 *
 * The installed app receives a share as a POST to ./share-target; the service worker
 * (public/sw.js) parks it in SHARE_INBOX_CACHE and opens ./?share=1. Without the worker a
 * link may carry it in the query: ./?share=1&title=..&text=..&url=... Either way the app
 * starts with a pending share, the user picks a room, and that room's composer is
 * pre-filled with it. NOTE: any page can open such a link, so a share is only ever
 * pre-filled, never sent without the user pressing Send.
 */

/** Must match SHARE_CACHE in public/sw.js. */
export const SHARE_INBOX_CACHE = 'chat-share-inbox';
const SHARE_PARAM = 'share';
const SHARE_FIELDS = ['title', 'text', 'url'] as const;

export interface PendingShare {
  /** What goes into the composer: the shared text and link. */
  text: string;
  /** Shared files, for the room's file sending. */
  files: File[];
}

const InboxMeta = v.object({
  title: v.string(),
  text: v.string(),
  url: v.string(),
  files: v.array(v.object({ key: v.string(), name: v.string(), type: v.string(), size: v.number() })),
});

export class ShareState {
  #pending = $state<PendingShare | null>(null);
  #failed = $state(false);

  constructor(pending: PendingShare | null = null, failed = false) {
    this.#pending = pending;
    this.#failed = failed;
  }

  /** A share waiting for the user to pick a room. */
  get pending(): PendingShare | null {
    return this.#pending;
  }

  /** The service worker could not read what was shared. */
  get failed(): boolean {
    return this.#failed;
  }

  /** Hands the share to a composer, once: the next caller gets null. */
  take(): PendingShare | null {
    const share = this.#pending;
    this.#pending = null;
    return share;
  }

  dismiss(): void {
    this.#pending = null;
    this.#failed = false;
  }
}

/** The shared fields as one message: the text, or else the title, then the link. */
export function composeShareText(fields: { title: string; text: string; url: string }): string {
  const text = fields.text.trim();
  const title = fields.title.trim();
  const url = fields.url.trim();
  const lines = [text || title];
  // Many apps put the link in `text` already; do not repeat it.
  if (url && !text.includes(url)) lines.push(url);
  return lines.filter(Boolean).join('\n').slice(0, MAX_MESSAGE_CHARS);
}

/**
 * Reads a share the page was opened with (query and the service worker's inbox), empties
 * the inbox and takes the share out of the address bar, so a reload does not share again.
 */
export async function receiveShare(win: Pick<Window, 'location' | 'history'> & { caches?: CacheStorage }): Promise<ShareState> {
  const page = new URL(win.location.href);
  const state = page.searchParams.get(SHARE_PARAM);
  if (state === null) return new ShareState();
  const fields = { title: '', text: '', url: '' };
  for (const f of SHARE_FIELDS) fields[f] = page.searchParams.get(f) ?? '';
  let files: File[] = [];
  const inbox = await readInbox(win.caches, page);
  if (inbox) {
    if (!fields.text && !fields.url) Object.assign(fields, { title: inbox.title, text: inbox.text, url: inbox.url });
    files = inbox.files;
  }
  for (const p of [SHARE_PARAM, ...SHARE_FIELDS]) page.searchParams.delete(p);
  win.history.replaceState(win.history.state, '', page.href);
  const text = composeShareText(fields);
  const pending = text || files.length > 0 ? { text, files } : null;
  return new ShareState(pending, state === 'failed');
}

async function readInbox(caches: CacheStorage | undefined, page: URL): Promise<{ title: string; text: string; url: string; files: File[] } | null> {
  if (!caches || !(await caches.has(SHARE_INBOX_CACHE))) return null;
  try {
    const inbox = await caches.open(SHARE_INBOX_CACHE);
    const metaResponse = await inbox.match(new URL('share-inbox/meta.json', page).href);
    const meta = v.safeParse(InboxMeta, metaResponse ? ((await metaResponse.json()) as unknown) : null);
    if (!meta.success) return null;
    const files: File[] = [];
    for (const f of meta.output.files) {
      const body = await inbox.match(f.key);
      if (body) files.push(new File([await body.blob()], f.name, { type: f.type }));
    }
    return { ...meta.output, files };
  } catch {
    return null;
  } finally {
    await caches.delete(SHARE_INBOX_CACHE);
  }
}

export type ShareOutcome = 'shared' | 'copied' | 'cancelled' | 'failed';

/**
 * Shares out through the system share sheet where there is one (Web Share API), or else
 * copies the text and link to the clipboard.
 */
export async function shareOut(data: { title?: string; text?: string; url?: string }): Promise<ShareOutcome> {
  if (typeof navigator.share === 'function' && (navigator.canShare?.(data) ?? true)) {
    try {
      await navigator.share(data);
      return 'shared';
    } catch (e) {
      if (e instanceof DOMException && e.name === 'AbortError') return 'cancelled';
    }
  }
  try {
    await navigator.clipboard.writeText([data.text, data.url].filter(Boolean).join('\n'));
    return 'copied';
  } catch {
    return 'failed';
  }
}

const CONTEXT_KEY = Symbol('share');

/** For mount(App, { context }): every component can reach the share state (the composer takes it). */
export function shareContext(share: ShareState): Map<symbol, ShareState> {
  return new Map([[CONTEXT_KEY, share]]);
}

export function getShareContext(): ShareState | undefined {
  return getContext<ShareState | undefined>(CONTEXT_KEY);
}
