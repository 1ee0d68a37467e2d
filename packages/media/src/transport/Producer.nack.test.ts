import { describe, expect, it } from 'vitest';
import { Producer } from './Producer.js';
import { readRtp } from './RtpView.js';

/* A producer's NACKs to its sender on the TypeScript path (the native core's: PacketCore.test.ts). */

function packet(seq: number): Buffer {
  const buf = Buffer.alloc(12 + 20);
  buf[0] = 0x80;
  buf[1] = 96;
  buf.writeUInt16BE(seq, 2);
  buf.writeUInt32BE(seq * 3000, 4);
  buf.writeUInt32BE(0x1234, 8);
  return buf;
}

function videoProducer(nacks: number[][]): Producer {
  return new Producer(
    {
      kind: 'video',
      mid: '0',
      codec: { mimeType: 'video/VP8', payloadType: 96, clockRate: 90000, rtcpFeedback: ['nack', 'nack pli'] },
      ssrc: 0x1234,
      rtxSsrc: undefined,
      rtxPayloadType: undefined,
      cname: undefined,
    },
    { sendNack: (_ssrc, lost) => nacks.push([...lost]), sendKeyframeRequest: () => undefined, producerClosed: () => undefined },
  );
}

describe('Producer NACKs', () => {
  it('a packet still missing is NACKed again every 250 ms, four times in all; one that came is not asked for again', () => {
    const nacks: number[][] = [];
    const producer = videoProducer(nacks);
    let now = 1000;
    const receive = (seq: number): void => producer.receive(readRtp(packet(seq))!, now, false);
    receive(100);
    receive(103); // 101 and 102 lost
    expect(nacks).toEqual([[101, 102]]);
    now += 100;
    receive(102); // late (a retransmission)
    let seq = 104;
    for (; now < 3000; now += 40) receive(seq++);
    expect(nacks).toEqual([[101, 102], [101], [101], [101]]);
    expect(producer.stats).toMatchObject({ nacksSent: 4, nackedPackets: 5 });
    producer.close();
  });
});
