import { mount, unmount } from 'svelte';
import App from './ui/App.svelte';
import OtherTab from './ui/screens/OtherTab.svelte';
import { boot } from './ui/state/boot.ts';
import { pickLanguage, translate } from './ui/i18n.ts';
import { shareContext } from './ui/state/share.svelte.ts';
import { askToTakeOver, browserTabEnv, waitForTab, type ActiveTab } from './core/util/single-tab.ts';
import './ui/theme.css';

registerServiceWorker();

const target = document.getElementById('app')!;
const lang = pickLanguage(navigator.languages);
const tabs = browserTabEnv();

function start(tab: ActiveTab): void {
  // Another tab of this profile takes over: reloading closes every connection and frees
  // the lock, and this tab comes back offering to take over in turn.
  tab.onTakeOver(() => window.location.reload());
  boot()
    .then((ui) => mount(App, { target, props: ui, context: shareContext(ui.share) }))
    .catch((e: unknown) => {
      const detail = e instanceof Error ? e.message : String(e);
      target.textContent = translate(lang, 'app.startFailed', { detail });
    });
}

let other: ReturnType<typeof mount> | null = null;
waitForTab(tabs, { onBusy: () => (other = mount(OtherTab, { target, props: { lang, onUseHere: () => askToTakeOver(tabs) } })) })
  .then(async (tab) => {
    if (other) await unmount(other);
    start(tab);
  })
  .catch((e: unknown) => {
    const detail = e instanceof Error ? e.message : String(e);
    target.textContent = translate(lang, 'app.startFailed', { detail });
  });

/**
 * The service worker (public/sw.js) keeps the app shell for offline starts and receives
 * shares from other apps. Its URL is relative, so the scope is the folder the client is
 * served from, on any static host. Browsers only run workers in a secure context (https,
 * or localhost); the dev server runs without one so edits show at once.
 */
function registerServiceWorker(): void {
  if (!import.meta.env.PROD || !('serviceWorker' in navigator)) return;
  window.addEventListener('load', () => {
    navigator.serviceWorker.register('./sw.js').catch((e: unknown) => console.warn('service worker not registered:', e));
  });
}
