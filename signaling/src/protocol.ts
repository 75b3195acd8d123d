/**
 * The signaling protocol: every Socket.IO event between a client and the server, with a
 * runtime schema and the TypeScript type inferred from it. This is the only module the
 * client and the server share. The server never sees message content: it handles names,
 * public keys, room membership and opaque WebRTC signals.
 */
import * as v from 'valibot';

/** Bumped on any incompatible change; a client speaking another version is refused. */
export const PROTOCOL_VERSION = 1;

export const USERNAME_MAX = 32;
export const ROOM_NAME_MAX = 64;
/** Room size is capped because every member keeps a connection to every other (full mesh). */
export const ROOM_MEMBERS_MAX = 16;
/** An SDP offer with many candidates stays well under this; anything larger is abuse. */
export const SIGNAL_MAX_BYTES = 16 * 1024;
/** Nesting depth of the one free-form relayed field (a transceiver init); deeper input is abuse. */
export const RELAYED_JSON_MAX_DEPTH = 8;

/** Stable reasons the server gives; the client turns them into words. */
export const ServerError = {
  Malformed: 'malformed',
  Version: 'incompatible-version',
  NotAuthenticated: 'not-authenticated',
  UsernameTaken: 'username-taken',
  BadSignature: 'bad-signature',
  NoChallenge: 'no-challenge',
  RoomFull: 'room-full',
  BadPassword: 'bad-password',
  RoomIsOpen: 'room-is-open',
  NotInRoom: 'not-in-room',
  NoSuchRoom: 'no-such-room',
  UnknownPeer: 'unknown-peer',
  TooManyRooms: 'too-many-rooms',
  RateLimited: 'rate-limited',
  Unavailable: 'unavailable',
} as const;
export type ServerError = (typeof ServerError)[keyof typeof ServerError];

// Characters that make two names look alike or reorder text on screen: C0/C1 controls,
// zero-width and joiner characters, bidi embeddings/overrides/isolates, BOM, and the
// Unicode tag block. NOTE: a name like "alice\u202Eecila" would impersonate another user.
// eslint-disable-next-line no-control-regex
const INVISIBLE_OR_BIDI = /[\u0000-\u001f\u007f-\u009f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8]|[\u{e0000}-\u{e0fff}]/u;

export type NameCheck =
  | { ok: true; /** as shown */ name: string; /** identity: case-folded, so "An" and "an" are one user */ key: string }
  | { ok: false; reason: 'empty' | 'too-long' | 'invisible-characters' };

/**
 * Username normalisation, identical on client and server: NFKC, trimmed, inner
 * whitespace collapsed, 1-32 characters, no control, zero-width or bidi characters.
 * Uniqueness is case-insensitive (`key`).
 */
export function normalizeUsername(raw: string): NameCheck {
  return normalizeName(raw, USERNAME_MAX);
}

/** Room names follow the same rules; the room's `key` also salts the room password's key. */
export function normalizeRoomName(raw: string): NameCheck {
  return normalizeName(raw, ROOM_NAME_MAX);
}

function normalizeName(raw: string, max: number): NameCheck {
  const name = raw.normalize('NFKC').trim().replace(/\s+/gu, ' ');
  if (INVISIBLE_OR_BIDI.test(name)) return { ok: false, reason: 'invisible-characters' };
  if (name.length === 0) return { ok: false, reason: 'empty' };
  if ([...name].length > max) return { ok: false, reason: 'too-long' };
  return { ok: true, name, key: name.toLowerCase() };
}

const Username = v.pipe(
  v.string(),
  v.maxLength(USERNAME_MAX * 4),
  v.check((s) => normalizeUsername(s).ok, 'invalid username'),
);
const RoomName = v.pipe(
  v.string(),
  v.maxLength(ROOM_NAME_MAX * 4),
  v.check((s) => normalizeRoomName(s).ok, 'invalid room name'),
);
/** Raw 32-byte Ed25519 public key, base64url without padding. */
const PublicKey = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{43}$/, 'expected a base64url 32-byte key'));
const B64u = (maxChars: number) => v.pipe(v.string(), v.maxLength(maxChars), v.regex(/^[A-Za-z0-9_-]*$/));
const SocketId = v.pipe(v.string(), v.minLength(1), v.maxLength(64));

