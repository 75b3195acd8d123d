import { mkdtemp, readFile, rm, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../signaling/src/log.ts';
import { ServerError } from '../../../signaling/src/protocol.ts';
import { RedisLink } from '../../../signaling/src/redis.ts';
import { RedisRegistry } from '../../../signaling/src/redis-registry.ts';
import { FileRegistry, REGISTRY_FILE, RegistryFileError } from '../../../signaling/src/registry.ts';
import { nodeIdentity } from '../../load/signaling-client.ts';
import { haveRedis, NO_REDIS_MESSAGE, RedisServer } from '../../load/redis-server.ts';
import { Cleanup, connect, loggedIn, startTestServer } from './helpers.ts';

const reg = (username: string, publicKey: string) => ({ username, publicKey, registeredAt: 1 });

describe('file registry', () => {
  let dir: string;
  const cleanup = new Cleanup();
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'chat-registry-'));
  });
  afterEach(() => cleanup.run());
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('usernames survive a server restart; the first key keeps the name', async () => {
    const dataDir = join(dir, 'restart');
    const an = nodeIdentity();
    const first = await startTestServer({ dataDir });
    await loggedIn(cleanup, first.url, 'An', an);
    await cleanup.run();
    await first.stop();

    const second = await startTestServer({ dataDir });
    cleanup.add(second, (s) => s.stop());
    const again = await connect(cleanup, second.url);
    expect(await again.request('auth:challenge', { username: 'an', publicKey: an.publicKey })).toMatchObject({ ok: true, registered: true });
    expect((await again.login('AN', an)).ok).toBe(true);
    const impostor = await connect(cleanup, second.url);
    expect(await impostor.login('An', nodeIdentity())).toMatchObject({ ok: false, error: ServerError.UsernameTaken });
  });

  it('ignores a temporary file left by a crash mid-write: the last complete file wins', async () => {
    const dataDir = join(dir, 'crash');
    const registry = await FileRegistry.open(dataDir);
    await registry.claim('an', reg('An', 'K1'));
    await registry.close();
    // A crash between write and rename leaves a half-written temporary file next to the good one.
    await writeFile(join(dataDir, `${REGISTRY_FILE}.4242.tmp`), '{"format":"p2p-chat-registry","version":1,"users":{"an":{"username":"An","publicKey":"K1","regis');
    const reopened = await FileRegistry.open(dataDir);
    expect(await reopened.lookup('an')).toEqual(reg('An', 'K1'));
    expect(reopened.size).toBe(1);
    await reopened.close();
  });

  it.each([
    ['truncated JSON', '{"format":"p2p-chat-registry","version":1,"users":{"an":{"usern'],
    ['an empty file', ''],
    ['another format', '{"format":"something-else","version":1,"users":{}}'],
    ['a bad entry', '{"format":"p2p-chat-registry","version":1,"users":{"an":{"username":"An"}}}'],
  ])('refuses to start over a damaged registry file (%s) with a clear error', async (_why, content) => {
    const dataDir = await mkdtemp(join(dir, 'damaged-'));
    await writeFile(join(dataDir, REGISTRY_FILE), content);
    const error = await FileRegistry.open(dataDir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryFileError);
    expect((error as Error).message).toContain(join(dataDir, REGISTRY_FILE));
    expect((error as Error).message).toMatch(/refusing to start/);
    // And so does the server: it never runs with an empty registry over a damaged one.
    await expect(startTestServer({ dataDir })).rejects.toBeInstanceOf(RegistryFileError);
    // The damaged file is left as it was, for the operator to inspect.
    expect(await readFile(join(dataDir, REGISTRY_FILE), 'utf8')).toBe(content);
  });

  it('writes whole files only, and a burst of claims shares writes without losing one', async () => {
    const dataDir = join(dir, 'burst');
    const registry = await FileRegistry.open(dataDir);
    const results = await Promise.all(Array.from({ length: 300 }, (_, i) => registry.claim(`user${i}`, reg(`user${i}`, `K${i}`))));
    expect(results.every((r) => r === 'claimed')).toBe(true);
    expect(await registry.claim('user7', reg('user7', 'other'))).toBe('taken');
    expect(await registry.claim('user7', reg('user7', 'K7'))).toBe('same-key');
    await registry.close();
    const onDisk = JSON.parse(await readFile(join(dataDir, REGISTRY_FILE), 'utf8')) as { users: Record<string, unknown> };
    expect(Object.keys(onDisk.users)).toHaveLength(300);
    expect((await readdir(dataDir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});

describe.skipIf(!haveRedis)(`Redis registry${haveRedis ? '' : ` (${NO_REDIS_MESSAGE})`}`, () => {
  let redis: RedisServer;
  const links: RedisLink[] = [];
  const log = createLogger('silent');
  beforeAll(async () => {
    redis = await RedisServer.start();
    // Two connections stand for two server processes.
    links.push(await RedisLink.connect(redis.url, log), await RedisLink.connect(redis.url, log));
  });
  afterAll(async () => {
    await Promise.all(links.map((l) => l.close()));
    await redis?.stop();
  });

  it('first claim wins when two processes claim the same name at once', async () => {
    const [a, b] = links.map((l) => new RedisRegistry(l.data));
    for (let i = 0; i < 50; i++) {
      const [ra, rb] = await Promise.all([a!.claim(`race${i}`, reg(`race${i}`, 'KA')), b!.claim(`race${i}`, reg(`race${i}`, 'KB'))]);
      expect([ra, rb].sort()).toEqual(['claimed', 'taken']);
      const winner = ra === 'claimed' ? 'KA' : 'KB';
      expect((await a!.lookup(`race${i}`))?.publicKey).toBe(winner);
      expect((await b!.lookup(`race${i}`))?.publicKey).toBe(winner);
    }
    expect(await a!.claim('race0', reg('race0', (await a!.lookup('race0'))!.publicKey))).toBe('same-key');
    expect(await a!.lookup('nobody')).toBeUndefined();
  });

  it('a damaged entry is an error, never a registration', async () => {
    const registry = new RedisRegistry(links[0]!.data);
    await links[0]!.data.hSet('p2pchat:users', 'broken', '{"username":');
    await expect(registry.lookup('broken')).rejects.toThrow(/not JSON/);
  });
});
