/**
 * Where the signaling server is. By default the page's own origin (the server serves the
 * client); a static host sets `signalingUrl` in a `config.json` beside index.html; a
 * `?server=` parameter overrides both, for trying another server without rebuilding.
 */
export interface AppConfig {
  signalingUrl: string;
}

export async function resolveAppConfig(
  location: { href: string; origin: string },
  fetchJson: (url: string) => Promise<unknown>,
): Promise<AppConfig> {
  const page = new URL(location.href);
  const fromQuery = page.searchParams.get('server');
  if (fromQuery && isHttpUrl(fromQuery)) return { signalingUrl: fromQuery };
  try {
    const cfg = await fetchJson(new URL('config.json', page).href);
    if (cfg && typeof cfg === 'object' && 'signalingUrl' in cfg) {
      const url = (cfg as { signalingUrl: unknown }).signalingUrl;
      if (typeof url === 'string' && isHttpUrl(url)) return { signalingUrl: url };
    }
  } catch {
    // No config.json: served by the signaling server itself.
  }
  return { signalingUrl: location.origin };
}

function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}
