/* The service worker: keeps the app shell so the chat opens at once and offline, and
 * receives what other apps share into the chat (Web Share Target).
 *
 * Plain JavaScript, copied to client/dist as is. Every URL is resolved against the
 * registration scope, so the client works from any folder of any static host.
 *
 * - index.html: network first (a new deploy is picked up at once), the cached copy when
 *   the network fails or is slower than NAVIGATION_TIMEOUT_MS.
 * - assets/*: cache first. Vite puts a content hash in every name, so a cached file never
 *   goes stale; the list is read from index.html, since the hashes change each build.
 * - Never cached: the signaling connection (socket.io), config.json (a static host may
 *   point the client at another server at any time), health and metrics.
 */

/** Bump when this file's caching changes; older caches are deleted on activation. */
const VERSION = 1;
const SHELL_CACHE = `chat-shell-v${VERSION}`;
const SHELL_CACHE_PREFIX = 'chat-shell-';
/** Read and emptied by the page: client/src/ui/state/share.svelte.ts (SHARE_INBOX_CACHE). */
const SHARE_CACHE = 'chat-share-inbox';

const SCOPE = self.registration.scope;
const INDEX_URL = new URL('index.html', SCOPE).href;
const ASSETS_URL = new URL('assets/', SCOPE).href;
const SHARE_ACTION_URL = new URL('share-target', SCOPE).href;
/** Not referenced from index.html but part of the installed app. */
const STATIC_URLS = [
  'manifest.webmanifest',
  'icon.svg',
  'icons/icon-192.png',
  'icons/icon-512.png',
  'icons/maskable-192.png',
  'icons/maskable-512.png',
  'icons/apple-touch-icon.png',
].map((p) => new URL(p, SCOPE).href);

/**
 * A network that neither answers nor fails ("lie-fi") must not keep the app from opening:
 * after this long the cached shell is shown and the fresh copy still lands in the cache.
 */
const NAVIGATION_TIMEOUT_MS = 4_000;
/** At most this many shared files are kept; Cache Storage shares the history's quota. */
const SHARE_MAX_FILES = 10;
const NEVER_CACHE = [/\/socket\.io\//, /\/config\.json$/, /\/health$/, /\/metrics$/];

self.addEventListener('install', (event) => {
  // A worker that could not store the shell must not take over: installation fails and
  // the browser tries again on the next visit.
  event.waitUntil(precacheShell().then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith(SHELL_CACHE_PREFIX) && name !== SHELL_CACHE) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method === 'POST' && withoutQuery(url) === SHARE_ACTION_URL) {
    event.respondWith(receiveShare(request));
    return;
  }
  if (request.method !== 'GET' || url.origin !== self.location.origin || !url.href.startsWith(SCOPE)) return;
  if (NEVER_CACHE.some((re) => re.test(url.pathname))) return;
  if (request.mode === 'navigate' || withoutQuery(url) === INDEX_URL) {
    event.respondWith(networkFirstShell(event));
  } else if (url.href.startsWith(ASSETS_URL)) {
    event.respondWith(cacheFirst(request));
  } else if (STATIC_URLS.includes(withoutQuery(url))) {
    event.respondWith(staleWhileRevalidate(event));
  }
});

function withoutQuery(url) {
  return url.origin + url.pathname;
}

async function precacheShell() {
  const cache = await caches.open(SHELL_CACHE);
  const response = await fetch(INDEX_URL, { cache: 'no-cache' });
  if (!response.ok) throw new Error(`index.html: HTTP ${response.status}`);
  await storeShell(cache, await response.text(), response.headers);
  await cache.addAll(STATIC_URLS);
}

/** Stores index.html and fetches whatever it references that is not cached yet. */
async function storeShell(cache, html, headers) {
  const wanted = shellAssets(html).filter((u) => u !== INDEX_URL);
  const missing = [];
  for (const u of wanted) if (!(await cache.match(u))) missing.push(u);
  await cache.addAll(missing);
  // index.html last: it must never point at assets the cache does not have.
  await cache.put(INDEX_URL, new Response(html, { headers: { 'content-type': headers.get('content-type') ?? 'text/html' } }));
}

