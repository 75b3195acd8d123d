import { describe, expect, it } from 'vitest';
import type { SignalData } from '../../../signaling/src/protocol.ts';
import type { PeerLink, PeerLinkEvents } from '../../../client/src/core/net/peer-link.ts';
import { Emitter } from '../../../client/src/core/util/emitter.ts';
import { nodePeerFactory, withoutCandidates } from '../../../cli/src/node-peer-link.ts';

const OFFER = ['v=0', 'o=rtc 1 0 IN IP4 127.0.0.1', 's=-', 't=0 0', 'm=application 9 UDP/DTLS/SCTP webrtc-datachannel', 'c=IN IP4 0.0.0.0', 'a=mid:0', 'a=setup:actpass', 'a=fingerprint:sha-256 AA:BB', 'a=candidate:1 1 UDP 2114977791 10.98.0.1 37422 typ host', 'a=end-of-candidates', ''].join('\r\n');

/** A stand-in for core's simple-peer link that records what it is fed. */
class FakeLink implements PeerLink {
  readonly fed: SignalData[] = [];
  readonly events = new Emitter<PeerLinkEvents>();
  closed = false;
  constructor(readonly initiator: boolean) {}
  signal(data: SignalData): void {
    this.fed.push(data);
  }
  send(): void {}
  bufferedAmount = 0;
  maxMessageSize = 65536;
  fingerprints() {
    return { local: 'l', remote: 'r' };
  }
  async stats() {
    return { rttMs: null, relayed: null };
  }
  on<K extends keyof PeerLinkEvents>(event: K, handler: PeerLinkEvents[K]) {
    return this.events.on(event, handler);
  }
  close(): void {
    this.closed = true;
    this.events.emit('close', 'closed');
  }
}

function make(initiator: boolean) {
  const fake = new FakeLink(initiator);
  const link = nodePeerFactory({ create: () => fake }).create({ initiator, iceServers: [] });
  const sent: SignalData[] = [];
  link.on('signal', (d) => sent.push(d));
  return { fake, link, sent };
}

describe('WebRTC links in Node', () => {
  it('an offer goes out without our addresses; they follow once the answer is in, so the answerer cannot start DTLS early', () => {
    const { fake, link, sent } = make(true);
    fake.events.emit('signal', { type: 'offer', sdp: OFFER });
    fake.events.emit('signal', { type: 'candidate', candidate: { candidate: 'candidate:2 1 UDP 1 10.98.0.1 5000 typ host', sdpMid: '0' } });
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ type: 'offer' });
    const sdp = (sent[0] as { sdp: string }).sdp;
    expect(sdp).not.toContain('a=candidate');
    expect(sdp).not.toContain('a=end-of-candidates');
    expect(sdp).toContain('a=fingerprint:sha-256 AA:BB');

    link.signal({ type: 'answer', sdp: 'answer' });
    expect(fake.fed).toEqual([{ type: 'answer', sdp: 'answer' }]);
    expect(sent.slice(1)).toEqual([
      { type: 'candidate', candidate: { candidate: 'candidate:1 1 UDP 2114977791 10.98.0.1 37422 typ host', sdpMLineIndex: 0, sdpMid: '0' } },
      { type: 'candidate', candidate: { candidate: 'candidate:2 1 UDP 1 10.98.0.1 5000 typ host', sdpMid: '0' } },
    ]);
    // Later candidates go straight out.
    fake.events.emit('signal', { type: 'candidate', candidate: { candidate: 'candidate:3', sdpMid: '0' } });
    expect(sent).toHaveLength(4);
  });

  it('the answering side sends as usual', () => {
    const { fake, sent } = make(false);
    fake.events.emit('signal', { type: 'answer', sdp: OFFER });
    expect(sent).toEqual([{ type: 'answer', sdp: OFFER }]);
  });

  it('a new offer before the link opened is answered from a fresh connection, never fed to libdatachannel as a renegotiation', () => {
    const created: FakeLink[] = [];
    const link = nodePeerFactory({ create: ({ initiator }) => (created.push(new FakeLink(initiator)), created.at(-1)!) }).create({ initiator: false, iceServers: [] });
    const closed: (string | undefined)[] = [];
    link.on('close', (r) => closed.push(r));
    link.signal({ type: 'offer', sdp: OFFER });
    link.signal({ type: 'offer', sdp: OFFER + 'a=x\r\n' });
    expect(created).toHaveLength(2);
    expect(created[0]!.fed).toHaveLength(1);
    expect(created[0]!.closed).toBe(true);
    expect(created[1]!.fed).toEqual([{ type: 'offer', sdp: OFFER + 'a=x\r\n' }]);
    // The old connection's end is not the link's end.
    expect(closed).toEqual([]);
    // Once open, a link is never renegotiated: another offer closes it.
    created[1]!.events.emit('open');
    link.signal({ type: 'offer', sdp: OFFER });
    expect(created).toHaveLength(2);
    expect(created[1]!.closed).toBe(true);
    expect(closed).toEqual(['closed']);
  });

  it('splits candidates out of every media section with its mid', () => {
    const two = OFFER + ['m=application 9 UDP/DTLS/SCTP webrtc-datachannel', 'a=candidate:9 1 UDP 1 10.0.0.2 9 typ host', 'a=mid:data', ''].join('\r\n');
    const { candidates } = withoutCandidates(two);
    expect(candidates.map((c) => (c as { candidate: { sdpMid: string | null; sdpMLineIndex: number } }).candidate)).toEqual([
      expect.objectContaining({ sdpMid: '0', sdpMLineIndex: 0 }),
      expect.objectContaining({ sdpMid: 'data', sdpMLineIndex: 1 }),
    ]);
  });
});
