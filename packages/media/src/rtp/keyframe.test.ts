import { describe, expect, it } from 'vitest';
import { isH264Keyframe, isKeyframe, isVp8Keyframe } from './keyframe.js';

/*
 * VP8 payload descriptor (RFC 7741 section 4.2):
 *       0 1 2 3 4 5 6 7
 *      +-+-+-+-+-+-+-+-+
 *      |X|R|N|S|R| PID | (REQUIRED)
 *      +-+-+-+-+-+-+-+-+
 * X:   |I|L|T|K| RSV   | (OPTIONAL)
 *      +-+-+-+-+-+-+-+-+
 * I:   |M| PictureID   | (OPTIONAL, M set: 15 bit picture id in two bytes)
 *      +-+-+-+-+-+-+-+-+
 * L:   |   TL0PICIDX   | (OPTIONAL)
 *      +-+-+-+-+-+-+-+-+
 * T/K: |TID|Y| KEYIDX  | (OPTIONAL)
 *      +-+-+-+-+-+-+-+-+
 * followed by the VP8 payload header, whose lowest bit P is 0 for a keyframe.
 */
const X = 0x80;
const S = 0x10;
const I = 0x80;
const L = 0x40;
const T = 0x20;
const K = 0x10;
const VP8_KEY_HEADER = [0x50, 0x2a, 0x00, 0x9d, 0x01, 0x2a]; // P = 0, then the start code
const VP8_DELTA_HEADER = [0x51, 0x2a, 0x00];

const vp8 = (...bytes: number[]): Uint8Array => Uint8Array.from(bytes);

/*
 * H.264 NAL unit header (RFC 6184 section 1.3): |F|NRI|  Type   |.
 * FU-A (section 5.8): indicator with type 28, then |S|E|R|  Type   |.
 * STAP-A (section 5.7.1): type 24, then (16 bit size, NAL unit) repeated.
 */
const NON_IDR = 0x41;
const IDR = 0x65;
const SPS = 0x67;
const PPS = 0x68;
const FU_A = 0x7c;
const STAP_A = 0x78;

const h264 = (...bytes: number[]): Uint8Array => Uint8Array.from(bytes);

function stapA(...units: number[][]): Uint8Array {
  const bytes = [STAP_A];
  for (const unit of units) bytes.push(unit.length >> 8, unit.length & 0xff, ...unit);
  return Uint8Array.from(bytes);
}

describe('isVp8Keyframe', () => {
  it('detects a keyframe without the extended descriptor', () => {
    expect(isVp8Keyframe(vp8(S, ...VP8_KEY_HEADER))).toBe(true);
  });

  it('detects a delta frame without the extended descriptor', () => {
    expect(isVp8Keyframe(vp8(S, ...VP8_DELTA_HEADER))).toBe(false);
  });

  it('detects a keyframe with a 7 bit picture id', () => {
    expect(isVp8Keyframe(vp8(X | S, I, 0x15, ...VP8_KEY_HEADER))).toBe(true);
  });

  it('detects a delta frame with a 7 bit picture id', () => {
    expect(isVp8Keyframe(vp8(X | S, I, 0x15, ...VP8_DELTA_HEADER))).toBe(false);
  });

  it('detects a keyframe with a 15 bit picture id', () => {
    // The second picture id byte is odd, so reading it as the payload header would say "delta".
    expect(isVp8Keyframe(vp8(X | S, I, 0x80 | 0x12, 0x35, ...VP8_KEY_HEADER))).toBe(true);
  });

  it('detects a delta frame with a 15 bit picture id', () => {
    // The second picture id byte is even, so reading it as the payload header would say "key".
    expect(isVp8Keyframe(vp8(X | S, I, 0x80 | 0x12, 0x34, ...VP8_DELTA_HEADER))).toBe(false);
  });

  it('skips TL0PICIDX and TID/KEYIDX when present', () => {
    expect(isVp8Keyframe(vp8(X | S, I | L | T | K, 0x80 | 0x01, 0x02, 0x03, 0x41, ...VP8_KEY_HEADER))).toBe(true);
    expect(isVp8Keyframe(vp8(X | S, I | L | T | K, 0x80 | 0x01, 0x02, 0x02, 0x40, ...VP8_DELTA_HEADER))).toBe(false);
    expect(isVp8Keyframe(vp8(X | S, L, 0x01, ...VP8_KEY_HEADER))).toBe(true);
    expect(isVp8Keyframe(vp8(X | S, K, 0x00, ...VP8_DELTA_HEADER))).toBe(false);
  });

  it('an extended descriptor with no optional field goes straight to the payload header', () => {
    expect(isVp8Keyframe(vp8(X | S, 0x00, ...VP8_KEY_HEADER))).toBe(true);
    expect(isVp8Keyframe(vp8(X | S, 0x00, ...VP8_DELTA_HEADER))).toBe(false);
  });

  it('a packet that does not start a partition is not a keyframe', () => {
    expect(isVp8Keyframe(vp8(0x00, ...VP8_KEY_HEADER))).toBe(false);
  });

  it('the start of a partition other than 0 is not a keyframe', () => {
    expect(isVp8Keyframe(vp8(S | 0x01, ...VP8_KEY_HEADER))).toBe(false);
  });

  it('a truncated packet is not a keyframe', () => {
    expect(isVp8Keyframe(vp8())).toBe(false);
    expect(isVp8Keyframe(vp8(S))).toBe(false);
    expect(isVp8Keyframe(vp8(X | S))).toBe(false);
    expect(isVp8Keyframe(vp8(X | S, I, 0x80 | 0x12, 0x34))).toBe(false);
  });
});

