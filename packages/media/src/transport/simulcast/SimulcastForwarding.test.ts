import { describe, expect, it } from 'vitest';
import { Consumer, type ConsumerLink } from '../Consumer.js';
import { LAYER_QUIET_MS, LAYER_RETRY_MS, Producer, type ProducerLink } from '../Producer.js';
import { payloadOf, readRtp, type RtpView } from '../RtpView.js';
import type { NegotiatedCodec } from '../transportSdp.js';
import { readVp8Descriptor } from './vp8Descriptor.js';

const VP8: NegotiatedCodec = { mimeType: 'video/VP8', payloadType: 96, clockRate: 90000, rtcpFeedback: ['nack', 'nack pli', 'ccm fir', 'goog-remb'] };
const H264: NegotiatedCodec = { mimeType: 'video/H264', payloadType: 102, clockRate: 90000, parameters: 'packetization-mode=1;profile-level-id=42e01f', rtcpFeedback: ['nack', 'nack pli'] };

/** A VP8 payload as Chromium sends it (15-bit picture id, TL0PICIDX, TID); a keyframe start carries its size (RFC 6386 §9.1). */
function vp8(pictureId: number, tl0: number, key: boolean, size = { width: 320, height: 180 }, start = true): Buffer {
  const descriptor = [start ? 0x90 : 0x80, 0xe0, 0x80 | (pictureId >> 8), pictureId & 0xff, tl0, 0];
  if (!key) return Buffer.from([...descriptor, 0x01, 0xaa, 0xbb]);
  const frame = Buffer.from([0x00, 0, 0, 0x9d, 0x01, 0x2a, 0, 0, 0, 0, 0xcc]);
  frame.writeUInt16LE(size.width, 6);
  frame.writeUInt16LE(size.height, 8);
  return Buffer.concat([Buffer.from(descriptor), frame]);
}

function rtp(ssrc: number, seq: number, ts: number, payload: Buffer, payloadType = 96): RtpView {
  const header = Buffer.alloc(12);
  header[0] = 0x80;
  header[1] = payloadType;
  header.writeUInt16BE(seq, 2);
  header.writeUInt32BE(ts, 4);
  header.writeUInt32BE(ssrc, 8);
  return readRtp(Buffer.concat([header, payload]))!;
}

interface Sent {
  seq: number;
  ts: number;
  ssrc: number;
  payload: Buffer;
}

function setup(codec = VP8): { producer: Producer; nacks: Array<[number, number[]]>; keyframeRequests: number[]; sent: Sent[]; link: ConsumerLink } {
  const nacks: Array<[number, number[]]> = [];
  const keyframeRequests: number[] = [];
  const producerLink: ProducerLink = {
    sendNack: (ssrc, lost) => nacks.push([ssrc, lost]),
    sendKeyframeRequest: (ssrc) => keyframeRequests.push(ssrc),
    producerClosed: () => undefined,
  };
  const producer = new Producer(
    { kind: 'video', mid: '0', codec, ssrc: undefined, rtxSsrc: undefined, rtxPayloadType: 97, cname: 'c', simulcast: { rids: ['q', 'h', 'f'], ridExtensionId: 10, repairedRidExtensionId: 11 } },
    producerLink,
  );
  producer.layers.forEach((layer, i) => layer.bindSsrc(1000 + i));
  const sent: Sent[] = [];
  const link: ConsumerLink = {
    canSend: () => true,
    sendRtp: (packet, _pt, seq, ts, ssrc) => sent.push({ seq, ts, ssrc, payload: Buffer.from(payloadOf(packet)) }),
    consumerClosed: () => undefined,
  };
  return { producer, nacks, keyframeRequests, sent, link };
}

/** One frame (two packets) of every layer: layer i numbered from 100 * i, picture ids from 1000 * i. */
function frame(producer: Producer, n: number, key: readonly boolean[] = [false, false, false], now = n * 33): void {
  producer.layers.forEach((layer, i) => {
    const seq = 100 * i + 2 * n;
    const ts = 3000 * n + 77_000 * i;
    const sizes = [
      { width: 320, height: 180 },
      { width: 640, height: 360 },
      { width: 1280, height: 720 },
    ];
    layer.receive(rtp(1000 + i, seq, ts, vp8(1000 * i + n, (10 * i + n) & 0xff, key[i] ?? false, sizes[i])), now, false);
    layer.receive(rtp(1000 + i, seq + 1, ts, vp8(1000 * i + n, (10 * i + n) & 0xff, false, undefined, false)), now, false);
  });
}

/**
 * A consumer on layer q (frame 1, a keyframe), then switched to layer h at its keyframe
 * (frame 2): sent[0..3] are q's (frames 1 and 2), sent[4], sent[5] h's keyframe.
 */
function switchedToLayerH(): { producer: Producer; sent: Sent[]; consumer: Consumer } {
  const { producer, sent, link } = setup();
  const consumer = new Consumer(producer, '0', link);
  consumer.setTargetLayer(0);
  frame(producer, 1, [true, false, false]);
  consumer.setTargetLayer(1);
  frame(producer, 2, [false, true, false]);
  return { producer, sent, consumer };
}

