import type { RtpPacket } from 'werift';
import type { CodecInfo, MediaKind } from '../core/types.js';
import { KeyframeRequester } from './KeyframeRequester.js';
import { RetransmissionBuffer } from './RetransmissionBuffer.js';
import { seqDiff } from './seq.js';

/** What the forwarding path needs from a sink stream that subscribes to a source. */
export interface StreamSubscriber {
  /** Latest bandwidth estimate the sink's receiver reported (bits/s), if any. */
  readonly estimatedBitrate: number | undefined;
}

export interface InboundStreamOptions {
  retransmissionMs?: number;
  keyframeIntervalMs?: number;
}

/**
 * One RTP stream entering the media graph (one SSRC received by an endpoint). Keeps
 * the retransmission history every sink answers NACKs from, coalesces keyframe
 * requests, and counts what arrived.
 */
export class InboundStream {
  readonly buffer: RetransmissionBuffer;
  readonly keyframes: KeyframeRequester;
  readonly subscribers = new Set<StreamSubscriber>();
  codec: CodecInfo;
  packets = 0;
  bytes = 0;
  /** Packets missing from the sequence (received late ones are subtracted again). */
  lost = 0;
  private highestSeq: number | undefined;
  lastPacketAt = 0;

  constructor(
    readonly kind: MediaKind,
    readonly ssrc: number,
    codec: CodecInfo,
    sendKeyframeRequest: () => void,
    options: InboundStreamOptions = {},
  ) {
    this.codec = codec;
    this.buffer = new RetransmissionBuffer({ retentionMs: options.retransmissionMs ?? 1000 });
    this.keyframes = new KeyframeRequester(sendKeyframeRequest, options.keyframeIntervalMs ?? 1000);
  }

  /** Records a received packet; returns false for a duplicate already held. */
  receive(packet: RtpPacket, now: number): boolean {
    const seq = packet.header.sequenceNumber;
    if (this.buffer.get(seq)) return false;
    this.packets++;
    this.bytes += packet.payload.length;
    this.lastPacketAt = now;
    if (this.highestSeq === undefined) {
      this.highestSeq = seq;
    } else {
      const d = seqDiff(seq, this.highestSeq);
      if (d > 0) {
        this.lost += d - 1;
        this.highestSeq = seq;
      } else if (this.lost > 0) {
        this.lost--;
      }
    }
    this.buffer.push(packet, now);
    return true;
  }

  requestKeyframe(): void {
    if (this.kind === 'video') this.keyframes.request();
  }

  /** Lowest bitrate any current subscriber's receiver can take, if any reported one. */
  minSubscriberBitrate(): number | undefined {
    let min: number | undefined;
    for (const s of this.subscribers) {
      const e = s.estimatedBitrate;
      if (e !== undefined && (min === undefined || e < min)) min = e;
    }
    return min;
  }

  close(): void {
    this.keyframes.close();
    this.buffer.clear();
    this.subscribers.clear();
  }
}
