import { describe, expect, it } from 'vitest';
import { FeedbackReader, SendHistory } from './SendHistory.js';
import { readTransportCcFeedback, unwrapReferenceTime, writeTransportCcFeedback } from './transportCc.js';

/** A feedback as libwebrtc writes one, byte by byte (base 65534, 6 packets across the wrap). */
function handMade(): Buffer {
  const b = Buffer.alloc(36);
  b[0] = 0x80 | 15;
  b[1] = 205;
  b.writeUInt16BE(36 / 4 - 1, 2);
  b.writeUInt32BE(0x11111111, 4);
  b.writeUInt32BE(0x22222222, 8);
  b.writeUInt16BE(65534, 12);
  b.writeUInt16BE(20, 14);
  // Reference time 0x000102 (258 x 64 ms), feedback count 7.
  b[16] = 0x00;
  b[17] = 0x01;
  b[18] = 0x02;
  b[19] = 7;
  // Status vector, 2-bit: small, large, not received, small, small, not received, small.
  b.writeUInt16BE(0xc000 | (1 << 12) | (2 << 10) | (0 << 8) | (1 << 6) | (1 << 4) | (0 << 2) | 1, 20);
  // Status vector, 1-bit: fourteen symbols, received, received, then twelve not received.
  b.writeUInt16BE(0x8000 | (1 << 13) | (1 << 12), 22);
  // Deltas: 4 (1 ms), -8 (large: -2 ms), 0, 255, 1, 2, 3.
  b[24] = 4;
  b.writeInt16BE(-8, 25);
  b[27] = 0;
  b[28] = 255;
  b[29] = 1;
  b[30] = 2;
  b[31] = 3;
  return b;
}

