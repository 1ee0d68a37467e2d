import { describe, expect, it } from 'vitest';
import { writeTransportCcFeedback } from '../bwe/transportCc.js';
import { compactNtp, readRtcp, writeFir, writeNack, writePli, writeRemb, writeRr, writeSr, type ReportBlock } from './rtcp.js';

const block: ReportBlock = { ssrc: 0xdeadbeef, fractionLost: 25, packetsLost: -3, highestSeq: 0x1_0005, jitter: 42, lsr: 0x12345678, dlsr: 65536 };

describe('RTCP', () => {
  it('SR, RR, NACK, PLI, FIR and REMB in one compound packet read back as written', () => {
    const compound = Buffer.concat([
      writeSr(1, 100, 200, 3000, 10, 1000, [block]),
      writeRr(2, [block]),
      writeNack(3, 4, [65535, 0, 1, 5, 16, 40]),
      writePli(5, 6),
      writeFir(7, 8, 9),
      writeRemb(9, 1_500_000, [10, 11]),
    ]);
    const [sr, rr, nack, pli, fir, remb] = readRtcp(compound);
    expect(sr).toEqual({ type: 'sr', ssrc: 1, ntpSec: 100, ntpFrac: 200, rtpTimestamp: 3000, packets: 10, octets: 1000, reports: [block] });
    expect(rr).toEqual({ type: 'rr', ssrc: 2, reports: [block] });
    expect(nack).toEqual({ type: 'nack', sender: 3, media: 4, lost: [65535, 0, 1, 5, 16, 40] });
    expect(pli).toEqual({ type: 'pli', sender: 5, media: 6 });
    expect(fir).toEqual({ type: 'fir', sender: 7, media: [8] });
    expect(remb).toMatchObject({ type: 'remb', sender: 9, ssrcs: [10, 11] });
    // 18-bit mantissa: exact to within one step of the exponent.
    expect(Math.abs((remb as { bitrate: number }).bitrate - 1_500_000)).toBeLessThan(16);
  });

  it('transport-cc feedback (RTPFB FMT 15) is read beside the others; a malformed one is there as undefined, to be counted', () => {
    const feedback = writeTransportCcFeedback(1, 2, 100, 0, [64_000, undefined, 65_000]);
    const broken = Buffer.from(feedback);
    broken.writeUInt16BE(0x6001, 20);
    const [fb, nack, bad] = readRtcp(Buffer.concat([feedback, writeNack(3, 4, [7]), broken]));
    expect(fb).toMatchObject({ type: 'transport-cc', feedback: { baseSeq: 100, packets: [{ seq: 100, arrivalUs: 64_000 }, { seq: 101, arrivalUs: undefined }, { seq: 102, arrivalUs: 65_000 }] } });
    expect(nack).toEqual({ type: 'nack', sender: 3, media: 4, lost: [7] });
    expect(bad).toEqual({ type: 'transport-cc', feedback: undefined });
  });

  it('a truncated or garbled compound packet gives what fits before the damage and never throws', () => {
    const compound = Buffer.concat([writePli(1, 2), writeRr(3, [block])]);
    expect(readRtcp(compound.subarray(0, compound.length - 4)).map((m) => m.type)).toEqual(['pli']);
    for (let i = 0; i < 500; i++) {
      const junk = Buffer.from(compound);
      junk[Math.floor(Math.random() * junk.length)] = Math.floor(Math.random() * 256);
      expect(() => readRtcp(junk)).not.toThrow();
    }
  });

  it('compactNtp takes the middle 32 bits of the NTP timestamp', () => {
    expect(compactNtp(0x12345678, 0x9abcdef0)).toBe(0x56789abc);
  });
});