describe('isH264Keyframe', () => {
  it('detects a single IDR slice', () => {
    expect(isH264Keyframe(h264(IDR, 0x88, 0x84))).toBe(true);
  });

  it('detects a single SPS', () => {
    expect(isH264Keyframe(h264(SPS, 0x42, 0xe0, 0x1f))).toBe(true);
  });

  it('a non-IDR slice is not a keyframe', () => {
    expect(isH264Keyframe(h264(NON_IDR, 0x9a, 0x02))).toBe(false);
  });

  it('a PPS alone is not a keyframe', () => {
    expect(isH264Keyframe(h264(PPS, 0xce, 0x3c, 0x80))).toBe(false);
  });

  it('detects a STAP-A that carries SPS, PPS and an IDR slice', () => {
    expect(isH264Keyframe(stapA([SPS, 0x42, 0xe0, 0x1f], [PPS, 0xce, 0x3c, 0x80], [IDR, 0x88]))).toBe(true);
  });

  it('detects a STAP-A whose IDR slice is not the first unit', () => {
    expect(isH264Keyframe(stapA([0x06, 0x05, 0x01], [IDR, 0x88]))).toBe(true);
  });

  it('a STAP-A of non-IDR units is not a keyframe', () => {
    expect(isH264Keyframe(stapA([0x06, 0x05, 0x01], [PPS, 0xce], [NON_IDR, 0x9a]))).toBe(false);
  });

  it('detects the start fragment of an FU-A IDR slice', () => {
    expect(isH264Keyframe(h264(FU_A, 0x80 | 5, 0x88, 0x84))).toBe(true);
  });

  it('a non-start fragment of an FU-A IDR slice is not a keyframe', () => {
    expect(isH264Keyframe(h264(FU_A, 5, 0x11, 0x22))).toBe(false);
    expect(isH264Keyframe(h264(FU_A, 0x40 | 5, 0x11, 0x22))).toBe(false);
  });

  it('the start fragment of an FU-A non-IDR slice is not a keyframe', () => {
    expect(isH264Keyframe(h264(FU_A, 0x80 | 1, 0x9a))).toBe(false);
  });

  it('a truncated packet is not a keyframe', () => {
    expect(isH264Keyframe(h264())).toBe(false);
    expect(isH264Keyframe(h264(FU_A))).toBe(false);
    expect(isH264Keyframe(h264(STAP_A, 0x00))).toBe(false);
  });
});

describe('isKeyframe', () => {
  it('dispatches on the mime type, ignoring case', () => {
    expect(isKeyframe('video/VP8', vp8(S, ...VP8_KEY_HEADER))).toBe(true);
    expect(isKeyframe('VIDEO/H264', h264(IDR, 0x88))).toBe(true);
    expect(isKeyframe('video/H264', h264(NON_IDR, 0x9a))).toBe(false);
  });

  it('returns false for codecs it does not know', () => {
    expect(isKeyframe('video/VP9', vp8(S, ...VP8_KEY_HEADER))).toBe(false);
    expect(isKeyframe('audio/opus', h264(IDR))).toBe(false);
  });
});
