import * as v from 'valibot';
import type { Logger } from './log.ts';
import { PROCESS_HEARTBEAT_MS, PROCESS_HEARTBEAT_TTL_MS } from './limits.ts';
import { Member, parse, type RoomSummary } from './protocol.ts';
import { KEY_PREFIX, LuaScript, type RedisClient } from './redis.ts';
import { compareRooms, type JoinOutcome, type JoinRequest, type RoomDirectory, type RoomView } from './rooms.ts';

/*
 * Layout (P = key prefix):
 *   P rooms                 sorted set: room key -> member count (the room list, busiest first)
 *   P room:<key>            hash: name, verifier (absent for open rooms), unlisted ('1' for
 *                           rooms kept out of lists: direct chats), v (roster version)
 *   P members:<key>         hash: socket id -> {"p": process id, "k": user key, "m": member}
 *   P proc:<id>:members     set of "<room key>\n<socket id>" a process has admitted
 *   P proc:<id>:alive       the process's heartbeat, expiring after PROCESS_HEARTBEAT_TTL_MS
 *   P procs                 set of process ids that may own members
 * A room key is a normalised name, which cannot contain a newline.
 *
 * Every change is one Lua script, so the member cap, the password check and the
 * one-seat-per-user rule hold across processes without locks.
 */

/** Shared by the scripts that change members. */
const BUMP_VERSION = `
-- The roster version: at least Redis's clock in ms (see nextRosterVersion in rooms.ts).
local function bump(roomHash)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local v = math.max((tonumber(redis.call('HGET', roomHash, 'v')) or 0) + 1, now)
  local text = string.format('%.0f', v)
  redis.call('HSET', roomHash, 'v', text)
  return text
end
`;

const JOIN = new LuaScript(`${BUMP_VERSION}
local prefix, roomKey, sid = ARGV[1], ARGV[2], ARGV[6]
local name = redis.call('HGET', KEYS[2], 'name')
local verifier = redis.call('HGET', KEYS[2], 'verifier')
local created = '0'
if not name then
  if ARGV[5] ~= '1' then return {'no-such-room'} end
  name = ARGV[3]
  created = '1'
  if ARGV[4] ~= '' then verifier = ARGV[4] end
elseif verifier then
  -- Plain comparison of SHA-256 digests: the caller chooses the preimage, so timing can
  -- at most reveal how many leading characters of a digest match, which does not help
  -- find a join token.
  if verifier ~= ARGV[4] then return {'bad-password'} end
elseif ARGV[4] ~= '' then
  return {'room-is-open'}
end
local displaced = {}
if redis.call('HEXISTS', KEYS[3], sid) == 0 then
  local all = redis.call('HGETALL', KEYS[3])
  for i = 1, #all, 2 do
    if cjson.decode(all[i + 1]).k == ARGV[8] then displaced[#displaced + 1] = all[i] end
  end
  if #all / 2 - #displaced >= tonumber(ARGV[9]) then return {'room-full'} end
  for _, old in ipairs(displaced) do
    local entry = cjson.decode(redis.call('HGET', KEYS[3], old))
    redis.call('HDEL', KEYS[3], old)
    redis.call('SREM', prefix .. 'proc:' .. entry.p .. ':members', roomKey .. '\\n' .. old)
  end
end
if created == '1' then
  redis.call('HSET', KEYS[2], 'name', name)
  if verifier then redis.call('HSET', KEYS[2], 'verifier', verifier) end
  if ARGV[11] == '1' then redis.call('HSET', KEYS[2], 'unlisted', '1') end
end
redis.call('HSET', KEYS[3], sid, ARGV[7])
redis.call('SADD', prefix .. 'proc:' .. ARGV[10] .. ':members', roomKey .. '\\n' .. sid)
redis.call('ZADD', KEYS[1], redis.call('HLEN', KEYS[3]), roomKey)
local unlisted = redis.call('HEXISTS', KEYS[2], 'unlisted') == 1 and '1' or '0'
local out = {'ok', created, name, verifier and '1' or '0', bump(KEYS[2]), tostring(#displaced), unlisted}
for _, old in ipairs(displaced) do out[#out + 1] = old end
for _, m in ipairs(redis.call('HVALS', KEYS[3])) do out[#out + 1] = m end
return out
`);

