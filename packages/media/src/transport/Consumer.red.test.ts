import { describe, expect, it } from 'vitest';
import { Consumer, CONSUMER_RED_PAYLOAD_TYPE, type ConsumerLink } from './Consumer.js';
import { Producer, type ProducerLink } from './Producer.js';
import { readRed } from './red.js';
import { payloadOf, readRtp, type RtpView } from './RtpView.js';

const OPUS = { mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2, rtcpFeedback: [] };

/** A RED packet of the sender (payload type 63): a redundant block ("old") 960 samples back, then the primary ("new"). */
function redPacket(seq: number): RtpView {
  const header = Buffer.from([0x80, 63, seq >> 8, seq & 0xff, 0, 0, 0xbb, 0x80, 0, 0, 0, 9]);
  const payload = Buffer.from([0x80 | 111, (960 >>> 6) & 0xff, (960 & 0x3f) << 2, 3, 111, ...Buffer.from('old'), ...Buffer.from('new')]);
  return readRtp(Buffer.concat([header, payload]))!;
}

function setup(): { producer: Producer; sent: Array<{ payloadType: number; payload: Buffer }>; link: ConsumerLink } {
  const producerLink: ProducerLink = { sendNack: () => undefined, sendKeyframeRequest: () => undefined, producerClosed: () => undefined };
  const producer = new Producer({ kind: 'audio', mid: '0', codec: OPUS, ssrc: 9, rtxSsrc: undefined, rtxPayloadType: undefined, cname: 'c', redPayloadType: 63 }, producerLink);
  const sent: Array<{ payloadType: number; payload: Buffer }> = [];
  const link: ConsumerLink = {
    canSend: () => true,
    sendRtp: (packet, payloadType) => sent.push({ payloadType, payload: Buffer.from(payloadOf(packet)) }),
    consumerClosed: () => undefined,
  };
  return { producer, sent, link };
}

describe('Consumer and RED (RFC 2198)', () => {
  it('offers RED when its producer\'s sender may send it; a subscriber that accepted it gets the RED packets as they are, under our RED payload type', () => {
    const { producer, sent, link } = setup();
    const consumer = new Consumer(producer, '0', link);
    expect(consumer.redPayloadType).toBe(CONSUMER_RED_PAYLOAD_TYPE);
    consumer.setRed(true);
    producer.receive(redPacket(1), 0, false);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.payloadType).toBe(CONSUMER_RED_PAYLOAD_TYPE);
    expect(readRed(sent[0]!.payload)!.map((b) => b.data.toString())).toEqual(['old', 'new']);
    expect(consumer.stats.redForwarded).toBe(1);
    producer.close();
  });

  it('a subscriber that did not accept RED gets the primary block alone, as Opus', () => {
    const { producer, sent, link } = setup();
    const consumer = new Consumer(producer, '0', link);
    consumer.setRed(false);
    producer.receive(redPacket(1), 0, false);
    expect(sent).toEqual([{ payloadType: 111, payload: Buffer.from('new') }]);
    expect(consumer.stats.redPrimaryOnly).toBe(1);
    producer.close();
  });

  it('plain Opus of the same sender goes as Opus to both, and a malformed RED packet is dropped and counted', () => {
    const { producer, sent, link } = setup();
    const withRed = new Consumer(producer, '0', link);
    withRed.setRed(true);
    const opus = readRtp(Buffer.from([0x80, 111, 0, 2, 0, 0, 0xbb, 0x80, 0, 0, 0, 9, 0xfc, 1, 2]))!;
    producer.receive(opus, 0, false);
    expect(sent).toEqual([{ payloadType: 111, payload: Buffer.from([0xfc, 1, 2]) }]);
    const broken = readRtp(Buffer.from([0x80, 63, 0, 3, 0, 0, 0xbb, 0x80, 0, 0, 0, 9, 0x80 | 111, 0, 0, 200, 111]))!;
    producer.receive(broken, 0, false);
    expect(sent).toHaveLength(1);
    expect(withRed.stats.droppedMalformedRed).toBe(1);
    producer.close();
  });

  it('a producer without RED offers none', () => {
    const producerLink: ProducerLink = { sendNack: () => undefined, sendKeyframeRequest: () => undefined, producerClosed: () => undefined };
    const producer = new Producer({ kind: 'audio', mid: '0', codec: OPUS, ssrc: 9, rtxSsrc: undefined, rtxPayloadType: undefined, cname: 'c' }, producerLink);
    const consumer = new Consumer(producer, '0', setup().link);
    consumer.setRed(true);
    expect(consumer.redPayloadType).toBeUndefined();
    expect(consumer.receivesRed).toBe(false);
    producer.close();
  });
});
