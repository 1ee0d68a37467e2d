import {
  GenericNack,
  RtcpPayloadSpecificFeedback,
  RtcpSenderInfo,
  RtcpSrPacket,
  RtpHeader,
  type RtcpPacket,
  type RtpPacket,
  type Extension,
} from 'werift';
import { codecsCompatible, type CodecInfo, type MediaKind } from '../core/types.js';
import type { InboundStream, StreamSubscriber } from './InboundStream.js';
import { isKeyframe } from './keyframe.js';
import { StreamRewriter } from './StreamRewriter.js';

/** Where an outbound stream sends its packets: the secure transport of an endpoint. */
export interface RtpTransport {
  sendRtp(payload: Buffer, header: RtpHeader): void;
  sendRtcp(packets: RtcpPacket[]): void;
}

/** Builds the header extensions a forwarded packet carries towards this sink. */
export type ExtensionWriter = () => Extension[];

export interface OutboundStats {
  packets: number;
  bytes: number;
  /** Packets not sent because the sink negotiated no compatible codec. */
  codecMismatches: number;
  /** Packets held back while the sink waited for a keyframe after a source change. */
  droppedAwaitingKeyframe: number;
  /** Late packets of a new source from before the switch point (their numbers are taken). */
  droppedBeforeSwitch: number;
  nacksReceived: number;
  retransmitted: number;
  /** NACKed packets no longer (or never) in the source's history. */
  retransmitMisses: number;
  plisReceived: number;
  firsReceived: number;
  /** Round trip time from the receiver's reports, seconds. */
  roundTripTime: number | undefined;
  /** Fraction lost the remote receiver reported (0..1). */
  fractionLost: number | undefined;
  packetsLostReported: number | undefined;
}

const NTP_EPOCH_OFFSET = 2208988800;

function ntpNow(): bigint {
  const ms = Date.now();
  const seconds = BigInt(Math.floor(ms / 1000) + NTP_EPOCH_OFFSET);
  const fraction = BigInt(Math.floor(((ms % 1000) / 1000) * 2 ** 32));
  return (seconds << 32n) | fraction;
}

/** Middle 32 bits of an NTP timestamp, as carried in LSR. */
function compactNtp(ntp: bigint): number {
  return Number((ntp >> 16n) & 0xffffffffn);
}

/**
 * One stream a sink endpoint sends to its peer (one per media kind): rewrites SSRC,
 * sequence number, timestamp and payload type of forwarded packets, answers NACKs from
 * the source's retransmission history, sends sender reports, and relays keyframe
 * requests and bandwidth estimates back towards the source.
 */
export class OutboundStream implements StreamSubscriber {
  readonly rewriter = new StreamRewriter<InboundStream>();
  readonly stats: OutboundStats = {
    packets: 0,
    bytes: 0,
    codecMismatches: 0,
    droppedAwaitingKeyframe: 0,
    droppedBeforeSwitch: 0,
    nacksReceived: 0,
    retransmitted: 0,
    retransmitMisses: 0,
    plisReceived: 0,
    firsReceived: 0,
    roundTripTime: undefined,
    fractionLost: undefined,
    packetsLostReported: undefined,
  };
  estimatedBitrate: number | undefined;
  lastPacketAt = 0;
  private source: InboundStream | undefined;
  private awaitingKeyframe = false;
  private lastSr: { compact: number; at: number } | undefined;

  constructor(
    readonly kind: MediaKind,
    readonly ssrc: number,
    private readonly codecs: CodecInfo[],
    private readonly transport: RtpTransport,
    private readonly writeExtensions: ExtensionWriter,
  ) {}

  /** The source stream currently forwarded, if any. */
  get currentSource(): InboundStream | undefined {
    return this.source;
  }

  /** Forwards one packet of `stream` to the peer. */
  forward(stream: InboundStream, packet: RtpPacket, now: number): void {
    const codec = this.codecFor(stream.codec);
    if (!codec) {
      this.stats.codecMismatches++;
      return;
    }
    if (stream !== this.source) this.switchTo(stream);
    if (this.awaitingKeyframe) {
      if (!isKeyframe(stream.codec.mimeType, packet.payload)) {
        this.stats.droppedAwaitingKeyframe++;
        return;
      }
      this.awaitingKeyframe = false;
    }
    const h = packet.header;
    const rewritten = this.rewriter.rewrite(stream, h.sequenceNumber, h.timestamp, codec.clockRate, now);
    if (!rewritten) {
      this.stats.droppedBeforeSwitch++;
      return;
    }
    this.send(packet, codec.payloadType, rewritten.seq, rewritten.ts);
    this.stats.packets++;
    this.stats.bytes += packet.payload.length;
    this.lastPacketAt = now;
  }