// ---- client -> server -------------------------------------------------------------

/** Sent as the Socket.IO handshake `auth` payload. */
export const ConnectAuth = v.strictObject({ v: v.number() });
export type ConnectAuth = v.InferOutput<typeof ConnectAuth>;

export const AuthChallengeRequest = v.strictObject({ username: Username, publicKey: PublicKey });
export type AuthChallengeRequest = v.InferOutput<typeof AuthChallengeRequest>;

export const AuthProveRequest = v.strictObject({ signature: B64u(128) });
export type AuthProveRequest = v.InferOutput<typeof AuthProveRequest>;

export const RoomJoinRequest = v.strictObject({
  room: RoomName,
  /** Present for password rooms: HKDF output of the room key, never the password. */
  joinToken: v.optional(B64u(64)),
  /** Creating is explicit so that a typo in a password room's name does not create an open room. */
  create: v.optional(v.boolean()),
  /**
   * With `create`: keep the new room out of every room list (direct chats). Only `true` is
   * accepted, so the field is either absent or means one thing.
   */
  unlisted: v.optional(v.literal(true)),
});
export type RoomJoinRequest = v.InferOutput<typeof RoomJoinRequest>;

export const RoomLeaveRequest = v.strictObject({ room: RoomName });
export type RoomLeaveRequest = v.InferOutput<typeof RoomLeaveRequest>;

const Sdp = v.pipe(v.string(), v.maxLength(SIGNAL_MAX_BYTES));
/** The subset of simple-peer's signal objects we accept: offers, answers and trickled candidates. */
export const SignalData = v.union([
  v.strictObject({ type: v.picklist(['offer', 'answer']), sdp: Sdp }),
  v.strictObject({
    type: v.literal('candidate'),
    candidate: v.strictObject({
      candidate: v.pipe(v.string(), v.maxLength(1024)),
      sdpMLineIndex: v.optional(v.nullable(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(64)))),
      sdpMid: v.optional(v.nullable(v.pipe(v.string(), v.maxLength(64)))),
      usernameFragment: v.optional(v.nullable(v.pipe(v.string(), v.maxLength(256)))),
    }),
  }),
  v.strictObject({ type: v.literal('renegotiate'), renegotiate: v.literal(true) }),
  v.strictObject({
    type: v.literal('transceiverRequest'),
    transceiverRequest: v.strictObject({
      kind: v.pipe(v.string(), v.maxLength(16)),
      // NOTE: bounded depth, or a deeply nested value relayed onwards would exhaust the
      // stack of every recursive encoder on its way (Socket.IO's, the Redis adapter's).
      init: v.optional(v.pipe(v.unknown(), v.check((x) => jsonDepthAtMost(x, RELAYED_JSON_MAX_DEPTH), 'nested too deeply'))),
    }),
  }),
]);
export type SignalData = v.InferOutput<typeof SignalData>;

export const SignalRequest = v.strictObject({ room: RoomName, to: SocketId, data: SignalData });
export type SignalRequest = v.InferOutput<typeof SignalRequest>;

// ---- server -> client -------------------------------------------------------------

export const Member = v.strictObject({ socketId: SocketId, username: Username, publicKey: PublicKey });
export type Member = v.InferOutput<typeof Member>;

export const RoomSummary = v.strictObject({
  name: RoomName,
  members: v.pipe(v.number(), v.integer(), v.minValue(0)),
  locked: v.boolean(),
});
export type RoomSummary = v.InferOutput<typeof RoomSummary>;

export const IceServer = v.strictObject({
  urls: v.union([v.string(), v.array(v.string())]),
  username: v.optional(v.string()),
  credential: v.optional(v.string()),
});
export type IceServer = v.InferOutput<typeof IceServer>;

