import { describe, expect, it } from 'vitest';
import { payloadOf, readRtp } from './RtpView.js';
import { primaryOf, readRed, withBlockPayloadType } from './red.js';

/** A RED payload (RFC 2198): one redundant Opus block 960 samples older ("aaa"), then the primary ("bbbb"), both payload type 111. */
const RED_PAYLOAD = Buffer.from([0x80 | 111, (960 >>> 6) & 0xff, ((960 & 0x3f) << 2) | 0, 3, 111, 0x61, 0x61, 0x61, 0x62, 0x62, 0x62, 0x62]);

function redPacket(payload: Buffer): Buffer {
  // Version 2, an extension (one-byte header, mid "0"), payload type 63, seq 7, ts 48000, SSRC 5.
  const header = Buffer.from([0x90, 63, 0, 7, 0, 0, 0xbb, 0x80, 0, 0, 0, 5, 0xbe, 0xde, 0, 1, 0x40, 0x30, 0, 0]);
  return Buffer.concat([header, payload]);
}

describe('RED (RFC 2198)', () => {
  it('reads the blocks, primary last, with their payload types and timestamp offsets', () => {
    const blocks = readRed(RED_PAYLOAD)!;
    expect(blocks.map((b) => [b.payloadType, b.timestampOffset, b.data.toString()])).toEqual([
      [111, 960, 'aaa'],
      [111, 0, 'bbbb'],
    ]);
    expect(readRed(Buffer.from([111, 1, 2]))!.map((b) => b.data.length)).toEqual([2]);
  });

  it('refuses a payload whose headers or lengths run past its end', () => {
    expect(readRed(Buffer.alloc(0))).toBeUndefined();
    expect(readRed(Buffer.from([0x80 | 111, 0, 0]))).toBeUndefined();
    expect(readRed(Buffer.from([0x80 | 111, 0, 0, 50, 111, 1]))).toBeUndefined();
  });

  it('the primary block becomes a packet of its own, header kept, extensions dropped', () => {
    const packet = readRtp(redPacket(RED_PAYLOAD))!;
    const primary = primaryOf(packet)!;
    expect(payloadOf(primary).toString()).toBe('bbbb');
    expect(primary.header).toEqual(packet.header);
    expect(primary.data[0]! & 0x10).toBe(0);
    expect(primaryOf(readRtp(redPacket(Buffer.from([0x80 | 111, 0, 0, 50, 111])))!)).toBeUndefined();
  });

  it('renumbers every block for a receiver whose Opus has another payload type, and leaves a packet alone that needs nothing', () => {
    const packet = readRtp(redPacket(RED_PAYLOAD))!;
    expect(withBlockPayloadType(packet, 111)).toBe(packet);
    const renumbered = readRed(payloadOf(withBlockPayloadType(packet, 100)!))!;
    expect(renumbered.map((b) => [b.payloadType, b.timestampOffset, b.data.toString()])).toEqual([
      [100, 960, 'aaa'],
      [100, 0, 'bbbb'],
    ]);
  });
});
