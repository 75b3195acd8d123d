import * as v from 'valibot';
import { mulberry32 } from '../support/prng.ts';
import {
  AuthChallengeAck,
  AuthProveAck,
  ClientEvent,
  ErrorAck,
  parse,
  RoomJoinAck,
  RoomSummary,
  SimpleAck,
} from '../../signaling/src/protocol.ts';
import { nodeIdentity, SignalingTestClient } from './signaling-client.ts';

/**
 * A fuzzing signaling client: random and malformed events (wrong types, huge strings,
 * deep objects, binary attachments, unknown and reserved events, raw garbage packets,
 * extra arguments, missing acknowledgements, wrong protocol versions), seeded so a
 * failure replays. Every answer is checked against the schema of the event's answer.
 */

/** Unanswered events one fuzz socket may have in flight (keeps memory flat). */
const IN_FLIGHT = 64;

/** Deterministic PRNG (mulberry32), so a failure can be replayed with FUZZ_SEED. */
export function rng(seed: number) {
  const next = mulberry32(seed);
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  return { next, int, pick };
}
type Rng = ReturnType<typeof rng>;

const NASTY_STRINGS = [
  '', ' ', 'lobby', 'room:good room', '__proto__', 'constructor', 'a\u202Eb', '\u200B', '\u0000', '%s%n', '../../etc/passwd',
  '<script>alert(1)</script>', '😀'.repeat(40), 'x'.repeat(33), 'A'.repeat(43), 'good room', 'Good Room', '\uFEFF', '\uD800',
];

function randomString(r: Rng): string {
  switch (r.int(6)) {
    case 0:
      return r.pick(NASTY_STRINGS);
    case 1:
      // Long; now and then huge but under the 64 KB cap (over it is the size-cap test's job).
      return 'x'.repeat(r.int(40) === 0 ? 30_000 + r.int(30_000) : 1000);
    case 2:
      return String.fromCharCode(...Array.from({ length: r.int(40) }, () => r.int(0x10000)));
    default:
      return Math.random().toString(36).slice(2, 2 + r.int(12));
  }
}

function deep(levels: number): unknown {
  let x: unknown = 'bottom';
  for (let i = 0; i < levels; i++) x = { a: x };
  return x;
}

function randomValue(r: Rng, depth = 0): unknown {
  switch (r.int(depth > 2 ? 7 : 11)) {
    case 0:
      return null;
    case 1:
      return r.int(2) === 0;
    case 2:
      return r.pick([0, -1, 1e308, -0, 2 ** 53 + 1, Number.MAX_SAFE_INTEGER, 3.14]);
    case 3:
    case 4:
      return randomString(r);
    case 5:
      return Buffer.from(Array.from({ length: r.int(64) }, () => r.int(256)));
    case 6:
      return undefined;
    case 7:
      return Array.from({ length: r.int(5) }, () => randomValue(r, depth + 1));
    case 8:
      return deep(50 + r.int(500));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = r.int(5); i > 0; i--) {
        const key = r.pick(['room', 'to', 'data', 'username', 'publicKey', 'signature', 'joinToken', 'create', 'type', 'sdp', 'from', 'v', randomString(r)]);
        // defineProperty: an own "__proto__" key goes over the wire (prototype pollution probe).
        Object.defineProperty(o, key, { value: randomValue(r, depth + 1), enumerable: true, writable: true, configurable: true });
      }
      return o;
    }
  }
}

/** A payload that is nearly right: right shape, one field wrong. These reach the handlers' deeper checks. */
function nearlyValid(r: Rng, event: string, peers: string[]): unknown {
  const room = r.pick(['good room', 'fuzz room', randomString(r)]);
  switch (event) {
    case ClientEvent.AuthChallenge:
      return { username: r.pick(['Fuzzer', 'An', randomString(r)]), publicKey: r.pick(['A'.repeat(43), nodeIdentity().publicKey, randomString(r)]) };
    case ClientEvent.AuthProve:
      return { signature: r.pick(['A'.repeat(86), '', randomString(r)]) };
    case ClientEvent.RoomJoin:
      return { room, create: r.int(2) === 0, ...(r.int(3) === 0 ? { joinToken: r.pick(['abc', 'A'.repeat(43), randomString(r)]) } : {}) };
    case ClientEvent.RoomLeave:
      return { room };
    case ClientEvent.Signal:
      return {
        room,
        to: r.pick([...peers, 'lobby', randomString(r)]),
        data: r.pick([
          { type: 'offer', sdp: randomString(r) },
          { type: 'candidate', candidate: { candidate: randomString(r), sdpMLineIndex: randomValue(r) } },
          { type: 'transceiverRequest', transceiverRequest: { kind: 'audio', init: deep(r.int(20)) } },
          randomValue(r),
        ]),
      };
    default:
      return randomValue(r);
  }
}