  /** Handles RTCP the peer sent about this stream. */
  handleRtcp(packet: RtcpPacket): void {
    switch (packet.type) {
      case 200:
      case 201:
        for (const report of packet.reports) {
          if (report.ssrc !== this.ssrc) continue;
          this.stats.fractionLost = report.fractionLost / 256;
          this.stats.packetsLostReported = report.packetsLost;
          if (this.lastSr && report.lsr === this.lastSr.compact && report.lsr !== 0) {
            const rtt = (performance.now() - this.lastSr.at) / 1000 - report.dlsr / 65536;
            if (rtt >= 0) this.stats.roundTripTime = rtt;
          }
        }
        break;
      case 205:
        if (packet.feedback instanceof GenericNack) this.answerNack(packet.feedback.lost);
        break;
      case 206:
        this.handlePayloadFeedback(packet);
        break;
      default:
        break;
    }
  }

  /** Sends a sender report for this stream (when anything has been sent). */
  sendSenderReport(): void {
    if (this.stats.packets === 0 || !this.source) return;
    const now = performance.now();
    const ntp = ntpNow();
    const codec = this.codecFor(this.source.codec);
    const clockRate = codec?.clockRate ?? 90000;
    const sr = new RtcpSrPacket({
      ssrc: this.ssrc,
      senderInfo: new RtcpSenderInfo({
        ntpTimestamp: ntp,
        rtpTimestamp: this.rewriter.timestampAt(now, clockRate),
        packetCount: this.stats.packets >>> 0,
        octetCount: this.stats.bytes >>> 0,
      }),
    });
    this.lastSr = { compact: compactNtp(ntp), at: now };
    this.transport.sendRtcp([sr]);
  }

  /** Stops forwarding: leaves the current source. */
  detach(): void {
    this.source?.subscribers.delete(this);
    this.source = undefined;
  }

  private switchTo(stream: InboundStream): void {
    this.source?.subscribers.delete(this);
    this.source = stream;
    stream.subscribers.add(this);
    if (this.kind === 'video') {
      // Forwarding deltas of a new source before its keyframe would show garbage.
      this.awaitingKeyframe = true;
      stream.requestKeyframe();
    }
  }

  private codecFor(codec: CodecInfo): CodecInfo | undefined {
    for (const c of this.codecs) if (codecsCompatible(c, codec)) return c;
    return undefined;
  }

  private send(packet: RtpPacket, payloadType: number, seq: number, ts: number): void {
    const h = packet.header;
    const header = new RtpHeader({
      marker: h.marker,
      payloadType,
      sequenceNumber: seq,
      timestamp: ts,
      ssrc: this.ssrc,
      csrc: h.csrc,
      csrcLength: h.csrcLength,
      padding: h.padding,
      paddingSize: h.paddingSize,
      extensions: this.writeExtensions(),
    });
    header.extension = header.extensions.length > 0;
    this.transport.sendRtp(packet.payload, header);
  }

  private answerNack(lost: number[]): void {
    this.stats.nacksReceived++;
    for (const outSeq of lost) {
      const info = this.rewriter.lookup(outSeq);
      const original = info?.stream.buffer.get(info.inSeq);
      if (!info || !original) {
        this.stats.retransmitMisses++;
        continue;
      }
      const codec = this.codecFor(info.stream.codec);
      if (!codec) continue;
      this.send(original, codec.payloadType, outSeq, (original.header.timestamp + info.tsOffset) >>> 0);
      this.stats.retransmitted++;
    }
  }

  private handlePayloadFeedback(packet: RtcpPayloadSpecificFeedback): void {
    const fb = packet.feedback;
    switch (fb.count) {
      case 1: // PLI
        this.stats.plisReceived++;
        this.source?.requestKeyframe();
        break;
      case 4: // FIR
        this.stats.firsReceived++;
        this.source?.requestKeyframe();
        break;
      case 15: // REMB (application layer feedback)
        if ('bitrate' in fb && typeof fb.bitrate === 'bigint') this.estimatedBitrate = Number(fb.bitrate);
        break;
      default:
        break;
    }
  }
}
