import { describe, expect, it } from 'vitest';
import { decodeFrame, encodeFrame, encodeHeader, FrameType } from '../../../client/src/core/net/wire.ts';

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
