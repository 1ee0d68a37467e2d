import { describe, expect, it } from 'vitest';
import { PacketHistory } from './PacketHistory.js';
import { readRtp } from './RtpView.js';

function packet(seq: number, payloadBytes: number): Buffer {
  const data = Buffer.alloc(12 + payloadBytes, seq & 0xff);
  data[0] = 0x80;
  data[1] = 96;
  data.writeUInt16BE(seq, 2);
  data.writeUInt32BE(1000 + seq, 4);
  data.writeUInt32BE(0x1234, 8);
  return data;
}

describe('PacketHistory', () => {
  it('keeps a copy of each packet: the received buffer may be reused, the kept packet stays as it came', () => {
    const history = new PacketHistory({ slots: 4, slotBytes: 64 });
    const data = packet(10, 20);
    history.push(readRtp(data)!);
    data.fill(0);

    expect(history.has(10)).toBe(true);
    const kept = history.get(10)!;
    expect(kept.header).toMatchObject({ sequenceNumber: 10, timestamp: 1010, ssrc: 0x1234, payloadType: 96 });
    expect(kept.data.subarray(kept.payloadOffset, kept.end)).toEqual(Buffer.alloc(20, 10));
  });

  it('forgets a packet when one a whole history newer takes its place, and an unknown sequence number is not there', () => {
    const history = new PacketHistory({ slots: 4, slotBytes: 64 });
    history.push(readRtp(packet(1, 10))!);
    history.push(readRtp(packet(5, 10))!);

    expect(history.has(1)).toBe(false);
    expect(history.get(1)).toBeUndefined();
    expect(history.get(5)?.header.sequenceNumber).toBe(5);
    expect(history.has(2)).toBe(false);
  });

  it('keeps a packet longer than a slot in a buffer of its own, until a shorter one takes its place', () => {
    const history = new PacketHistory({ slots: 4, slotBytes: 32 });
    history.push(readRtp(packet(2, 100))!);
    expect(history.get(2)?.end).toBe(112);

    history.push(readRtp(packet(6, 8))!);
    expect(history.get(2)).toBeUndefined();
    expect(history.get(6)?.end).toBe(20);
  });

  it('clear() forgets everything; sizes that are not a power of two are refused', () => {
    const history = new PacketHistory({ slots: 4, slotBytes: 64 });
    history.push(readRtp(packet(3, 10))!);
    history.clear();
    expect(history.has(3)).toBe(false);
    expect(() => new PacketHistory({ slots: 3 })).toThrow(RangeError);
  });
});