describe('simulcast producer and consumer (issue #20, points 1 and 3)', () => {
  it('a simulcast producer keeps one stream per layer: its own history, loss, NACKs and keyframe requests on its own SSRC', () => {
    const { producer, nacks, keyframeRequests } = setup();
    expect(producer.layers.map((l) => l.rid)).toEqual(['q', 'h', 'f']);
    expect(producer.ssrc).toBeUndefined();
    frame(producer, 0, [true, true, true]);
    // Layer h loses two packets; the others lose none.
    producer.layers[1]!.receive(rtp(1001, 105, 3000, vp8(1002, 12, false)), 60, false);
    expect(nacks).toEqual([[1001, [102, 103, 104]]]);
    expect(producer.layers[1]!.stats.lost).toBe(3);
    expect(producer.layers[0]!.stats.lost).toBe(0);
    expect(producer.layers[0]!.buffer.get(1)).toBeDefined();
    expect(producer.layers[0]!.buffer.get(101)).toBeUndefined();
    expect(producer.layers[1]!.buffer.get(101)).toBeDefined();
    expect(producer.stats.packets).toBe(7);
    expect(producer.reportBlock(0)).toBeUndefined();
    expect(producer.layers[2]!.reportBlock(0)).toMatchObject({ ssrc: 1002, highestSeq: 201 });
    // Keyframes are asked of one layer at a time.
    producer.layers[2]!.requestKeyframe();
    expect(keyframeRequests).toEqual([1002]);
    // Sizes come from the layers' VP8 keyframes.
    expect(producer.layerStates(100).map((l) => l.height)).toEqual([180, 360, 720]);
    producer.close();
    expect(producer.layers.every((l) => l.isClosed)).toBe(true);
  });

  it('a consumer forwards its target layer only, starting at its keyframe; a new target is asked for a keyframe and taken at it, with sequence numbers, timestamps and VP8 picture ids continuing', () => {
    const { producer, keyframeRequests, sent, link } = setup();
    const consumer = new Consumer(producer, '0', link);
    consumer.setTargetLayer(0);
    frame(producer, 0);
    expect(sent).toHaveLength(0);
    expect(consumer.stats.droppedAwaitingKeyframe).toBe(2);
    frame(producer, 1, [true, false, false]);
    frame(producer, 2);
    expect(consumer.currentLayer).toBe(0);
    expect(sent).toHaveLength(4);
    expect(new Set(sent.map((s) => s.ssrc))).toEqual(new Set([consumer.ssrc]));

    keyframeRequests.length = 0;
    consumer.setTargetLayer(2);
    expect(keyframeRequests).toEqual([1002]);
    // Until layer f's keyframe, layer q goes on.
    frame(producer, 3, [false, false, false]);
    expect(consumer.currentLayer).toBe(0);
    frame(producer, 4, [true, true, true]);
    expect(consumer.currentLayer).toBe(2);
    frame(producer, 5);
    expect(sent).toHaveLength(12);
    // Sequence numbers go on one by one across the switch; the timestamp moves forward.
    for (let i = 1; i < sent.length; i++) expect((sent[i]!.seq - sent[i - 1]!.seq) & 0xffff).toBe(1);
    // Frame 4 of q went out, then f's keyframe of the same frame.
    const switchAt = 10;
    expect(sent[switchAt]!.ts - sent[switchAt - 1]!.ts).toBeGreaterThan(0);
    expect(sent[switchAt]!.ts - sent[switchAt - 1]!.ts).toBeLessThan(90_000);
    // Picture ids: q's 1 to 4, then f's go on at 5, 6 (f numbers its own from 2004).
    const pictures = sent.filter((_, i) => i % 2 === 0).map((s) => readVp8Descriptor(s.payload)!.pictureId);
    expect(pictures).toEqual([1, 2, 3, 4, 5, 6]);
    expect(consumer.stats.layerSwitches).toBe(2);
    producer.close();
  });

  it('a NACK from the subscriber is answered from the layer\'s history with the numbers the packet was sent with', () => {
    const { producer, sent, consumer } = switchedToLayerH();
    // Of layer h, whose picture id 1002 was sent as 3.
    const lost = sent[5]!;
    expect(readVp8Descriptor(lost.payload)!.pictureId).toBe(3);
    sent.length = 0;
    consumer.onNack([lost.seq]);
    expect(sent).toEqual([lost]);
    expect(consumer.stats.retransmitted).toBe(1);
    producer.close();
  });

  it('a NACK for a packet of the layer left before the switch is not answered, nor one for a packet resent three times less than a round trip ago', () => {
    const { producer, sent, consumer } = switchedToLayerH();
    const [oldLayer, newLayer] = [sent[1]!, sent[5]!];
    sent.length = 0;
    consumer.onNack([oldLayer.seq, newLayer.seq]);
    expect(sent).toEqual([newLayer]);
    // Asked again at once (no receiver report yet: a round trip of 100 ms): resent twice more, then not.
    consumer.onNack([newLayer.seq]);
    consumer.onNack([newLayer.seq]);
    consumer.onNack([newLayer.seq]);
    expect(sent).toEqual([newLayer, newLayer, newLayer]);
    expect(consumer.stats).toMatchObject({ nacksReceived: 4, retransmitted: 3, retransmitsSkipped: 2, retransmitMisses: 0 });
    producer.close();
  });

  it('H.264 layers switch at an IDR, without a payload to rewrite', () => {
    const { producer, sent, link } = setup(H264);
    const consumer = new Consumer(producer, '0', link);
    consumer.setTargetLayer(1);
    const idr = Buffer.from([0x65, 0x88, 0x80]);
    const slice = Buffer.from([0x41, 0x9a, 0x00]);
    producer.layers[1]!.receive(rtp(1001, 1, 0, slice, 102), 0, false);
    producer.layers[1]!.receive(rtp(1001, 2, 0, idr, 102), 0, false);
    producer.layers[0]!.receive(rtp(1000, 1, 0, idr, 102), 0, false);
    producer.layers[1]!.receive(rtp(1001, 3, 3000, slice, 102), 33, false);
    expect(sent.map((s) => s.payload)).toEqual([idr, slice]);
    expect(consumer.currentLayer).toBe(1);
    producer.close();
  });

  it('the layers nobody takes are reported unwanted, and wanted again when a consumer targets them; a paused or closed consumer takes none', () => {
    const { producer, link } = setup();
    const events: boolean[][] = [];
    producer.on('layers', (active) => events.push(active));
    const a = new Consumer(producer, '0', link);
    const b = new Consumer(producer, '1', link);
    a.setTargetLayer(0);
    b.setTargetLayer(0);
    expect(events.at(-1)).toEqual([true, false, false]);
    b.setTargetLayer(2);
    expect(events.at(-1)).toEqual([true, false, true]);
    // b switches from q to f at f's keyframe: until then it takes both.
    frame(producer, 1, [true, false, false]);
    frame(producer, 2, [false, false, true]);
    expect(b.currentLayer).toBe(2);
    expect(events.at(-1)).toEqual([true, false, true]);
    b.pause();
    expect(events.at(-1)).toEqual([true, false, false]);
    a.close();
    expect(events.at(-1)).toEqual([false, false, false]);
    b.resume();
    expect(events.at(-1)).toEqual([false, false, true]);
    const count = events.length;
    b.setTargetLayer(2);
    expect(events).toHaveLength(count);
    producer.close();
  });

  it('a layer asked for that never came (the sender kept it off) is not available, and is offered again after LAYER_RETRY_MS', () => {
    const { producer, link } = setup();
    const events: boolean[][] = [];
    producer.on('layers', (active) => events.push(active));
    const consumer = new Consumer(producer, '0', link);
    consumer.setTargetLayer(2);
    // Only q and h arrive.
    const t0 = performance.now();
    for (let n = 0; n < 3; n++) {
      for (const i of [0, 1]) producer.layers[i]!.receive(rtp(1000 + i, 100 * i + n, 3000 * n, vp8(1000 * i + n, n, n === 0)), t0, false);
    }
    const later = t0 + LAYER_QUIET_MS * 2 + 100;
    expect(producer.layerStates(later).map((l) => l.available)).toEqual([true, true, false]);
    // The selection moves on to h: f is no longer wanted (asked for, never came).
    consumer.setTargetLayer(1);
    expect(events.at(-1)).toEqual([false, true, false]);
    // (It was refused now, at about t0: the times below are past its first window.)
    expect(producer.layerStates(later + 1000)[2]!.available).toBe(false);
    // After a while it is offered again, though it never came: the sender may send it now.
    expect(producer.layerStates(t0 + LAYER_RETRY_MS + 1000)[2]!.available).toBe(true);
    producer.close();
  });

  it('a bad request or layer is refused and changes nothing', () => {
    const { producer, link } = setup();
    const consumer = new Consumer(producer, '0', link);
    consumer.setTargetLayer(1);
    expect(() => consumer.setTargetLayer(3)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => consumer.setRequest({ maxHeight: -1 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => consumer.setRequest('high' as never)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => consumer.setRequest({ pinned: 'yes' } as never)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(consumer.targetLayer).toBe(1);
    expect(consumer.layerRequest).toEqual({});
    producer.close();
  });

  it('a pinned request and the active speaker flag run the layer selection again, once per change', () => {
    const { producer, link } = setup();
    const asked: Consumer[] = [];
    const consumer = new Consumer(producer, '0', { ...link, layersRequested: (c) => asked.push(c) });
    consumer.setRequest({ maxHeight: 360, pinned: true });
    expect(consumer.layerRequest).toEqual({ maxHeight: 360, pinned: true });
    expect(consumer.isSpeaker).toBe(false);
    consumer.setSpeaker(true);
    consumer.setSpeaker(true);
    expect(consumer.isSpeaker).toBe(true);
    consumer.setSpeaker(false);
    expect(asked).toEqual([consumer, consumer, consumer]);
    producer.close();
  });
});
