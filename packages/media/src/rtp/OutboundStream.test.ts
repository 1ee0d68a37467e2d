import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  GenericNack,
  PictureLossIndication,
  ReceiverEstimatedMaxBitrate,
  RtcpPacketConverter,
  RtcpPayloadSpecificFeedback,
  RtcpTransportLayerFeedback,
  RtpHeader,
  RtpPacket,
  type RtcpPacket,
} from 'werift';
import type { CodecInfo, MediaKind } from '../core/types.js';
import { InboundStream } from './InboundStream.js';
import { OutboundStream, type RtpTransport } from './OutboundStream.js';

const OUT_SSRC = 0x0abc0def;
const VP8_IN: CodecInfo = { mimeType: 'video/VP8', payloadType: 96, clockRate: 90000 };
const VP8_OUT: CodecInfo = { mimeType: 'video/VP8', payloadType: 120, clockRate: 90000 };
const H264_OUT: CodecInfo = { mimeType: 'video/H264', payloadType: 102, clockRate: 90000, parameters: 'packetization-mode=1' };
const OPUS_IN: CodecInfo = { mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2 };
const OPUS_OUT: CodecInfo = { mimeType: 'audio/opus', payloadType: 109, clockRate: 48000, channels: 2 };

// VP8 payload descriptor with S set and partition 0, then a payload header whose P bit says key or delta.
const VP8_KEY = [0x10, 0x50, 0x2a, 0x00, 0x9d, 0x01, 0x2a];
const VP8_DELTA = [0x10, 0x51, 0x2a, 0x00];

/** Records what the stream sends instead of putting it on a socket. */
class RecordingTransport implements RtpTransport {
  readonly rtp: { payload: Buffer; header: RtpHeader }[] = [];
  readonly rtcp: RtcpPacket[][] = [];

  sendRtp(payload: Buffer, header: RtpHeader): void {
    this.rtp.push({ payload, header });
  }

  sendRtcp(packets: RtcpPacket[]): void {
    this.rtcp.push(packets);
  }
}

const open: { close(): void }[] = [];
afterEach(() => {
  for (const o of open.splice(0)) o.close();
});

function source(kind: MediaKind, ssrc: number, codec: CodecInfo): { stream: InboundStream; keyframeRequests: ReturnType<typeof vi.fn> } {
  const keyframeRequests = vi.fn();
  const stream = new InboundStream(kind, ssrc, codec, keyframeRequests);
  open.push(stream);
  return { stream, keyframeRequests };
}

function sink(kind: MediaKind, codecs: CodecInfo[]): { out: OutboundStream; transport: RecordingTransport } {
  const transport = new RecordingTransport();
  const out = new OutboundStream(kind, OUT_SSRC, codecs, transport, () => []);
  open.push({ close: () => out.detach() });
  return { out, transport };
}

function rtp(stream: InboundStream, seq: number, ts: number, payload: number[], marker = false): RtpPacket {
  const header = new RtpHeader({ sequenceNumber: seq, timestamp: ts, ssrc: stream.ssrc, payloadType: stream.codec.payloadType, marker });
  return new RtpPacket(header, Buffer.from(payload));
}

/** What the endpoint does with a received packet: record it in the source, then forward it. */
function deliver(out: OutboundStream, stream: InboundStream, packet: RtpPacket, now: number): void {
  stream.receive(packet, now);
  out.forward(stream, packet, now);
}

/** Serializes and parses back, so the stream sees what werift would hand it off the wire. */
function fromWire(packet: RtcpTransportLayerFeedback | RtcpPayloadSpecificFeedback): RtcpPacket {
  const [parsed] = RtcpPacketConverter.deSerialize(packet.serialize());
  return parsed!;
}

function nack(lost: number[]): RtcpPacket {
  return fromWire(new RtcpTransportLayerFeedback({ feedback: new GenericNack({ senderSsrc: 1, mediaSourceSsrc: OUT_SSRC, lost }) }));
}