const LEAVE = new LuaScript(`${BUMP_VERSION}
local raw = redis.call('HGET', KEYS[3], ARGV[3])
if not raw then return {'absent'} end
redis.call('HDEL', KEYS[3], ARGV[3])
redis.call('SREM', ARGV[1] .. 'proc:' .. cjson.decode(raw).p .. ':members', ARGV[2] .. '\\n' .. ARGV[3])
local name = redis.call('HGET', KEYS[2], 'name') or ARGV[2]
local locked = redis.call('HEXISTS', KEYS[2], 'verifier') == 1 and '1' or '0'
local unlisted = redis.call('HEXISTS', KEYS[2], 'unlisted') == 1 and '1' or '0'
local left = redis.call('HLEN', KEYS[3])
if left == 0 then
  redis.call('DEL', KEYS[2])
  redis.call('ZREM', KEYS[1], ARGV[2])
  return {'left', name, locked, '0', unlisted}
end
redis.call('ZADD', KEYS[1], left, ARGV[2])
local out = {'left', name, locked, bump(KEYS[2]), unlisted}
for _, m in ipairs(redis.call('HVALS', KEYS[3])) do out[#out + 1] = m end
return out
`);

const GET = new LuaScript(`
local name = redis.call('HGET', KEYS[1], 'name')
if not name then return {} end
local out = {
  name,
  redis.call('HEXISTS', KEYS[1], 'verifier') == 1 and '1' or '0',
  redis.call('HGET', KEYS[1], 'v') or '0',
  redis.call('HEXISTS', KEYS[1], 'unlisted') == 1 and '1' or '0',
}
for _, m in ipairs(redis.call('HVALS', KEYS[2])) do out[#out + 1] = m end
return out
`);

const SHARED = new LuaScript(`
for i = 1, #ARGV do
  if redis.call('HEXISTS', KEYS[2], ARGV[i]) == 0 then return false end
end
return redis.call('HGET', KEYS[1], 'name')
`);

/*
 * Walks the busiest-first set in pages, skipping unlisted rooms, until \`max\` listed rooms
 * are found: a crowd of direct chats must neither show up nor shorten the list.
 */
const LIST = new LuaScript(`
local max = tonumber(ARGV[2])
local out = {}
local found, start = 0, 0
while found < max do
  local top = redis.call('ZREVRANGE', KEYS[1], start, start + max - 1, 'WITHSCORES')
  if #top == 0 then break end
  for i = 1, #top, 2 do
    local room = ARGV[1] .. 'room:' .. top[i]
    if redis.call('HEXISTS', room, 'unlisted') == 0 then
      out[#out + 1] = redis.call('HGET', room, 'name') or top[i]
      out[#out + 1] = top[i + 1]
      out[#out + 1] = redis.call('HEXISTS', room, 'verifier') == 1 and '1' or '0'
      found = found + 1
      if found >= max then break end
    end
  end
  start = start + max
end
return out
`);

/** Removes every member a dead process admitted; returns the room keys it touched. */
const SWEEP = new LuaScript(`${BUMP_VERSION}
local prefix, id = ARGV[1], ARGV[2]
if redis.call('EXISTS', prefix .. 'proc:' .. id .. ':alive') == 1 then return {} end
local index = prefix .. 'proc:' .. id .. ':members'
local touched = {}
for _, entry in ipairs(redis.call('SMEMBERS', index)) do
  local cut = string.find(entry, '\\n', 1, true)
  local roomKey, sid = string.sub(entry, 1, cut - 1), string.sub(entry, cut + 1)
  local members = prefix .. 'members:' .. roomKey
  local raw = redis.call('HGET', members, sid)
  if raw and cjson.decode(raw).p == id then
    redis.call('HDEL', members, sid)
    local left = redis.call('HLEN', members)
    if left == 0 then
      redis.call('DEL', prefix .. 'room:' .. roomKey)
      redis.call('ZREM', prefix .. 'rooms', roomKey)
    else
      redis.call('ZADD', prefix .. 'rooms', left, roomKey)
      bump(prefix .. 'room:' .. roomKey)
    end
    touched[#touched + 1] = roomKey
  end
end
redis.call('DEL', index)
redis.call('SREM', prefix .. 'procs', id)
return touched
`);