/** Same-origin `<script src>` and `<link href>` of index.html (stylesheets, icons, preloads). */
function shellAssets(html) {
  const urls = new Set();
  for (const m of html.matchAll(/<(script|link)\b[^>]*>/gi)) {
    const tag = m[0];
    const attr = /\b(?:src|href)\s*=\s*["']([^"']+)["']/i.exec(tag);
    if (!attr || /\brel\s*=\s*["']?(?:preconnect|dns-prefetch)/i.test(tag)) continue;
    const url = new URL(attr[1], INDEX_URL);
    if (url.origin === self.location.origin && url.href.startsWith(SCOPE)) urls.add(withoutQuery(url));
  }
  return [...urls];
}

function isShellResponse(url, response) {
  const path = withoutQuery(url);
  return response.ok && (path === SCOPE || path === INDEX_URL) && (response.headers.get('content-type') ?? '').includes('text/html');
}

async function networkFirstShell(event) {
  const url = new URL(event.request.url);
  const cache = await caches.open(SHELL_CACHE);
  // The copy is taken before anybody else can read the body.
  let copy = null;
  const network = fetch(event.request).then((response) => {
    if (isShellResponse(url, response)) copy = response.clone();
    return response;
  });
  // Keep the cache in step with what the server has, even when the cached copy was shown.
  event.waitUntil(
    network
      .then(async () => {
        if (copy) await storeShell(cache, await copy.text(), copy.headers);
      })
      .catch(() => undefined),
  );
  const cached = await cache.match(INDEX_URL);
  if (!cached) return network;
  try {
    const response = await withTimeout(network, NAVIGATION_TIMEOUT_MS);
    // A proxy answering 502 while the host is down is no better than no network.
    return response.ok || response.status < 500 ? response : cached;
  } catch {
    return cached;
  }
}

async function cacheFirst(request) {
  const cache = await caches.open(SHELL_CACHE);
  const cached = await cache.match(request, { ignoreSearch: true });
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok) await cache.put(request, response.clone());
  return response;
}

async function staleWhileRevalidate(event) {
  const cache = await caches.open(SHELL_CACHE);
  const cached = await cache.match(event.request, { ignoreSearch: true });
  const network = fetch(event.request).then(async (response) => {
    if (response.ok) await cache.put(event.request, response.clone());
    return response;
  });
  event.waitUntil(network.catch(() => undefined));
  return cached ?? network;
}

function withTimeout(promise, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timeout')), ms);
    promise.then(
      (v) => { clearTimeout(timer); resolve(v); },
      (e) => { clearTimeout(timer); reject(e); },
    );
  });
}

/**
 * Another app shared text, a link or files (manifest share_target, POST multipart). The
 * share is parked in SHARE_CACHE and the app opens at ./?share=1 to pick it up.
 * NOTE: any web page can post a form here, as any link can open ./?share=1&text=...: a
 * share only pre-fills the composer of a room the user picks, and is never sent by itself.
 */
async function receiveShare(request) {
  const open = (state) => Response.redirect(new URL(`./?share=${state}`, SCOPE).href, 303);
  try {
    const form = await request.formData();
    const field = (name) => {
      const v = form.get(name);
      return typeof v === 'string' ? v : '';
    };
    const files = form
      .getAll('files')
      .filter((f) => typeof f !== 'string' && f.size > 0)
      .slice(0, SHARE_MAX_FILES);
    await caches.delete(SHARE_CACHE);
    const inbox = await caches.open(SHARE_CACHE);
    const entries = [];
    for (const [i, file] of files.entries()) {
      const key = new URL(`share-inbox/file-${i}`, SCOPE).href;
      await inbox.put(key, new Response(file, { headers: { 'content-type': file.type || 'application/octet-stream' } }));
      entries.push({ key, name: file.name, type: file.type, size: file.size });
    }
    const meta = { title: field('title'), text: field('text'), url: field('url'), files: entries, at: Date.now() };
    await inbox.put(
      new URL('share-inbox/meta.json', SCOPE).href,
      new Response(JSON.stringify(meta), { headers: { 'content-type': 'application/json' } }),
    );
    return open('1');
  } catch {
    return open('failed');
  }
}
