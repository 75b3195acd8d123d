import { describe, expect, it } from 'vitest';
import {
  AuthChallengeRequest,
  AuthProveRequest,
  ConnectAuth,
  jsonDepthAtMost,
  MembersPush,
  normalizeRoomName,
  normalizeUsername,
  parse,
  RoomJoinRequest,
  RoomLeaveRequest,
  SIGNAL_MAX_BYTES,
  SignalPush,
  SignalRequest,
  USERNAME_MAX,
} from '../../../signaling/src/protocol.ts';

const KEY = 'A'.repeat(43);

describe('username normalisation (one function, shared by client and server)', () => {
  it('applies NFKC, trims and collapses spaces, and folds case for the identity key', () => {
    expect(normalizeUsername('  Ｂｉｎｈ  ')).toEqual({ ok: true, name: 'Binh', key: 'binh' });
    expect(normalizeUsername('An   Nguyen')).toEqual({ ok: true, name: 'An Nguyen', key: 'an nguyen' });
    // Composed and decomposed Vietnamese spell one name.
    const composed = normalizeUsername('Bình');
    const decomposed = normalizeUsername('Bi\u0300nh');
    expect(composed).toEqual(decomposed);
    expect(normalizeUsername('AN')).toMatchObject({ key: 'an' });
    // A leading or trailing BOM is whitespace to trim(): normalised away, not an error.
    expect(normalizeUsername('\uFEFFan')).toMatchObject({ ok: true, name: 'an' });
    // Inside a name it is whitespace too, so it shows as a visible space.
    expect(normalizeUsername('a\uFEFFn')).toMatchObject({ ok: true, name: 'a n' });
    // The ligature "ﬁ" becomes "fi" under NFKC: no look-alike second account.
    expect(normalizeUsername('ﬁona')).toMatchObject({ ok: true, key: 'fiona' });
  });

  it.each([
    ['right-to-left override', 'alice\u202Eecila'],
    ['zero-width space', 'an\u200B'],
    ['zero-width joiner', 'a\u200Dn'],
    ['bidi isolate', '\u2067an\u2069'],
    ['left-to-right mark', '\u200Ean'],
    ['C0 control', 'an\u0007'],
    ['C1 control', 'an\u0085x'],
    ['newline', 'an\nbinh'.replace(' ', '')],
    ['Unicode tag', 'an\u{E0041}'],
    ['Hangul filler', 'an\u3164'],
    ['variation selector', 'an\uFE0F'],
  ])('rejects a name with a %s', (_why, raw) => {
    const r = normalizeUsername(raw);
    // Whitespace-like controls (\n) collapse to a space, which is allowed; every other is refused.
    if (raw.includes('\n')) expect(r).toMatchObject({ ok: true, name: 'an binh' });
    else expect(r).toEqual({ ok: false, reason: 'invisible-characters' });
  });

  it('rejects empty and too-long names, counting characters not UTF-16 units', () => {
    expect(normalizeUsername('   ')).toEqual({ ok: false, reason: 'empty' });
    expect(normalizeUsername('x'.repeat(USERNAME_MAX))).toMatchObject({ ok: true });
    expect(normalizeUsername('x'.repeat(USERNAME_MAX + 1))).toEqual({ ok: false, reason: 'too-long' });
    expect(normalizeUsername('😀'.repeat(USERNAME_MAX))).toMatchObject({ ok: true });
    expect(normalizeUsername('😀'.repeat(USERNAME_MAX + 1))).toEqual({ ok: false, reason: 'too-long' });
    expect(normalizeRoomName('r'.repeat(65))).toEqual({ ok: false, reason: 'too-long' });
  });

  it('the client uses this very function (no second copy to drift)', async () => {
    const source = await import('node:fs/promises').then((fs) => fs.readFile(new URL('../../../client/src/core/chat/chat-client.ts', import.meta.url), 'utf8'));
    expect(source).toMatch(/normalizeUsername,[\s\S]*from '..\/..\/..\/..\/signaling\/src\/protocol.ts'/);
  });
});