/**
 * Puts back a member this process still serves but Redis lost (restarted without its
 * data, or swept us during an outage). No member cap: the member was admitted before.
 * NOTE: if a stranger re-created the room meanwhile, the restored member meets them in
 * the handshake, where the peer proof (not this directory) keeps password rooms closed.
 */
const RESTORE = new LuaScript(`${BUMP_VERSION}
if redis.call('HEXISTS', KEYS[3], ARGV[5]) == 1 then return 0 end
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('HSET', KEYS[2], 'name', ARGV[3])
  if ARGV[4] ~= '' then redis.call('HSET', KEYS[2], 'verifier', ARGV[4]) end
  if ARGV[8] == '1' then redis.call('HSET', KEYS[2], 'unlisted', '1') end
end
redis.call('HSET', KEYS[3], ARGV[5], ARGV[6])
redis.call('SADD', ARGV[1] .. 'proc:' .. ARGV[7] .. ':members', ARGV[2] .. '\\n' .. ARGV[5])
redis.call('ZADD', KEYS[1], redis.call('HLEN', KEYS[3]), ARGV[2])
bump(KEYS[2])
return 1
`);

const MemberEntry = v.object({ p: v.string(), k: v.string(), m: Member });

/** What this process believes one of its sockets is in: the truth the directory is reconciled to. */
export interface LocalMembership {
  key: string;
  name: string;
  verifier?: string;
  unlisted?: true;
  userKey: string;
  member: Member;
}

export interface RedisRoomDirectoryOptions {
  /** Unique per process start. */
  processId: string;
  maxMembers: number;
  log: Logger;
  /** This process's sockets and their rooms, for reconciling after an outage. */
  localMemberships: () => Iterable<LocalMembership>;
  /** Rooms whose members changed behind the server's back (sweeps, reconciling). */
  onRoomsChanged: (keys: string[]) => void;
  prefix?: string;
}

/**
 * The room directory shared by every server process through Redis. A process that dies
 * without saying goodbye stops renewing its heartbeat; the others then remove its
 * members. After a Redis outage each process reconciles its own entries with the sockets
 * it actually serves.
 */
export class RedisRoomDirectory implements RoomDirectory {
  readonly #client: RedisClient;
  readonly #opts: RedisRoomDirectoryOptions;
  readonly #p: string;
  #timer: NodeJS.Timeout | null = null;
  /** Some change may not have reached Redis (it was away): reconcile on the next beat. */
  #dirty = false;
  /** No sweeping of others until our own heartbeat has had time to be renewed everywhere. */
  #sweepAfter = 0;
  #beating: Promise<void> = Promise.resolve();

  constructor(client: RedisClient, opts: RedisRoomDirectoryOptions) {
    this.#client = client;
    this.#opts = opts;
    this.#p = opts.prefix ?? KEY_PREFIX;
  }