export const ErrorAck = v.strictObject({ ok: v.literal(false), error: v.picklist(Object.values(ServerError)), message: v.string() });
export type ErrorAck = v.InferOutput<typeof ErrorAck>;

const okAck = <T extends v.ObjectEntries>(entries: T) => v.strictObject({ ok: v.literal(true), ...entries });

export const AuthChallengeAck = v.union([
  okAck({ challenge: B64u(128), registered: v.boolean() }),
  ErrorAck,
]);
export type AuthChallengeAck = v.InferOutput<typeof AuthChallengeAck>;

export const AuthProveAck = v.union([
  okAck({
    username: Username,
    iceServers: v.array(IceServer),
    /** 'relay' when the operator hides members' addresses from each other (RELAY_ONLY). */
    iceTransportPolicy: v.optional(v.picklist(['all', 'relay'])),
    rooms: v.array(RoomSummary),
  }),
  ErrorAck,
]);
export type AuthProveAck = v.InferOutput<typeof AuthProveAck>;

/**
 * Orders rosters: pushes for one room can overtake each other (joins handled concurrently,
 * several processes), so a client keeps only the roster with the highest version.
 */
export const RosterVersion = v.pipe(v.number(), v.safeInteger(), v.minValue(0));
export const RoomJoinAck = v.union([okAck({ room: RoomName, locked: v.boolean(), members: v.array(Member), version: RosterVersion }), ErrorAck]);
export type RoomJoinAck = v.InferOutput<typeof RoomJoinAck>;

export const SimpleAck = v.union([okAck({}), ErrorAck]);
export type SimpleAck = v.InferOutput<typeof SimpleAck>;

export const RoomsPush = v.array(RoomSummary);
export const MembersPush = v.strictObject({ room: RoomName, members: v.array(Member), version: RosterVersion });
export type MembersPush = v.InferOutput<typeof MembersPush>;
export const SignalPush = v.strictObject({ room: RoomName, from: SocketId, fromUser: Username, data: SignalData });
export type SignalPush = v.InferOutput<typeof SignalPush>;
export const NoticePush = v.strictObject({ kind: v.picklist(['shutdown', 'rate-limited']), message: v.string() });
export type NoticePush = v.InferOutput<typeof NoticePush>;

/** Bytes a client signs to log in: domain-separated so the signature cannot be reused elsewhere. */
export function loginChallengeText(challenge: string, username: string, publicKey: string): string {
  return `p2pchat/v${PROTOCOL_VERSION}/login\n${challenge}\n${username}\n${publicKey}`;
}

/** Event names, so neither side spells one twice. */
export const ClientEvent = {
  AuthChallenge: 'auth:challenge',
  AuthProve: 'auth:prove',
  RoomList: 'room:list',
  RoomJoin: 'room:join',
  RoomLeave: 'room:leave',
  Signal: 'signal',
} as const;
export const ServerEvent = {
  Rooms: 'rooms',
  Members: 'room:members',
  Signal: 'signal',
  Notice: 'notice',
} as const;

/** True when `x` nests objects/arrays at most `max` levels deep (iterative: no recursion to exhaust). */
export function jsonDepthAtMost(x: unknown, max: number): boolean {
  let level: unknown[] = [x];
  for (let depth = 0; level.length > 0; depth++) {
    const next: unknown[] = [];
    for (const item of level) {
      if (item === null || typeof item !== 'object') continue;
      if (depth >= max) return false;
      for (const child of Array.isArray(item) ? item : Object.values(item)) next.push(child);
    }
    level = next;
  }
  return true;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

/** Validates untrusted input; returns the typed value or a short description of the first problem. */
export function parse<S extends v.GenericSchema>(schema: S, input: unknown): ParseResult<v.InferOutput<S>> {
  const r = v.safeParse(schema, input);
  if (r.success) return { ok: true, value: r.output };
  const issue = r.issues[0];
  const path = issue.path?.map((p) => String(p.key)).join('.') ?? '';
  return { ok: false, error: path ? `${path}: ${issue.message}` : issue.message };
}