describe('event schemas', () => {
  it('accept well-formed requests', () => {
    expect(parse(ConnectAuth, { v: 1 }).ok).toBe(true);
    expect(parse(AuthChallengeRequest, { username: 'Bình', publicKey: KEY }).ok).toBe(true);
    expect(parse(AuthProveRequest, { signature: 'a'.repeat(86) }).ok).toBe(true);
    expect(parse(RoomJoinRequest, { room: 'lop 12a', create: true }).ok).toBe(true);
    expect(parse(RoomJoinRequest, { room: 'lop 12a', joinToken: 'abc_-' }).ok).toBe(true);
    expect(parse(RoomJoinRequest, { room: 'dm-abc', joinToken: 'abc_-', create: true, unlisted: true }).ok).toBe(true);
    expect(parse(RoomLeaveRequest, { room: 'lop 12a' }).ok).toBe(true);
    for (const data of [
      { type: 'offer', sdp: 'v=0' },
      { type: 'answer', sdp: 'v=0' },
      { type: 'candidate', candidate: { candidate: 'candidate:1 1 udp 1 10.0.0.1 5000 typ host', sdpMLineIndex: 0, sdpMid: '0' } },
      { type: 'candidate', candidate: { candidate: '', sdpMLineIndex: null, sdpMid: null, usernameFragment: null } },
      { type: 'renegotiate', renegotiate: true },
      { type: 'transceiverRequest', transceiverRequest: { kind: 'audio', init: { direction: 'sendrecv' } } },
    ]) {
      expect(parse(SignalRequest, { room: 'r', to: 'socket-1', data }), JSON.stringify(data)).toMatchObject({ ok: true });
    }
  });

  it.each([
    ['a missing field', AuthChallengeRequest, { username: 'An' }],
    ['an extra field', AuthChallengeRequest, { username: 'An', publicKey: KEY, admin: true }],
    ['a wrong type', AuthChallengeRequest, { username: 42, publicKey: KEY }],
    ['a short key', AuthChallengeRequest, { username: 'An', publicKey: 'AAAA' }],
    ['a key with padding', AuthChallengeRequest, { username: 'An', publicKey: `${'A'.repeat(42)}=` }],
    ['a bidi username', AuthChallengeRequest, { username: 'a\u202Eb', publicKey: KEY }],
    ['a huge username', AuthChallengeRequest, { username: 'x'.repeat(100_000), publicKey: KEY }],
    ['a non-base64url signature', AuthProveRequest, { signature: 'not base64!' }],
    ['an oversized signature', AuthProveRequest, { signature: 'A'.repeat(129) }],
    ['an array', RoomJoinRequest, [{ room: 'x' }]],
    ['null', RoomJoinRequest, null],
    ['a string create flag', RoomJoinRequest, { room: 'x', create: 'yes' }],
    ['an oversized join token', RoomJoinRequest, { room: 'x', joinToken: 'A'.repeat(65) }],
    ['an unlisted flag set to false', RoomJoinRequest, { room: 'x', create: true, unlisted: false }],
    ['an unlisted flag as a string', RoomJoinRequest, { room: 'x', create: true, unlisted: 'yes' }],
    ['an empty room', RoomLeaveRequest, { room: '   ' }],
    ['an unknown signal type', SignalRequest, { room: 'r', to: 's', data: { type: 'pranswer', sdp: '' } }],
    ['an oversized SDP', SignalRequest, { room: 'r', to: 's', data: { type: 'offer', sdp: 'x'.repeat(SIGNAL_MAX_BYTES + 1) } }],
    ['a huge socket id', SignalRequest, { room: 'r', to: 's'.repeat(65), data: { type: 'offer', sdp: '' } }],
    ['a forged sender', SignalRequest, { room: 'r', to: 's', from: 'x', data: { type: 'offer', sdp: '' } }],
    ['a negative m-line', SignalRequest, { room: 'r', to: 's', data: { type: 'candidate', candidate: { candidate: '', sdpMLineIndex: -1 } } }],
    ['a deep transceiver init', SignalRequest, { room: 'r', to: 's', data: { type: 'transceiverRequest', transceiverRequest: { kind: 'a', init: deep(50) } } }],
    ['a version as a string', ConnectAuth, { v: '1' }],
  ])('reject %s', (_why, schema, input) => {
    const r = parse(schema, input);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.length).toBeGreaterThan(0);
  });

  it('validate pushes on the client side too (a lying server is caught)', () => {
    expect(parse(MembersPush, { room: 'r', members: [{ socketId: 's', username: 'An', publicKey: KEY }], version: 1 }).ok).toBe(true);
    expect(parse(MembersPush, { room: 'r', members: [{ socketId: 's', username: 'a\u200Bn', publicKey: KEY }], version: 1 }).ok).toBe(false);
    expect(parse(MembersPush, { room: 'r', members: [], version: -1 }).ok).toBe(false);
    expect(parse(MembersPush, { room: 'r', members: [] }).ok).toBe(false);
    expect(parse(SignalPush, { room: 'r', from: 's', fromUser: 'An', data: { type: 'offer', sdp: '' }, extra: 1 }).ok).toBe(false);
  });

  it('measure nesting without recursion, even for very deep input', () => {
    expect(jsonDepthAtMost({ a: { b: 1 } }, 8)).toBe(true);
    expect(jsonDepthAtMost(deep(8), 8)).toBe(true);
    expect(jsonDepthAtMost(deep(9), 8)).toBe(false);
    expect(jsonDepthAtMost(deep(100_000), 8)).toBe(false);
    expect(jsonDepthAtMost('x', 0)).toBe(true);
  });
});

/** `levels` nested arrays (built iteratively). */
function deep(levels: number): unknown {
  let x: unknown = 0;
  for (let i = 0; i < levels; i++) x = [x];
  return x;
}