  /** Announces this process and starts the heartbeat; rejects if Redis is unreachable. */
  async start(): Promise<void> {
    this.#sweepAfter = Date.now() + PROCESS_HEARTBEAT_TTL_MS;
    await this.#beat();
    this.#timer = setInterval(() => {
      this.#beating = this.#beating.then(() => this.#tick());
    }, PROCESS_HEARTBEAT_MS);
    this.#timer.unref();
  }

  /** Called when Redis is back: other processes' heartbeats may have lapsed meanwhile. */
  redisReconnected(): void {
    this.#dirty = true;
    this.#sweepAfter = Date.now() + PROCESS_HEARTBEAT_TTL_MS;
    this.#beating = this.#beating.then(() => this.#tick());
  }

  async join(req: JoinRequest): Promise<JoinOutcome> {
    const value = JSON.stringify({ p: this.#opts.processId, k: req.userKey, m: req.member });
    const reply = await this.#run(JOIN, this.#roomKeys(req.key), [
      this.#p,
      req.key,
      req.name,
      req.verifier ?? '',
      req.create ? '1' : '0',
      req.member.socketId,
      value,
      req.userKey,
      String(this.#opts.maxMembers),
      this.#opts.processId,
      req.unlisted ? '1' : '0',
    ]);
    const r = strings(reply);
    const status = r[0];
    if (status === 'room-full' || status === 'bad-password' || status === 'room-is-open' || status === 'no-such-room') {
      return { ok: false, reason: status };
    }
    if (status !== 'ok' || r.length < 7) throw new Error('unexpected reply from the join script');
    const nDisplaced = Number(r[5]);
    const displaced = r.slice(7, 7 + nDisplaced);
    const members = decodeMembers(r.slice(7 + nDisplaced));
    return {
      ok: true,
      created: r[1] === '1',
      displaced,
      room: { name: r[2]!, locked: r[3] === '1', ...unlistedFlag(r[6]), members, version: Number(r[4]) },
    };
  }

  async leave(key: string, socketId: string): Promise<RoomView | null> {
    const r = strings(await this.#run(LEAVE, this.#roomKeys(key), [this.#p, key, socketId]));
    if (r[0] !== 'left') return null;
    return { name: r[1]!, locked: r[2] === '1', ...unlistedFlag(r[4]), version: Number(r[3]), members: decodeMembers(r.slice(5)) };
  }

  async get(key: string): Promise<RoomView | null> {
    const r = strings(await this.#run(GET, [this.#roomKey(key), this.#membersKey(key)], []));
    if (r.length < 4) return null;
    return { name: r[0]!, locked: r[1] === '1', ...unlistedFlag(r[3]), version: Number(r[2]), members: decodeMembers(r.slice(4)) };
  }

  async shared(key: string, socketIds: string[]): Promise<string | null> {
    const name = await this.#run(SHARED, [this.#roomKey(key), this.#membersKey(key)], socketIds);
    return typeof name === 'string' ? name : null;
  }

  async list(max: number): Promise<RoomSummary[]> {
    const r = strings(await this.#run(LIST, [`${this.#p}rooms`], [this.#p, String(max)]));
    const rooms: RoomSummary[] = [];
    for (let i = 0; i + 2 < r.length; i += 3) rooms.push({ name: r[i]!, members: Number(r[i + 1]), locked: r[i + 2] === '1' });
    return rooms.sort(compareRooms);
  }

  async count(): Promise<number> {
    return this.#guard(() => this.#client.zCard(`${this.#p}rooms`));
  }

  /**
   * Leaves Redis as if this process had never been: its remaining members are removed
   * (other processes push the new rosters) and its heartbeat is deleted.
   */
  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#beating;
    try {
      await this.#client.del(this.#aliveKey(this.#opts.processId));
      const touched = strings(await SWEEP.run(this.#client, [], [this.#p, this.#opts.processId]));
      if (touched.length > 0) this.#opts.onRoomsChanged([...new Set(touched)]);
    } catch (e) {
      this.#opts.log.warn({ err: (e as Error).message }, 'could not remove this process from the Redis room directory; others will sweep it');
    }
  }

  async #tick(): Promise<void> {
    try {
      await this.#beat();
      if (this.#dirty) await this.#reconcile();
      if (Date.now() >= this.#sweepAfter) await this.sweepDeadProcesses();
    } catch (e) {
      this.#dirty = true;
      this.#opts.log.debug({ err: (e as Error).message }, 'room directory maintenance skipped');
    }
  }

  async #beat(): Promise<void> {
    const id = this.#opts.processId;
    await this.#client.set(this.#aliveKey(id), String(Date.now()), { PX: PROCESS_HEARTBEAT_TTL_MS });
    await this.#client.sAdd(`${this.#p}procs`, id);
  }

  /** Removes the members of every process whose heartbeat lapsed; returns the rooms touched. */
  async sweepDeadProcesses(): Promise<string[]> {
    const ids = (await this.#client.sMembers(`${this.#p}procs`)).map(String).filter((id) => id !== this.#opts.processId);
    const touched = new Set<string>();
    for (const id of ids) {
      const keys = strings(await SWEEP.run(this.#client, [], [this.#p, id]));
      if (keys.length > 0) this.#opts.log.info({ process: id, members: keys.length }, 'removed the members of a server process that stopped');
      for (const k of keys) touched.add(k);
    }
    if (touched.size > 0) this.#opts.onRoomsChanged([...touched]);
    return [...touched];
  }

  /** Makes Redis agree with the sockets this process serves: drop what is stale, restore what is missing. */
  async #reconcile(): Promise<void> {
    this.#dirty = false;
    const local = new Map<string, LocalMembership>();
    for (const m of this.#opts.localMemberships()) local.set(`${m.key}\n${m.member.socketId}`, m);
    const index = await this.#client.sMembers(this.#indexKey(this.#opts.processId));
    const touched = new Set<string>();
    await Promise.all(
      index.map(String).filter((entry) => !local.has(entry)).map(async (entry) => {
        const cut = entry.indexOf('\n');
        const key = entry.slice(0, cut);
        if ((await this.leave(key, entry.slice(cut + 1))) !== null) touched.add(key);
      }),
    );
    await Promise.all(
      [...local.values()].map(async (m) => {
        const value = JSON.stringify({ p: this.#opts.processId, k: m.userKey, m: m.member });
        const added = await this.#run(RESTORE, this.#roomKeys(m.key), [
          this.#p, m.key, m.name, m.verifier ?? '', m.member.socketId, value, this.#opts.processId, m.unlisted ? '1' : '0',
        ]);
        if (Number(added) === 1) touched.add(m.key);
      }),
    );
    if (touched.size > 0) {
      this.#opts.log.info({ rooms: touched.size }, 'reconciled the room directory with the sockets this process serves');
      this.#opts.onRoomsChanged([...touched]);
    }
  }

  #run(script: LuaScript, keys: string[], args: string[]): Promise<unknown> {
    return this.#guard(() => script.run(this.#client, keys, args));
  }

  /** A failed command may have left Redis behind this process: reconcile when it is back. */
  async #guard<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (e) {
      this.#dirty = true;
      throw e;
    }
  }

  #roomKeys(key: string): string[] {
    return [`${this.#p}rooms`, this.#roomKey(key), this.#membersKey(key)];
  }
  #roomKey(key: string): string {
    return `${this.#p}room:${key}`;
  }
  #membersKey(key: string): string {
    return `${this.#p}members:${key}`;
  }
  #indexKey(id: string): string {
    return `${this.#p}proc:${id}:members`;
  }
  #aliveKey(id: string): string {
    return `${this.#p}proc:${id}:alive`;
  }
}

function unlistedFlag(flag: string | undefined): { unlisted?: true } {
  return flag === '1' ? { unlisted: true } : {};
}

function strings(reply: unknown): string[] {
  if (!Array.isArray(reply)) return [];
  return reply.map((x) => (typeof x === 'string' ? x : Buffer.isBuffer(x) ? x.toString('utf8') : String(x)));
}

/** Member entries are our own writes, but still parsed: Redis is outside this process. */
function decodeMembers(raw: string[]): Member[] {
  const members: Member[] = [];
  for (const text of raw) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      continue;
    }
    const r = parse(MemberEntry, json);
    if (r.ok) members.push(r.value.m);
  }
  return members;
}
