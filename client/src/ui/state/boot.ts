import { resolveAppConfig } from '../../core/app-config.ts';
import { ChatClient } from '../../core/chat/chat-client.ts';
import { createMemoryStorage } from '../../core/chat/memory-storage.ts';
import { generateIdentityKeyPair } from '../../core/crypto/sign.ts';
import { simplePeerFactory } from '../../core/net/simple-peer-link.ts';
import { SocketIoSignaling } from '../../core/net/socketio-signaling.ts';
import { openKeystore } from '../../core/store/keystore.ts';
import { AppState } from './app.svelte.ts';

/** The composition root: configuration, identity, storage, transports, state. */
export async function boot(): Promise<AppState> {
  const config = await resolveAppConfig(window.location, async (url) => {
    const res = await fetch(url, { cache: 'no-store' });
    if (!res.ok) throw new Error(String(res.status));
    return res.json();
  });
  const keystore = await openKeystore();
  const identity = await keystore.getOrCreateIdentity(async () => ({ ...(await generateIdentityKeyPair()), createdAt: Date.now() }));
  const client = new ChatClient({
    signaling: new SocketIoSignaling(config.signalingUrl),
    peers: simplePeerFactory(),
    identity,
    storage: createMemoryStorage(),
  });
  const app = new AppState(client, navigator.languages, {
    savedUsername: identity.username ?? null,
    rememberUsername: (username) => keystore.saveIdentity({ ...identity, username }),
  });
  client.start();
  return app;
}
