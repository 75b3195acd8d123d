import { describe, expect, it } from 'vitest';
import type { SignalData } from '../../../signaling/src/protocol.ts';
import { SimplePeerLink } from '../../../client/src/core/net/simple-peer-link.ts';
import { extractFingerprint, isBareEndOfCandidates } from '../../../client/src/core/net/sdp.ts';

// Session descriptions as Firefox ESR 153 and Chromium 156 wrote them for one data channel
// between them (trimmed to the lines that matter, ICE credentials replaced). Firefox puts the fingerprint at session
// level, before the m= line; Chromium puts it in the media section.
const FIREFOX_OFFER = [
  'v=0',
  'o=mozilla...THIS_IS_SDPARTA-99.0 6148226496148458106 0 IN IP4 0.0.0.0',
  's=-',
  't=0 0',
  'a=fingerprint:sha-256 98:1E:FE:32:7A:02:C8:16:E0:9C:E7:36:C3:55:02:2A:24:B1:F0:24:41:93:15:B0:87:D4:3D:7A:75:F5:AD:C3',
  'a=group:BUNDLE 0',
  'a=ice-options:trickle',
  'a=msid-semantic:WMS *',
  'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
  'c=IN IP4 0.0.0.0',
  'a=sendrecv',
  'a=ice-pwd:0f3c9d9ac5e8e1f4c0ee4f5ab1d4c2a1',
  'a=ice-ufrag:6f0b1a2c',
  'a=mid:0',
  'a=setup:actpass',
  'a=sctp-port:5000',
  'a=max-message-size:1073741823',
  '',
].join('\r\n');

const CHROMIUM_ANSWER = [
  'v=0',
  'o=- 4873466325563366330 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0',
  'a=msid-semantic: WMS',
  'm=application 43007 UDP/DTLS/SCTP webrtc-datachannel',
  'c=IN IP4 10.98.0.1',
  'a=candidate:2487344057 1 udp 2113937151 10.98.0.1 43007 typ host generation 0 network-id 1',
  'a=ice-ufrag:McV7',
  'a=ice-pwd:wVbq9n0b3C1HhXz4kQ0Lr6fN',
  'a=ice-options:trickle',
  'a=fingerprint:sha-256 06:73:88:41:D3:E7:6D:49:4F:9C:34:4A:95:CB:69:23:B4:38:39:B9:E3:60:0E:59:E3:65:C7:72:91:1B:4A:13',
  'a=setup:active',
  'a=mid:0',
  'a=sctp-port:5000',
  'a=max-message-size:262144',
  '',
].join('\r\n');

describe('what Firefox and Chromium put in their signals', () => {
  it('the DTLS fingerprint is read from Firefox session-level and Chromium media-level lines alike', () => {
    expect(extractFingerprint(FIREFOX_OFFER)).toEqual({ ok: true, fingerprint: 'sha-256 98:1E:FE:32:7A:02:C8:16:E0:9C:E7:36:C3:55:02:2A:24:B1:F0:24:41:93:15:B0:87:D4:3D:7A:75:F5:AD:C3' });
    expect(extractFingerprint(CHROMIUM_ANSWER)).toEqual({ ok: true, fingerprint: 'sha-256 06:73:88:41:D3:E7:6D:49:4F:9C:34:4A:95:CB:69:23:B4:38:39:B9:E3:60:0E:59:E3:65:C7:72:91:1B:4A:13' });
    // Lower-case hex (as some stacks write it) names the same certificate.
    const lower = FIREFOX_OFFER.replace(/(a=fingerprint:sha-256 )(\S+)/, (_, p: string, hex: string) => p + hex.toLowerCase());
    expect(extractFingerprint(lower)).toEqual(extractFingerprint(FIREFOX_OFFER));
  });

  it('weak, mixed, several or no fingerprints are refused; one certificate named twice is not', () => {
    const withLines = (...lines: string[]) => CHROMIUM_ANSWER.replace(/a=fingerprint:[^\r\n]*\r\n/, lines.map((l) => `a=fingerprint:${l}\r\n`).join(''));
    const strong = 'sha-256 06:73:88:41:D3:E7:6D:49:4F:9C:34:4A:95:CB:69:23:B4:38:39:B9:E3:60:0E:59:E3:65:C7:72:91:1B:4A:13';
    const other = 'sha-256 98:1E:FE:32:7A:02:C8:16:E0:9C:E7:36:C3:55:02:2A:24:B1:F0:24:41:93:15:B0:87:D4:3D:7A:75:F5:AD:C3';
    const sha1 = 'sha-1 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB';
    const md5 = 'md5 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B';
    expect(extractFingerprint(withLines(sha1))).toEqual({ ok: false, reason: 'weak fingerprint algorithm sha-1' });
    expect(extractFingerprint(withLines(md5))).toEqual({ ok: false, reason: 'weak fingerprint algorithm md5' });
    // A strong line does not excuse a weak one beside it, in either order.
    expect(extractFingerprint(withLines(strong, sha1))).toMatchObject({ ok: false, reason: expect.stringMatching(/weak/) });
    expect(extractFingerprint(withLines(md5, strong))).toMatchObject({ ok: false, reason: expect.stringMatching(/weak/) });
    expect(extractFingerprint(withLines(strong, other))).toEqual({ ok: false, reason: 'several different fingerprints in one session description' });
    expect(extractFingerprint(withLines())).toEqual({ ok: false, reason: 'no fingerprint in the session description' });
    expect(extractFingerprint(withLines(strong, strong.toLowerCase()))).toEqual({ ok: true, fingerprint: strong });
  });

  it("Firefox's end-of-candidates marker is passed on; one naming no media line is dropped", () => {
    const firefoxEnd: SignalData = { type: 'candidate', candidate: { candidate: '', sdpMLineIndex: 0, sdpMid: '0' } };
    expect(isBareEndOfCandidates(firefoxEnd)).toBe(false);
    expect(isBareEndOfCandidates({ type: 'candidate', candidate: { candidate: '' } })).toBe(true);
    expect(isBareEndOfCandidates({ type: 'candidate', candidate: { candidate: '', sdpMid: null, sdpMLineIndex: null } })).toBe(true);
    expect(isBareEndOfCandidates({ type: 'candidate', candidate: { candidate: 'candidate:1 1 udp 1 10.98.0.1 5000 typ host' } })).toBe(false);
    expect(isBareEndOfCandidates({ type: 'offer', sdp: FIREFOX_OFFER })).toBe(false);
  });
});

