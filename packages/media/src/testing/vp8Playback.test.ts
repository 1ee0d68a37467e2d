import { RtpHeader, RtpPacket } from 'werift';
import { describe, expect, it } from 'vitest';
import { vp8Playback } from './vp8Playback.js';

/** One VP8 packet: S bit on the first packet of a frame, P bit clear on keyframes, marker on the last. */
function packet(seq: number, frame: number, part: 'first' | 'middle' | 'last' | 'only', keyframe = false): RtpPacket {
  const start = part === 'first' || part === 'only';
  const payload = Buffer.from([start ? 0x10 : 0x00, keyframe ? 0x00 : 0x01, 0, 0]);
  return new RtpPacket(new RtpHeader({ sequenceNumber: seq & 0xffff, timestamp: frame * 3000, marker: part === 'last' || part === 'only', payloadType: 96, ssrc: 1 }), payload);
}

describe('vp8Playback', () => {
  it('a lost packet breaks the picture until the next keyframe; its retransmission mends it; duplicates are counted', () => {
    // Frames 0-5 of two packets each (seq 65530 on: the numbers wrap), keyframes at 0 and 4.
    const frames = [0, 1, 2, 3, 4, 5].flatMap((f) => [packet(65530 + 2 * f, f, 'first', f % 4 === 0), packet(65531 + 2 * f, f, 'last', f % 4 === 0)]);
    const lost = frames.filter((p) => p.header.sequenceNumber !== ((65530 + 2 * 1 + 1) & 0xffff));
    expect(vp8Playback(lost)).toEqual({ framesSeen: 6, decodable: 3, longestFreezeMs: 133, duplicates: 0 });
    const resent = [...lost, frames[3]!, frames[3]!];
    expect(vp8Playback(resent)).toEqual({ framesSeen: 6, decodable: 6, longestFreezeMs: 33, duplicates: 1 });
  });

  it('counts from the first keyframe, and a frame lost whole breaks the chain too', () => {
    const stream = [packet(10, 0, 'only'), packet(11, 1, 'only', true), packet(12, 2, 'only'), packet(14, 4, 'only'), packet(15, 5, 'only', true)];
    expect(vp8Playback(stream)).toEqual({ framesSeen: 4, decodable: 3, longestFreezeMs: 100, duplicates: 0 });
  });
});
