import { RtpHeader, RtpPacket } from 'werift';
import { MediaElement } from '../core/MediaElement.js';
import type { MediaObject } from '../core/MediaObject.js';
import type { CodecInfo, MediaKind } from '../core/types.js';
import { InboundStream } from '../rtp/InboundStream.js';

const CODECS: Record<MediaKind, CodecInfo> = {
  audio: { mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2 },
  video: { mimeType: 'video/VP8', payloadType: 96, clockRate: 90000 },
};

/**
 * An element that originates synthetic media without any network: one stream per
 * kind, VP8-shaped video whose payload byte 2 is `tag`. Counts the keyframe requests
 * that reach it.
 */
export class ProbeSource extends MediaElement {
  protected readonly forwardsInput = false;
  readonly keyframeRequests = { audio: 0, video: 0 };
  readonly streams: Record<MediaKind, InboundStream>;
  private seq = 1000;

  constructor(
    parent: MediaObject,
    readonly tag: number,
  ) {
    super('ProbeSource', parent);
    const stream = (kind: MediaKind, ssrc: number): InboundStream => new InboundStream(kind, ssrc, CODECS[kind], () => undefined);
    this.streams = { audio: stream('audio', 1000 + tag), video: stream('video', 2000 + tag) };
  }

  /** Emits one packet of `kind` to the sinks and returns it. */
  send(kind: MediaKind, keyframe = true): RtpPacket {
    const payload = Buffer.alloc(20);
    payload[0] = 0x10;
    payload[1] = keyframe ? 0x00 : 0x01;
    payload[2] = this.tag;
    const seq = this.seq++ & 0xffff;
    const stream = this.streams[kind];
    const packet = new RtpPacket(new RtpHeader({ sequenceNumber: seq, timestamp: seq * 3000, payloadType: CODECS[kind].payloadType, ssrc: stream.ssrc }), payload);
    const now = performance.now();
    stream.receive(packet, now);
    this.emitRtp(stream, packet, now);
    return packet;
  }

  acceptRtp(): void {}

  override requestKeyframe(kind: MediaKind): void {
    this.keyframeRequests[kind]++;
  }

  protected onClose(): void {
    this.disconnectAll();
    this.streams.audio.close();
    this.streams.video.close();
  }
}

/** An element that records every packet its source sends it. */
export class ProbeSink extends MediaElement {
  protected readonly forwardsInput = false;
  readonly received: { stream: InboundStream; packet: RtpPacket }[] = [];

  constructor(parent: MediaObject) {
    super('ProbeSink', parent);
  }

  /** Tags (payload byte 2) of the packets received, in order. */
  get sourceTags(): number[] {
    return this.received.map((r) => r.packet.payload[2]!);
  }

  acceptRtp(stream: InboundStream, packet: RtpPacket): void {
    this.received.push({ stream, packet });
  }

  protected onClose(): void {
    this.disconnectAll();
  }
}