/**
 * Two real links in Node (simple-peer on libdatachannel). The offerer's own candidates
 * are held until the answer is in, as the CLI does: libdatachannel fails a DTLS handshake
 * that reaches it before the answer (cli/src/node-peer-link.ts).
 */
function connectPair(extraToAnswerer: SignalData[]): Promise<{ a: SimplePeerLink; b: SimplePeerLink; closed: string[] }> {
  const a = new SimplePeerLink({ initiator: true, iceServers: [] });
  const b = new SimplePeerLink({ initiator: false, iceServers: [] });
  const closed: string[] = [];
  let held: SignalData[] | null = [];
  a.on('signal', (d) => {
    if (d.type === 'candidate' && held) held.push(d);
    else b.signal(d);
    if (d.type === 'offer') for (const extra of extraToAnswerer) b.signal(extra);
  });
  b.on('signal', (d) => {
    a.signal(d);
    if (d.type === 'answer') {
      for (const c of held ?? []) b.signal(c);
      held = null;
    }
  });
  a.on('close', (r) => closed.push(`offerer: ${r}`));
  b.on('close', (r) => closed.push(`answerer: ${r}`));
  return new Promise((resolve, reject) => {
    let open = 0;
    const done = () => ++open === 2 && resolve({ a, b, closed });
    a.on('open', done);
    b.on('open', done);
    const timer = setTimeout(() => reject(new Error(`no channel; closed: ${closed.join(', ')}`)), 20_000);
    timer.unref();
  });
}

describe('a WebRTC link', () => {
  it('end-of-candidates markers, with or without a media line, do not end the connection', async () => {
    const { a, b, closed } = await connectPair([
      { type: 'candidate', candidate: { candidate: '', sdpMLineIndex: null, sdpMid: null } },
      { type: 'candidate', candidate: { candidate: '' } },
    ]);
    try {
      // Once open, a late marker of either kind changes nothing either.
      b.signal({ type: 'candidate', candidate: { candidate: '', sdpMLineIndex: 0, sdpMid: '0' } });
      b.signal({ type: 'candidate', candidate: { candidate: '' } });
      const got = new Promise<string | Uint8Array>((resolve) => b.on('frame', resolve));
      a.send('still here');
      expect(await got).toBe('still here');
      expect(closed).toEqual([]);
    } finally {
      a.close();
      b.close();
    }
  });

  it('the largest frame is the one the connection announces: up to it goes through, beyond it is refused', async () => {
    const { a, b } = await connectPair([]);
    try {
      // Whatever the stack announces (libdatachannel: 256 KiB), both ends agree and the
      // value is a positive byte count, not an assumed constant.
      expect(a.maxMessageSize).toBe(b.maxMessageSize);
      expect(a.maxMessageSize).toBeGreaterThanOrEqual(64 * 1024);

      // A frame at the limit goes through; one byte more is refused before it reaches the
      // channel, which stays open.
      const got = new Promise<string | Uint8Array>((resolve) => b.on('frame', resolve));
      expect(() => a.send(new Uint8Array(a.maxMessageSize + 1))).toThrow(/larger than this connection carries/);
      a.send(new Uint8Array(a.maxMessageSize).fill(7));
      expect(((await got) as Uint8Array).byteLength).toBe(a.maxMessageSize);
    } finally {
      a.close();
      b.close();
    }
  });

  it('opens a bulk lane on both ends whose frames arrive in order beside the main channel', async () => {
    const { a, b } = await connectPair([]);
    try {
      const laneOpen = (l: SimplePeerLink) => (l.bulk ? Promise.resolve() : new Promise<void>((resolve) => l.on('bulk', resolve)));
      await Promise.all([laneOpen(a), laneOpen(b)]);
      const got: (string | number)[] = [];
      const all = new Promise<void>((resolve) =>
        b.on('frame', (f) => {
          got.push(typeof f === 'string' ? f : f[0]!);
          if (got.length === 41) resolve();
        }),
      );
      // Forty 64 KiB frames on the bulk lane, one message on the main channel among them.
      for (let i = 0; i < 40; i++) {
        a.bulk!.send(new Uint8Array(64 * 1024).fill(i));
        if (i === 5) a.send('chat');
      }
      expect(a.bulk!.bufferedAmount).toBeGreaterThanOrEqual(0);
      await all;
      expect(got.filter((x) => typeof x === 'number')).toEqual(Array.from({ length: 40 }, (_, i) => i));
      expect(got).toContain('chat');
      expect(() => a.bulk!.send(new Uint8Array(a.maxMessageSize + 1))).toThrow(/larger than this connection carries/);
    } finally {
      a.close();
      b.close();
    }
  });
});