describe('transport-cc feedback', () => {
  it('reads status vectors of 1-bit and 2-bit symbols, small and large (negative) deltas, across the sequence wrap', () => {
    const fb = readTransportCcFeedback(handMade(), 0, 36);
    expect(fb).toMatchObject({ sender: 0x11111111, media: 0x22222222, baseSeq: 65534, referenceTime: 258, feedbackCount: 7 });
    const base = 258 * 64_000;
    const expected = [base + 1000, base + 1000 - 2000, undefined, base - 1000, base - 1000 + 63_750, undefined, base + 62_750 + 250, base + 63_000 + 500, base + 63_500 + 750];
    expect(fb!.packets.slice(0, 9).map((p) => p.arrivalUs)).toEqual(expected);
    expect(fb!.packets.map((p) => p.seq).slice(0, 4)).toEqual([65534, 65535, 0, 1]);
    expect(fb!.packets).toHaveLength(20);
    expect(fb!.packets.slice(9).every((p) => p.arrivalUs === undefined)).toBe(true);
  });

  it('reads run length chunks, and what it writes reads back the same (with padding)', () => {
    const arrivals: Array<number | undefined> = [];
    for (let i = 0; i < 300; i++) arrivals.push(i >= 100 && i < 130 ? undefined : 5_000_000 + i * 1250 + (i === 200 ? 70_000 : 0));
    arrivals[250] = 4_000_000;
    const data = writeTransportCcFeedback(9, 10, 100, 3, arrivals);
    expect(data.length % 4).toBe(0);
    const fb = readTransportCcFeedback(data, 0, data.length);
    expect(fb).toBeDefined();
    expect(fb!.packets.map((p) => p.arrivalUs)).toEqual(arrivals);
    expect(fb!.packets[299]!.seq).toBe(399);
  });

  it('hostile or truncated feedback is refused (undefined), never thrown', () => {
    const good = writeTransportCcFeedback(1, 2, 0, 0, [1000, 2000, undefined, 3000, 300_000]);
    expect(readTransportCcFeedback(good, 0, good.length)).toBeDefined();
    for (let cut = 0; cut < good.length; cut++) {
      // Cut anywhere: the header's length no longer fits what is there.
      const part = Buffer.from(good.subarray(0, cut));
      expect(readTransportCcFeedback(part, 0, part.length)).toBeUndefined();
    }
    // Two run-length chunks claiming 16382 packets: more than any sender keeps (a cheap way to make us walk them).
    const runs = Buffer.from(good);
    runs.writeUInt16BE(16382, 14);
    runs.writeUInt16BE(0x1fff, 20);
    runs.writeUInt16BE(0x1fff, 22);
    expect(readTransportCcFeedback(runs, 0, runs.length)).toBeUndefined();
    // A status count the chunks do not reach.
    const counted = Buffer.from(good);
    counted.writeUInt16BE(5000, 14);
    expect(readTransportCcFeedback(counted, 0, counted.length)).toBeUndefined();
    // A reserved status (3) in a run, a run of zero, a reserved 2-bit symbol.
    for (const chunk of [0x6005, 0x2000, 0xf000]) {
      const bad = Buffer.from(good);
      bad.writeUInt16BE(chunk, 20);
      expect(readTransportCcFeedback(bad, 0, bad.length)).toBeUndefined();
    }
    // Padding that says more than there is.
    const padded = Buffer.from(good);
    padded[0] = padded[0]! | 0x20;
    padded[padded.length - 1] = 200;
    expect(readTransportCcFeedback(padded, 0, padded.length)).toBeUndefined();
    // Zero packets, an end beyond the buffer, a negative start.
    const empty = Buffer.from(good);
    empty.writeUInt16BE(0, 14);
    expect(readTransportCcFeedback(empty, 0, empty.length)).toBeUndefined();
    expect(readTransportCcFeedback(good, 0, good.length + 4)).toBeUndefined();
    expect(readTransportCcFeedback(good, -4, good.length)).toBeUndefined();
    // Random bytes behind a valid header: never a throw.
    let seed = 1;
    for (let i = 0; i < 2000; i++) {
      const junk = Buffer.alloc(20 + (i % 60));
      for (let k = 0; k < junk.length; k++) {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        junk[k] = seed & 0xff;
      }
      junk[0] = 0x8f;
      junk[1] = 205;
      expect(() => readTransportCcFeedback(junk, 0, junk.length)).not.toThrow();
    }
  });

  it('the reference time unwraps across its 24-bit wrap, and back for a reordered feedback', () => {
    expect(unwrapReferenceTime(5, undefined)).toBe(5);
    expect(unwrapReferenceTime(0x000002, 0xfffffe)).toBe(0x1000002);
    expect(unwrapReferenceTime(0xfffffe, 0x1000002)).toBe(0xfffffe);
    expect(unwrapReferenceTime(100, 90)).toBe(100);
  });

  it('FeedbackReader joins send times to arrivals, unwraps sequence numbers and reports each packet once', () => {
    const history = new SendHistory();
    // Start near the wrap.
    for (let i = 0; i < 65530; i++) history.next(0, 100);
    const sent: number[] = [];
    for (let i = 0; i < 10; i++) sent.push(history.next(1000 + i * 10, 1000 + i));
    expect(sent[6]).toBe(0);
    const reader = new FeedbackReader(history);
    const one = writeTransportCcFeedback(1, 2, 65530, 0, [10_000, 20_000, undefined, 40_000]);
    const first = reader.read(readTransportCcFeedback(one, 0, one.length)!);
    expect(first).toEqual([
      { seq: 65530, sendTime: 1000, size: 1000, arrival: 10 },
      { seq: 65531, sendTime: 1010, size: 1001, arrival: 20 },
      { seq: 65532, sendTime: 1020, size: 1002, arrival: undefined },
      { seq: 65533, sendTime: 1030, size: 1003, arrival: 40 },
    ]);
    // The next one repeats 65533 and reports the lost one late; across the wrap.
    const fb = writeTransportCcFeedback(1, 2, 65532, 1, [30_000, 40_000, 50_000, 60_000, 70_000, 80_000, 90_000]);
    const second = reader.read(readTransportCcFeedback(fb, 0, fb.length)!);
    expect(second.map((r) => r.seq)).toEqual([65532, 65534, 65535, 65536, 65537, 65538]);
    expect(second[4]).toEqual({ seq: 65537, sendTime: 1070, size: 1007, arrival: 80 });
  });
});