/** The schema an answer to `event` must match; anything else (including a success for garbage) fails. */
const ANSWER = new Map<string, v.GenericSchema>([
  [ClientEvent.AuthChallenge, AuthChallengeAck],
  [ClientEvent.AuthProve, AuthProveAck],
  [ClientEvent.RoomJoin, RoomJoinAck],
  [ClientEvent.RoomLeave, SimpleAck],
  [ClientEvent.Signal, SimpleAck],
  [ClientEvent.RoomList, v.union([v.strictObject({ ok: v.literal(true), rooms: v.array(RoomSummary) }), ErrorAck])],
]);

const RESERVED = new Set(['disconnecting', 'error', 'newListener', 'connect', 'disconnect', 'removeListener']);

export interface Tally {
  sent: number;
  answered: number;
  badAnswers: string[];
  reconnects: number;
  refusedConnects: number;
}

export async function fuzzSocket(url: string, r: Rng, quota: number, tally: Tally, peers: string[], loggedInShare: boolean): Promise<void> {
  let client: SignalingTestClient | null = null;
  let inFlight = 0;
  let drained: (() => void) | null = null;
  let lastCall = false;
  const known = Object.values(ClientEvent);
  const unknown = ['unknown:event', '__proto__', 'signal ', 'toString', 'x'.repeat(1000)];
  // A raw packet (garbage, or a reserved event name) may make the server drop the
  // connection: find out (an answer or a disconnect) before sending more, or the rest
  // would be lost in a closing pipe.
  const dropped = async (c: SignalingTestClient) => {
    await Promise.race([c.waitForDisconnect(5_000), c.request(ClientEvent.RoomList, undefined, 5_000)]).catch(() => undefined);
  };
  for (let sent = 0; sent < quota; sent++) {
    if (!client || client.socket.disconnected) {
      client?.close();
      // Now and then, a connection speaking the wrong protocol version: refused at connect.
      if (r.int(20) === 0) {
        await SignalingTestClient.connect(url, { auth: r.pick([{ v: 0 }, { v: '1' }, {}, { v: 1, extra: true }, { v: 2 }]) })
          .then((c) => {
            c.close();
            tally.badAnswers.push('a wrong-version connection was accepted');
          })
          .catch(() => tally.refusedConnects++);
        tally.sent++;
        continue;
      }
      client = await SignalingTestClient.connect(url);
      tally.reconnects++;
      // Answers never come on a socket the server dropped: release its slots.
      client.socket.on('disconnect', () => {
        inFlight = 0;
        const d = drained;
        drained = null;
        d?.();
      });
      if (loggedInShare) await client.login(`fuzz${r.int(1e9)}`, nodeIdentity()).catch(() => undefined);
    }
    const socket = client.socket;
    const roll = r.int(100);
    const event = roll < 1 && r.int(3) === 0 ? r.pick([...RESERVED]) : roll < 7 ? r.pick(unknown) : r.pick(known);
    const kind = r.int(1000) / 10;
    const payload = kind < 50 ? nearlyValid(r, event, peers) : randomValue(r);
    tally.sent++;
    if (kind >= 99.7) {
      // Raw garbage at the Socket.IO packet level: the server drops this connection.
      socket.io.engine.write(r.pick(['2["x"', '2{', '29', '5-["room:join"]', '0/nope,', '3', String.fromCharCode(0, 255, 10)]));
      await dropped(client);
      continue;
    }
    if (RESERVED.has(event)) {
      // Socket.IO refuses to emit reserved names itself; they go raw, as a hostile client would send them.
      socket.io.engine.write(`2${r.int(2) === 0 ? r.int(1000) : ''}${JSON.stringify([event, typeof payload === 'string' ? payload : null])}`);
      await dropped(client);
      continue;
    }
    if (kind >= 92) {
      socket.emit(event, payload); // no acknowledgement asked for: ignored
      continue;
    }
    const args = kind >= 88 ? [payload, randomValue(r)] : kind >= 86 ? [] : [payload];
    if (inFlight >= IN_FLIGHT && socket.connected) await new Promise<void>((resolve) => (drained = resolve));
    inFlight++;
    const onAnswer = (answer: unknown) => {
      inFlight--;
      tally.answered++;
      const schema = ANSWER.get(event) ?? ErrorAck;
      const check = parse(schema, answer);
      if (!check.ok) tally.badAnswers.push(`${event}: ${JSON.stringify(answer).slice(0, 200)} (${check.error})`);
      else if ((answer as { ok: boolean }).ok && !ANSWER.has(event)) tally.badAnswers.push(`${event} succeeded`);
      if (drained && (lastCall ? inFlight === 0 : inFlight < IN_FLIGHT / 2)) {
        const d = drained;
        drained = null;
        d();
      }
    };
    socket.emit(event, ...args, onAnswer);
    if (socket.disconnected) inFlight = 0;
    if (sent % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  // Wait for the last answers (the drain callback fires at zero in flight), then hang up.
  if (client) {
    if (inFlight > 0 && client.socket.connected) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 10_000);
        drained = () => {
          clearTimeout(timer);
          resolve();
        };
        lastCall = true;
      });
    }
    client.close();
  }
}

