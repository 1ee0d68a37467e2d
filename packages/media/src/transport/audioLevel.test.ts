import { describe, expect, it } from 'vitest';
import { AudioLevelMeter, linearLevel, readAudioLevel } from './audioLevel.js';
import { readRtp } from './RtpView.js';

/** An RTP packet with one-byte header extensions (RFC 8285): mid "0" at id 4, then the level byte at id 1. */
function packetWithLevel(levelByte: number): Buffer {
  const header = Buffer.from([0x90, 111, 0, 1, 0, 0, 0, 160, 0, 0, 0x0d, 0x05]);
  const extension = Buffer.from([0xbe, 0xde, 0, 1, 0x40, 0x30, 0x10, levelByte]);
  return Buffer.concat([header, extension, Buffer.from([0xfc, 0xff, 0xfe])]);
}

describe('audio level extension (RFC 6464)', () => {
  it('reads the level and the voice flag of a packet, beside another extension', () => {
    const view = readRtp(packetWithLevel(0x80 | 25))!;
    expect(readAudioLevel(view, 1)).toEqual({ dBov: 25, voice: true });
    expect(readAudioLevel(readRtp(packetWithLevel(127))!, 1)).toEqual({ dBov: 127, voice: false });
    expect(readAudioLevel(view, 2)).toBeUndefined();
  });

  it('gives nothing for a packet without extensions', () => {
    const plain = readRtp(Buffer.from([0x80, 111, 0, 1, 0, 0, 0, 160, 0, 0, 0x0d, 0x05, 1, 2, 3]))!;
    expect(readAudioLevel(plain, 1)).toBeUndefined();
  });

  it('maps -dBov to a linear level: 0 dBov is 1, -20 dBov is 0.1, 127 is silence', () => {
    expect(linearLevel(0)).toBe(1);
    expect(linearLevel(20)).toBeCloseTo(0.1, 10);
    expect(linearLevel(127)).toBe(0);
  });

  it('a meter reports the loudest packet since its last read, and silence for a period without packets', () => {
    const meter = new AudioLevelMeter();
    meter.push({ dBov: 60, voice: false });
    meter.push({ dBov: 20, voice: true });
    meter.push({ dBov: 127, voice: false });
    expect(meter.read()).toEqual({ level: linearLevel(20), packets: 3, voicePackets: 1 });
    expect(meter.read()).toEqual({ level: 0, packets: 0, voicePackets: 0 });
  });
});
