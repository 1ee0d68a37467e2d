import { describe, expect, it } from 'vitest';
import { RtpHeader, RtpPacket } from 'werift';
import { RetransmissionBuffer } from './RetransmissionBuffer.js';

function packet(seq: number): RtpPacket {
  return new RtpPacket(new RtpHeader({ sequenceNumber: seq, timestamp: seq * 90, ssrc: 1234, payloadType: 96 }), Buffer.from([seq & 0xff]));
}

/** Pushes `count` consecutive packets from `firstSeq`, one every `spacingMs`; returns the time of the last. */
function pushRun(buffer: RetransmissionBuffer, firstSeq: number, count: number, spacingMs: number, startAt = 0): number {
  let now = startAt;
  for (let i = 0; i < count; i++) {
    now = startAt + i * spacingMs;
    buffer.push(packet((firstSeq + i) & 0xffff), now);
  }
  return now;
}

describe('RetransmissionBuffer', () => {
  it('get() returns the packet pushed under a sequence number', () => {
    const buffer = new RetransmissionBuffer();
    const p = packet(42);

    buffer.push(p, 0);

    expect(buffer.get(42)).toBe(p);
  });

  it('get() returns undefined for a sequence number never pushed', () => {
    const buffer = new RetransmissionBuffer();
    buffer.push(packet(42), 0);

    expect(buffer.get(43)).toBeUndefined();
    expect(buffer.get(42 + 512)).toBeUndefined();
  });

  it('holds every packet of the last retentionMs at 1000 packets/s, growing the ring beyond its initial size', () => {
    const buffer = new RetransmissionBuffer({ retentionMs: 1000 });
    const initial = buffer.capacity;

    const last = pushRun(buffer, 1000, 1500, 1);

    expect(buffer.capacity).toBeGreaterThan(initial);
    expect(buffer.capacity).toBeGreaterThanOrEqual(1000);
    for (let age = 0; age < 1000; age++) {
      const seq = 1000 + last - age;
      expect(buffer.get(seq)?.header.sequenceNumber, `packet ${age} ms old`).toBe(seq);
    }
  });

  it('still holds the packet from 900 ms ago after 1500 packets, far more than 128', () => {
    const buffer = new RetransmissionBuffer({ retentionMs: 1000 });

    const last = pushRun(buffer, 0, 1500, 1);

    const seq900msAgo = last - 900;
    expect(buffer.get(seq900msAgo)?.header.sequenceNumber).toBe(seq900msAgo);
  });

  it('does not grow when the packet it overwrites is older than retentionMs', () => {
    const buffer = new RetransmissionBuffer({ retentionMs: 1000, initialSize: 512 });

    pushRun(buffer, 0, 1500, 10); // 100 packets/s: 512 slots span 5 s

    expect(buffer.capacity).toBe(512);
  });

  it('get() returns undefined for a sequence number that was overwritten', () => {
    const buffer = new RetransmissionBuffer({ retentionMs: 1000, initialSize: 512 });

    pushRun(buffer, 0, 1500, 10);

    expect(buffer.capacity).toBe(512);
    expect(buffer.get(0)).toBeUndefined();
    expect(buffer.get(1499 - 512)).toBeUndefined();
    expect(buffer.get(1499 - 511)?.header.sequenceNumber).toBe(1499 - 511);
  });

  it('never grows beyond maxSize, overwriting the oldest packets instead', () => {
    const buffer = new RetransmissionBuffer({ retentionMs: 10_000, initialSize: 16, maxSize: 64 });

    pushRun(buffer, 0, 200, 1);

    expect(buffer.capacity).toBe(64);
    expect(buffer.get(199 - 64)).toBeUndefined();
    expect(buffer.get(199 - 63)?.header.sequenceNumber).toBe(199 - 63);
  });

  it('keeps packets across the sequence number wrap from 65535 to 0', () => {
    const buffer = new RetransmissionBuffer({ initialSize: 16 });

    pushRun(buffer, 65530, 12, 1); // 65530..65535, 0..5

    for (const seq of [65530, 65531, 65535, 0, 1, 5]) {
      expect(buffer.get(seq)?.header.sequenceNumber).toBe(seq);
    }
    expect(buffer.get(6)).toBeUndefined();
  });

  it('keeps packets across the wrap when it grows in the middle of it', () => {
    const buffer = new RetransmissionBuffer({ retentionMs: 1000, initialSize: 16 });

    const last = pushRun(buffer, 65520, 40, 1); // wraps after 16 packets, grows at the 17th

    expect(buffer.capacity).toBeGreaterThan(16);
    for (let i = 0; i <= last; i++) {
      const seq = (65520 + i) & 0xffff;
      expect(buffer.get(seq)?.header.sequenceNumber).toBe(seq);
    }
  });

  it('a duplicate push replaces the held packet without growing', () => {
    const buffer = new RetransmissionBuffer({ initialSize: 16 });
    const first = packet(7);
    const again = packet(7);

    buffer.push(first, 0);
    buffer.push(again, 1);

    expect(buffer.capacity).toBe(16);
    expect(buffer.get(7)).toBe(again);
  });

  it('clear() forgets every packet', () => {
    const buffer = new RetransmissionBuffer();
    pushRun(buffer, 0, 10, 1);

    buffer.clear();

    expect(buffer.get(0)).toBeUndefined();
    expect(buffer.get(9)).toBeUndefined();
  });

  it('rejects sizes that are not powers of two with RangeError', () => {
    expect(() => new RetransmissionBuffer({ initialSize: 500 })).toThrow(RangeError);
    expect(() => new RetransmissionBuffer({ maxSize: 1000 })).toThrow(RangeError);
  });
});
