import { describe, expect, it } from 'vitest';
import { isVp8KeyframeStart, readVp8Descriptor, Vp8PictureRewriter } from './vp8Descriptor.js';

/** A VP8 payload as Chromium sends it: X, I (15-bit picture id), L (TL0PICIDX), T (TID), then the VP8 header byte (P bit: 0 keyframe). */
function vp8(pictureId: number, tl0: number, { start = true, key = false, tid = 0 } = {}): Buffer {
  return Buffer.from([0x80 | (start ? 0x10 : 0), 0x80 | 0x40 | 0x20, 0x80 | (pictureId >> 8), pictureId & 0xff, tl0, tid << 6, key ? 0x10 : 0x11, 0xaa, 0xbb]);
}

describe('VP8 payload descriptor (RFC 7741)', () => {
  it('reads the picture id, TL0PICIDX, temporal layer and where the VP8 header starts', () => {
    const d = readVp8Descriptor(vp8(0x1234, 200, { tid: 2, key: true }))!;
    expect(d).toMatchObject({ start: true, partitionId: 0, pictureId: 0x1234, pictureIdBits: 15, tl0PicIdx: 200, temporalLayer: 2, length: 6 });
    expect(isVp8KeyframeStart(vp8(1, 1, { key: true }), d)).toBe(true);
    expect(isVp8KeyframeStart(vp8(1, 1), d)).toBe(false);
  });

  it('reads a 7-bit picture id and a descriptor without extensions, and refuses one cut short', () => {
    expect(readVp8Descriptor(Buffer.from([0x90, 0x80, 0x05, 0x00]))).toMatchObject({ pictureId: 5, pictureIdBits: 7, length: 3 });
    expect(readVp8Descriptor(Buffer.from([0x10, 0x00]))).toMatchObject({ pictureId: undefined, length: 1 });
    expect(readVp8Descriptor(Buffer.from([0x90, 0x80, 0x80]))).toBeUndefined();
    expect(readVp8Descriptor(Buffer.alloc(0))).toBeUndefined();
  });
});

describe('Vp8PictureRewriter', () => {
  it('leaves the first source\'s numbers alone, and makes a second one go on from them at the switch', () => {
    const rewriter = new Vp8PictureRewriter<string>();
    const low = (p: number, t: number): Buffer => rewriter.rewrite('low', vp8(p, t), false)!;
    expect(readVp8Descriptor(low(100, 10))).toMatchObject({ pictureId: 100, tl0PicIdx: 10 });
    expect(readVp8Descriptor(low(101, 11))).toMatchObject({ pictureId: 101, tl0PicIdx: 11 });
    // The high layer numbers its pictures on its own (5000, 77): after the switch they follow 101 and 11.
    const first = rewriter.rewrite('high', vp8(5000, 77, { key: true }), true)!;
    expect(readVp8Descriptor(first)).toMatchObject({ pictureId: 102, tl0PicIdx: 12 });
    expect(readVp8Descriptor(rewriter.rewrite('high', vp8(5000, 77, { start: false }), false)!)).toMatchObject({ pictureId: 102, tl0PicIdx: 12 });
    expect(readVp8Descriptor(rewriter.rewrite('high', vp8(5001, 78), false)!)).toMatchObject({ pictureId: 103, tl0PicIdx: 13 });
    // The VP8 data after the descriptor is untouched.
    expect(first.subarray(6)).toEqual(vp8(5000, 77, { key: true }).subarray(6));
  });

  it('wraps: 15-bit picture ids past 32767 and TL0PICIDX past 255, and never changes the packet it was given', () => {
    const rewriter = new Vp8PictureRewriter<string>();
    rewriter.rewrite('a', vp8(32767, 255), false);
    const input = vp8(10, 3, { key: true });
    const out = rewriter.rewrite('b', input, true)!;
    expect(readVp8Descriptor(out)).toMatchObject({ pictureId: 0, tl0PicIdx: 0 });
    expect(readVp8Descriptor(input)).toMatchObject({ pictureId: 10, tl0PicIdx: 3 });
  });

  it('a late packet of an older picture does not move the count back: the next switch still goes on from the newest', () => {
    const rewriter = new Vp8PictureRewriter<string>();
    rewriter.rewrite('a', vp8(50, 5), false);
    rewriter.rewrite('a', vp8(49, 4), false);
    expect(readVp8Descriptor(rewriter.rewrite('b', vp8(900, 90, { key: true }), true)!)).toMatchObject({ pictureId: 51, tl0PicIdx: 6 });
  });
});
