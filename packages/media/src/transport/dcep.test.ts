import { describe, expect, it } from 'vitest';
import { readDcep, writeDataChannelAck, writeDataChannelOpen } from './dcep.js';

/** A DATA_CHANNEL_OPEN laid out by hand from RFC 8832 §5.1: reliable, ordered, priority 256 (what browsers call 'low'), label 'chat', protocol 'v1'. */
const CHROMIUM_OPEN = Buffer.from('03000100000000000004000263686174' + '7631', 'hex');

describe('DCEP (RFC 8832)', () => {
  it('reads a DATA_CHANNEL_OPEN: label, protocol, priority, a reliable ordered channel', () => {
    expect(readDcep(CHROMIUM_OPEN)).toEqual({ type: 'open', ordered: true, priority: 256, label: 'chat', protocol: 'v1' });
  });

  it('writes an OPEN that reads back the same, for each channel type', () => {
    for (const reliability of [{ ordered: true }, { ordered: false }, { ordered: true, maxRetransmits: 3 }, { ordered: false, maxRetransmits: 0 }, { ordered: true, maxPacketLifeTime: 1500 }, { ordered: false, maxPacketLifeTime: 65535 }]) {
      const written = writeDataChannelOpen('étiquette', 'proto', reliability);

      expect(readDcep(written)).toEqual({ type: 'open', priority: 0, label: 'étiquette', protocol: 'proto', ...reliability });
    }
  });

  it('writes the channel type and reliability parameter where RFC 8832 puts them', () => {
    const open = writeDataChannelOpen('', '', { ordered: false, maxRetransmits: 7 });

    expect(open.toString('hex')).toBe('038100000000000700000000');
  });

  it('reads an ACK, and an empty label and protocol', () => {
    expect(readDcep(writeDataChannelAck())).toEqual({ type: 'ack' });
    expect(readDcep(writeDataChannelOpen('', '', { ordered: true }))).toMatchObject({ label: '', protocol: '' });
  });

  it('a truncated, overlong or unknown message reads as undefined, without throwing', () => {
    const open = writeDataChannelOpen('label', 'protocol', { ordered: true });
    const lying = Buffer.from(open);
    lying.writeUInt16BE(0xffff, 8); // a label longer than the message
    const unknownType = Buffer.from(open);
    unknownType[1] = 0x03;
    const unknownMessage = Buffer.from(open);
    unknownMessage[0] = 0x07;

    for (let length = 0; length < open.length; length++) expect(readDcep(open.subarray(0, length))).toBeUndefined();
    expect(readDcep(lying)).toBeUndefined();
    expect(readDcep(unknownType)).toBeUndefined();
    expect(readDcep(unknownMessage)).toBeUndefined();
    expect(readDcep(Buffer.alloc(0))).toBeUndefined();
  });

  it('random bytes never throw', () => {
    for (let i = 0; i < 2000; i++) {
      const data = Buffer.from(Array.from({ length: Math.floor(Math.random() * 40) }, () => Math.floor(Math.random() * 256)));
      if (i % 2 === 0 && data.length > 0) data[0] = 0x03;
      expect(() => readDcep(data)).not.toThrow();
    }
  });
});
