import { describe, expect, it } from 'vitest';
import { importAesKey, ReceiveCipher, SendCipher } from '../../../client/src/core/crypto/aead.ts';
import { ErrorCode } from '../../../client/src/core/errors.ts';
import { decodeFrame, encodeFrame, encodeHeader, frameAad, FrameType } from '../../../client/src/core/net/wire.ts';

describe('chunk frames built in a reused buffer', () => {
  const transferId = new Uint8Array(16).fill(9);
  const header = (index: number) => encodeHeader(FrameType.Chunk, new Uint8Array(12).fill(index), { transferId, index, final: false });

  it('are views of exactly one frame each, decoding to their own header and bytes', () => {
    const buffer = new Uint8Array(256);
    const long = encodeFrame(header(1), new Uint8Array(200).fill(1), buffer);
    expect(long.buffer).toBe(buffer.buffer);
    expect(long.length).toBe(header(1).length + 200);
    const decodedLong = decodeFrame(long.slice());
    const short = encodeFrame(header(2), new Uint8Array(20).fill(2), buffer);
    expect(short.length).toBe(header(2).length + 20);
    const decodedShort = decodeFrame(short.slice());
    expect(decodedShort).toMatchObject({ type: FrameType.Chunk, chunk: { index: 2 } });
    expect([...decodedShort.sealed]).toEqual(new Array(20).fill(2));
    expect(decodedLong).toMatchObject({ type: FrameType.Chunk, chunk: { index: 1 } });
    expect(decodedLong.sealed.length).toBe(200);
  });

  it('refuse a buffer too small for the frame', () => {
    expect(() => encodeFrame(header(3), new Uint8Array(300), new Uint8Array(256))).toThrow(RangeError);
  });

  it('without a buffer get a new one each', () => {
    const a = encodeFrame(header(4), new Uint8Array(10));
    const b = encodeFrame(header(4), new Uint8Array(10));
    expect(a.buffer).not.toBe(b.buffer);
  });
});

describe('a sealed frame is bound to its room, sender and recipient (frameAad)', () => {
  const context = { room: 'lớp 12a', from: 'an', to: 'bình' };

  /** Seals one app frame as PeerSession does, and opens it the way a receiver in `at` would. */
  async function moved(at: { room: string; from: string; to: string }): Promise<Uint8Array> {
    const key = await importAesKey(crypto.getRandomValues(new Uint8Array(32)));
    const send = new SendCipher(key);
    const nonce = send.nextNonce();
    const header = encodeHeader(FrameType.App, nonce);
    const frame = encodeFrame(header, await send.seal(nonce, frameAad(header, context), new TextEncoder().encode('hello')));
    const decoded = decodeFrame(frame);
    return new ReceiveCipher(key).open(decoded.nonce, frameAad(decoded.header, at), decoded.sealed);
  }

  it('opens where it was sealed for', async () => {
    expect(new TextDecoder().decode(await moved(context))).toBe('hello');
  });

  it.each([
    ['another room', { ...context, room: 'lớp 12b' }],
    ['another sender', { ...context, from: 'chi' }],
    ['another recipient', { ...context, to: 'chi' }],
    ['the way back (sender and recipient swapped)', { ...context, from: context.to, to: context.from }],
    ['fields run together differently', { room: 'lớp 12aan', from: '', to: 'bình' }],
  ])('is rejected when moved to %s, even under the same key', async (_, at) => {
    await expect(moved(at)).rejects.toMatchObject({ code: ErrorCode.Decrypt });
  });
});