describe('OutboundStream', () => {
  it('forwarded packets carry the stream SSRC and the payload type the sink negotiated', () => {
    const { stream } = source('audio', 1111, OPUS_IN);
    const { out, transport } = sink('audio', [OPUS_OUT]);

    deliver(out, stream, rtp(stream, 500, 48_000, [1, 2, 3], true), 0);

    expect(transport.rtp).toHaveLength(1);
    const sent = transport.rtp[0]!;
    expect(sent.header.ssrc).toBe(OUT_SSRC);
    expect(sent.header.payloadType).toBe(OPUS_OUT.payloadType);
    expect(sent.header.marker).toBe(true);
    expect([...sent.payload]).toEqual([1, 2, 3]);
    expect(out.stats.packets).toBe(1);
    expect(out.stats.bytes).toBe(3);
    expect(out.currentSource).toBe(stream);
    expect(stream.subscribers.has(out)).toBe(true);
  });

  it('forwarded packets keep consecutive sequence numbers', () => {
    const { stream } = source('audio', 1111, OPUS_IN);
    const { out, transport } = sink('audio', [OPUS_OUT]);

    for (let i = 0; i < 3; i++) deliver(out, stream, rtp(stream, 500 + i, 960 * i, [i]), 20 * i);

    const seqs = transport.rtp.map((p) => p.header.sequenceNumber);
    expect(seqs[1]).toBe((seqs[0]! + 1) & 0xffff);
    expect(seqs[2]).toBe((seqs[0]! + 2) & 0xffff);
  });

  it('holds video back until the first keyframe and asks the source for one', () => {
    const { stream, keyframeRequests } = source('video', 2222, VP8_IN);
    const { out, transport } = sink('video', [VP8_OUT]);

    deliver(out, stream, rtp(stream, 10, 0, VP8_DELTA), 0);

    expect(transport.rtp).toHaveLength(0);
    expect(out.stats.droppedAwaitingKeyframe).toBe(1);
    expect(keyframeRequests).toHaveBeenCalledTimes(1);
    deliver(out, stream, rtp(stream, 11, 3000, VP8_KEY), 33);
    expect(transport.rtp).toHaveLength(1);
  });

  it('a video source change holds packets back until a keyframe of the new source and asks it for one', () => {
    const a = source('video', 2222, VP8_IN);
    const b = source('video', 3333, VP8_IN);
    const { out, transport } = sink('video', [VP8_OUT]);
    deliver(out, a.stream, rtp(a.stream, 100, 0, VP8_KEY), 0);
    deliver(out, a.stream, rtp(a.stream, 101, 3000, VP8_DELTA), 33);
    const lastSeqOfA = transport.rtp.at(-1)!.header.sequenceNumber;

    deliver(out, b.stream, rtp(b.stream, 7000, 123_000, VP8_DELTA), 66);
    deliver(out, b.stream, rtp(b.stream, 7001, 126_000, VP8_DELTA), 99);

    expect(transport.rtp).toHaveLength(2);
    expect(out.stats.droppedAwaitingKeyframe).toBe(2);
    expect(b.keyframeRequests).toHaveBeenCalledTimes(1);
    expect(out.currentSource).toBe(b.stream);
    expect(a.stream.subscribers.has(out)).toBe(false);
    expect(b.stream.subscribers.has(out)).toBe(true);

    deliver(out, b.stream, rtp(b.stream, 7002, 129_000, VP8_KEY), 132);
    deliver(out, b.stream, rtp(b.stream, 7003, 132_000, VP8_DELTA), 165);

    expect(transport.rtp.map((p) => p.header.sequenceNumber)).toEqual([
      lastSeqOfA - 1,
      lastSeqOfA,
      (lastSeqOfA + 1) & 0xffff,
      (lastSeqOfA + 2) & 0xffff,
    ]);
    expect(transport.rtp.every((p) => p.header.ssrc === OUT_SSRC)).toBe(true);
  });

  it('an audio source change forwards at once and asks for no keyframe', () => {
    const a = source('audio', 1111, OPUS_IN);
    const b = source('audio', 4444, OPUS_IN);
    const { out, transport } = sink('audio', [OPUS_OUT]);
    deliver(out, a.stream, rtp(a.stream, 1, 0, [1]), 0);

    deliver(out, b.stream, rtp(b.stream, 900, 77_000, [2]), 20);

    expect(transport.rtp).toHaveLength(2);
    expect(transport.rtp[1]!.header.sequenceNumber).toBe((transport.rtp[0]!.header.sequenceNumber + 1) & 0xffff);
    expect(b.keyframeRequests).not.toHaveBeenCalled();
  });

  it('answers a NACK for a packet sent 500 packets ago with the original payload under the same output sequence number', () => {
    const { stream } = source('video', 2222, VP8_IN);
    const { out, transport } = sink('video', [VP8_OUT]);
    deliver(out, stream, rtp(stream, 65000, 0, VP8_KEY), 0);
    for (let i = 1; i < 600; i++) deliver(out, stream, rtp(stream, (65000 + i) & 0xffff, 3000 * Math.floor(i / 10), [...VP8_DELTA, i & 0xff, i >> 8]), i);
    const target = transport.rtp[99]!;
    const sentBefore = transport.rtp.length;

    out.handleRtcp(nack([target.header.sequenceNumber]));

    expect(transport.rtp).toHaveLength(sentBefore + 1);
    const resent = transport.rtp.at(-1)!;
    expect(resent.header.sequenceNumber).toBe(target.header.sequenceNumber);
    expect(resent.header.timestamp).toBe(target.header.timestamp);
    expect(resent.header.ssrc).toBe(OUT_SSRC);
    expect(resent.header.payloadType).toBe(VP8_OUT.payloadType);
    expect([...resent.payload]).toEqual([...target.payload]);
    expect(out.stats.nacksReceived).toBe(1);
    expect(out.stats.retransmitted).toBe(1);
    expect(out.stats.retransmitMisses).toBe(0);
  });

  it('answers a NACK for a packet of the previous source after a source change', () => {
    const a = source('audio', 1111, OPUS_IN);
    const b = source('audio', 4444, OPUS_IN);
    const { out, transport } = sink('audio', [OPUS_OUT]);
    deliver(out, a.stream, rtp(a.stream, 1, 960, [0xa1]), 0);
    deliver(out, b.stream, rtp(b.stream, 900, 77_000, [0xb1]), 20);
    const fromA = transport.rtp[0]!;

    out.handleRtcp(nack([fromA.header.sequenceNumber]));

    const resent = transport.rtp.at(-1)!;
    expect(transport.rtp).toHaveLength(3);
    expect([...resent.payload]).toEqual([0xa1]);
    expect(resent.header.sequenceNumber).toBe(fromA.header.sequenceNumber);
    expect(resent.header.timestamp).toBe(fromA.header.timestamp);
  });

  it('a late packet of the new source from before the switch point is not sent under a sequence number already used', () => {
    // B's packet 49 is reordered on the network and arrives after B's 50, the switch point.
    const a = source('audio', 1111, OPUS_IN);
    const b = source('audio', 4444, OPUS_IN);
    const { out, transport } = sink('audio', [OPUS_OUT]);
    for (let i = 0; i < 3; i++) deliver(out, a.stream, rtp(a.stream, 1 + i, 960 * i, [0xa0 + i]), 20 * i);
    deliver(out, b.stream, rtp(b.stream, 50, 77_000, [0xb0]), 60);
    const usedSeqs = transport.rtp.map((p) => p.header.sequenceNumber);
    const lastOfA = transport.rtp[2]!;

    deliver(out, b.stream, rtp(b.stream, 49, 76_040, [0xbf]), 61);
    const sentLate = transport.rtp.slice(usedSeqs.length);
    out.handleRtcp(nack([lastOfA.header.sequenceNumber]));

    for (const late of sentLate) {
      expect(usedSeqs, 'sequence numbers already on the wire').not.toContain(late.header.sequenceNumber);
    }
    expect([...transport.rtp.at(-1)!.payload], 'payload retransmitted for the last packet of A').toEqual([0xa2]);
  });

  it('a NACK for a sequence number never sent counts a miss and sends nothing', () => {
    const { stream } = source('audio', 1111, OPUS_IN);
    const { out, transport } = sink('audio', [OPUS_OUT]);
    deliver(out, stream, rtp(stream, 1, 0, [1]), 0);
    const unknown = (transport.rtp[0]!.header.sequenceNumber + 1000) & 0xffff;

    out.handleRtcp(nack([unknown]));

    expect(transport.rtp).toHaveLength(1);
    expect(out.stats.nacksReceived).toBe(1);
    expect(out.stats.retransmitMisses).toBe(1);
    expect(out.stats.retransmitted).toBe(0);
  });

  it('a PLI from the sink reaches the KeyframeRequester of the current source', () => {
    const { stream } = source('video', 2222, VP8_IN);
    const { out } = sink('video', [VP8_OUT]);
    deliver(out, stream, rtp(stream, 1, 0, VP8_KEY), 0);
    const before = stream.keyframes.requested;

    out.handleRtcp(fromWire(new RtcpPayloadSpecificFeedback({ feedback: new PictureLossIndication({ senderSsrc: 1, mediaSsrc: OUT_SSRC }) })));

    expect(out.stats.plisReceived).toBe(1);
    expect(stream.keyframes.requested).toBe(before + 1);
  });

  it('a PLI before any source is counted and goes nowhere', () => {
    const { out } = sink('video', [VP8_OUT]);

    out.handleRtcp(fromWire(new RtcpPayloadSpecificFeedback({ feedback: new PictureLossIndication({ senderSsrc: 1, mediaSsrc: OUT_SSRC }) })));

    expect(out.stats.plisReceived).toBe(1);
  });

  it('a codec mismatch counts codecMismatches and sends nothing', () => {
    const { stream, keyframeRequests } = source('video', 2222, VP8_IN);
    const { out, transport } = sink('video', [H264_OUT]);

    deliver(out, stream, rtp(stream, 1, 0, VP8_KEY), 0);
    deliver(out, stream, rtp(stream, 2, 3000, VP8_DELTA), 33);

    expect(out.stats.codecMismatches).toBe(2);
    expect(out.stats.packets).toBe(0);
    expect(transport.rtp).toHaveLength(0);
    expect(out.currentSource).toBeUndefined();
    expect(stream.subscribers.has(out)).toBe(false);
    expect(keyframeRequests).not.toHaveBeenCalled();
  });

  it('a REMB sets estimatedBitrate, which the source sees through its subscribers', () => {
    const { stream } = source('video', 2222, VP8_IN);
    const { out } = sink('video', [VP8_OUT]);
    deliver(out, stream, rtp(stream, 1, 0, VP8_KEY), 0);
    const remb = new ReceiverEstimatedMaxBitrate({ senderSsrc: 1, mediaSsrc: 0, brExp: 3, brMantissa: 187_500, ssrcNum: 1, ssrcFeedbacks: [OUT_SSRC] });

    out.handleRtcp(fromWire(new RtcpPayloadSpecificFeedback({ feedback: remb })));

    expect(out.estimatedBitrate).toBe(1_500_000);
    expect(stream.minSubscriberBitrate()).toBe(1_500_000);
  });

  it('detach() leaves the current source', () => {
    const { stream } = source('audio', 1111, OPUS_IN);
    const { out } = sink('audio', [OPUS_OUT]);
    deliver(out, stream, rtp(stream, 1, 0, [1]), 0);

    out.detach();

    expect(out.currentSource).toBeUndefined();
    expect(stream.subscribers.has(out)).toBe(false);
  });
});
