import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../client/src/core/errors.ts';
import type { MemoryLink } from '../../../client/src/core/net/memory-link.ts';
import { newParty, openPair, teardown, waitUntil } from '../files/helpers.ts';

const sdpWith = (fingerprint: string) => `v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\na=fingerprint:${fingerprint}\r\na=setup:actpass\r\n`;
const otherCertificate = `sha-256 ${Array.from({ length: 32 }, (_, i) => (i + 16).toString(16).toUpperCase()).join(':')}`;

describe('a channel bound to a certificate by its signed hello', () => {
  afterEach(teardown);

  it.each([
    ['an offer naming another certificate', 'offer', otherCertificate],
    ['an answer naming another certificate', 'answer', otherCertificate],
    ['an offer with a weak fingerprint', 'offer', 'sha-1 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB'],
  ] as const)('is closed, not renegotiated, by %s', async (_, type, fingerprint) => {
    const { sa, sb, lb } = await openPair(await newParty('an'), await newParty('binh'));
    const passedOn: unknown[] = [];
    (lb as MemoryLink).signal = (data) => void passedOn.push(data);
    sb.acceptSignal({ type, sdp: sdpWith(fingerprint) });
    expect(sb.state).toBe('failed');
    expect(sb.error?.code).toBe(ErrorCode.Renegotiation);
    expect(sb.error?.message).toMatch(/tried to switch certificates/);
    // Never handed to the connection; the connection is closed, so the other side sees it go.
    expect(passedOn).toEqual([]);
    await waitUntil(() => !sa.isOpen, 2_000, 'the other side to see the channel closed');
  });

  it('passes on a signal naming the certificate it is bound to', async () => {
    const { sb, la, lb } = await openPair(await newParty('an'), await newParty('binh'));
    const passedOn: unknown[] = [];
    (lb as MemoryLink).signal = (data) => void passedOn.push(data);
    const offer = { type: 'offer', sdp: sdpWith((la as MemoryLink).localFingerprint) } as const;
    sb.acceptSignal(offer);
    expect(sb.isOpen).toBe(true);
    expect(passedOn).toEqual([offer]);
  });
});
