import { randomBytes, randomUUID } from 'node:crypto';
import { ClosedError, MediaError } from '../core/errors.js';
import { TypedEmitter } from '../core/TypedEmitter.js';
import type { MediaKind } from '../core/types.js';
import type { NativeConsumer } from '../native/NativeTransport.js';
import { isKeyframe } from '../rtp/keyframe.js';
import { tsAdd } from '../rtp/seq.js';
import { StreamRewriter } from '../rtp/StreamRewriter.js';
import type { Producer } from './Producer.js';
import { primaryOf, withBlockPayloadType } from './red.js';
import { compactNtp, ntpNow, writeSr, type ReportBlock } from './rtcp.js';
import { payloadOf, type RtpView } from './RtpView.js';
import type { NegotiatedCodec } from './transportSdp.js';

export interface ConsumerStats {
  packets: number;
  bytes: number;
  /** Video packets held back until the first keyframe (at start, after resume). */
  droppedAwaitingKeyframe: number;
  /** Late packets from before the start point (their numbers belong to nothing). */
  droppedBeforeStart: number;
  /** RED packets (RFC 2198) whose blocks could not be read. */
  droppedMalformedRed: number;
  /** RED packets sent as RED (the subscriber accepted it). */
  redForwarded: number;
  /** RED packets of which only the primary block was sent (the subscriber did not accept RED). */
  redPrimaryOnly: number;
  nacksReceived: number;
  retransmitted: number;
  /** NACKed packets no longer (or never) in the producer's history. */
  retransmitMisses: number;
  plisReceived: number;
  firsReceived: number;
  receiverReports: number;
  senderReportsSent: number;
  /** From the subscriber's receiver reports. */
  roundTripTime: number | undefined;
  fractionLost: number | undefined;
  packetsLostReported: number | undefined;
}

export interface ConsumerEvents extends Record<string, unknown[]> {
  close: [];
  /** The producer closed (the consumer closes right after). */
  producerclose: [];
}

/** What a consumer asks of its transport. */
export interface ConsumerLink {
  /** False while the transport cannot send (no keys yet, no pair, consent lost). */
  canSend(): boolean;
  /** Sends one RTP packet: `packet`'s payload with these header fields. */
  sendRtp(packet: RtpView, payloadType: number, seq: number, timestamp: number, ssrc: number): void;
  consumerClosed(consumer: Consumer): void;
}

export interface ConsumerOptions {
  /** Default false. */
  paused?: boolean;
  /** The msid stream id. Default: the producer's id. */
  streamId?: string;
  /** Makes the consumer's entry in the native packet core (a receiving transport on the core). Default: none, a JavaScript sink. */
  native?: (consumer: Consumer) => NativeConsumer;
}

/** The payload type each codec gets in a receiving transport's offer. */
export function consumerPayloadType(codec: NegotiatedCodec): number {
  const mime = codec.mimeType.toLowerCase();
  if (mime === 'audio/opus') return 111;
  if (mime === 'video/vp8') return 96;
  if (mime === 'video/h264') return /packetization-mode=1/.test(codec.parameters ?? '') ? 102 : 104;
  return 100;
}

/** The payload type of RED (RFC 2198) in a receiving transport's offer, when its producer's sender sends RED. */
export const CONSUMER_RED_PAYLOAD_TYPE = 63;

/**
 * One subscriber's copy of a producer on a receiving transport (one m-line): its own
 * SSRC and sequence/timestamp space (StreamRewriter), its mid, the NACK history view
 * (which source packet each of its sequence numbers was), keyframe requests toward
 * the producer, pause/resume, sender reports and what the subscriber's reports say.
 */
export interface ConsumerOptions {
  paused?: boolean;
  streamId?: string;
  /** The SSRC to send with (an m-line that named it already). Default: a new random one. */
  ssrc?: number;
  /** The payload type to send with (the one negotiated on its m-line). Default: consumerPayloadType(). */
  payloadType?: number;
  /** The numbering to continue (the m-line's earlier consumers'). Default: a new one. */
  rewriter?: StreamRewriter<Producer>;
}

export class Consumer extends TypedEmitter<ConsumerEvents> {
  readonly id = randomUUID();
  readonly ssrc: number;
  readonly kind: MediaKind;
  readonly codec: NegotiatedCodec;
  readonly cname: string;
  readonly streamId: string;
  readonly trackId = randomUUID();
  readonly rewriter: StreamRewriter<Producer>;
  private readonly counters: ConsumerStats = {
    packets: 0,
    bytes: 0,
    droppedAwaitingKeyframe: 0,
    droppedBeforeStart: 0,
    droppedMalformedRed: 0,
    redForwarded: 0,
    redPrimaryOnly: 0,
    nacksReceived: 0,
    retransmitted: 0,
    retransmitMisses: 0,
    plisReceived: 0,
    firsReceived: 0,
    receiverReports: 0,
    senderReportsSent: 0,
    roundTripTime: undefined,
    fractionLost: undefined,
    packetsLostReported: undefined,
  };
  /**
   * @internal the consumer's entry in the native packet core (a receiving transport on the
   * core): it forwards, rewrites and answers NACKs there, from its producer's entry or
   * from the one its producer feeds. Undefined: a JavaScript sink (forward() is called).
   */
  native: NativeConsumer | undefined;
  /** RED's payload type in our offer, when the producer may send RED (the subscriber may accept it or not). */
  readonly redPayloadType: number | undefined;
  /** The subscriber's bandwidth estimate, bits/s: its REMB, or the transport's own estimate from its transport-cc feedback. */
  estimatedBitrate: number | undefined;
  private closed = false;
  private paused: boolean;
  private awaitingKeyframe: boolean;
  /** The subscriber accepted RED: RED packets go as they are, else their primary block only. */
  private red = false;
  private lastSr: { compact: number; at: number } | undefined;

  /** The producer it copies (replaceProducer() changes it). */
  private source: Producer;

  constructor(
    producer: Producer,
    /** The m-line, set by the transport when it places the consumer in its offer. */
    public mid: string,
    private readonly link: ConsumerLink,
    options: ConsumerOptions = {},
  ) {
    super();
    this.source = producer;
    this.ssrc = options.ssrc ?? (randomBytes(4).readUInt32BE(0) || 1);
    this.rewriter = options.rewriter ?? new StreamRewriter<Producer>();
    this.kind = producer.kind;
    const codec = producer.codec;
    this.codec = {
      ...codec,
      payloadType: options.payloadType ?? consumerPayloadType(codec),
      rtcpFeedback: producer.kind === 'video' ? ['nack', 'nack pli', 'ccm fir', 'goog-remb'] : [],
    };
    this.redPayloadType = producer.redPayloadType !== undefined ? CONSUMER_RED_PAYLOAD_TYPE : undefined;
    this.cname = producer.cname ?? `rt-${producer.id.slice(0, 8)}`;
    this.streamId = options.streamId ?? producer.id;
    this.paused = options.paused ?? false;
    this.awaitingKeyframe = producer.kind === 'video';
    // Known before the producer counts it: a consumer in the core is no JavaScript sink.
    if (options.native) this.native = options.native(this);
    producer.consumers.add(this);
    producer.sinksChanged();
    if (!this.paused) producer.requestKeyframe();
  }

  /** The producer whose packets it sends. */
  get producer(): Producer {
    return this.source;
  }

  /**
   * Sends `producer`'s packets from now on instead (a Kurento sink connected to another
   * source): same SSRC, m-line and codec; the sequence numbers and timestamps continue
   * where the previous producer's stopped, and video waits for the new producer's
   * keyframe (asked for now). The new producer must be of the same kind and codec;
   * TypeScript packet path only (the native core keeps a consumer on its producer).
   */
  replaceProducer(producer: Producer): void {
    this.assertOpen();
    if (producer === this.source) return;
    if (producer.isClosed) throw new ClosedError(`producer ${producer.id}`);
    if (producer.kind !== this.kind) throw new MediaError('INVALID_ARGUMENT', `a ${this.kind} consumer cannot send ${producer.kind}`);
    if (producer.codec.mimeType.toLowerCase() !== this.codec.mimeType.toLowerCase()) {
      throw new MediaError('INVALID_STATE', `this consumer's m-line carries ${this.codec.mimeType}, the producer sends ${producer.codec.mimeType}`);
    }
    if (this.native || producer.native) throw new MediaError('INVALID_STATE', 'a consumer on the native packet core cannot change producer (media.packetCore)');
    this.source.consumers.delete(this);
    this.source = producer;
    producer.consumers.add(this);
    if (this.kind === 'video') this.awaitingKeyframe = true;
    if (!this.paused) producer.requestKeyframe();
  }

  /** Send statistics (on the native path, as the packet core counts them). */
  get stats(): ConsumerStats {
    this.syncNative();
    return this.counters;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The round trip to the subscriber (s) from its latest receiver report that answered our SR; cheaper than stats on the native path. */
  get roundTripTime(): number | undefined {
    return this.counters.roundTripTime;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  pause(): void {
    this.assertOpen();
    this.paused = true;
    this.native?.setPaused(true);
    this.producer.sinksChanged();
  }

  /** Forwards again, from the producer's next keyframe (asked for now). */
  resume(): void {
    this.assertOpen();
    if (!this.paused) return;
    this.paused = false;
    // The core waits for a keyframe itself on resume.
    this.native?.setPaused(false);
    this.producer.sinksChanged();
    if (this.kind === 'video') {
      this.awaitingKeyframe = true;
      this.producer.requestKeyframe();
    }
  }

  requestKeyframe(): void {
    if (!this.closed) this.producer.requestKeyframe();
  }

  /** Whether the subscriber gets RED (RFC 2198): the transport sets it from the subscriber's answer. */
  get receivesRed(): boolean {
    return this.red;
  }

  /** @internal the subscriber's answer kept RED on our m-line, or not. */
  setRed(accepted: boolean): void {
    this.red = accepted && this.redPayloadType !== undefined;
  }

  /** @internal a packet of the producer. */
  forward(packet: RtpView, now: number): void {
    if (this.closed || this.paused) return;
    if (!this.link.canSend()) {
      // Whatever reaches the subscriber first after the gap must be a keyframe.
      if (this.kind === 'video') this.awaitingKeyframe = true;
      return;
    }
    if (this.awaitingKeyframe) {
      if (!isKeyframe(this.codec.mimeType, payloadOf(packet))) {
        this.counters.droppedAwaitingKeyframe++;
        return;
      }
      this.awaitingKeyframe = false;
    }
    let payloadType = this.codec.payloadType;
    if (this.producer.redPayloadType !== undefined && packet.header.payloadType === this.producer.redPayloadType) {
      // RED as it is to a subscriber that takes it (its blocks numbered as our Opus), else the newest block alone.
      const converted = this.red ? withBlockPayloadType(packet, this.codec.payloadType) : primaryOf(packet);
      if (!converted) {
        this.counters.droppedMalformedRed++;
        return;
      }
      packet = converted;
      if (this.red && this.redPayloadType !== undefined) {
        payloadType = this.redPayloadType;
        this.counters.redForwarded++;
      } else {
        this.counters.redPrimaryOnly++;
      }
    }
    const h = packet.header;
    const out = this.rewriter.rewrite(this.source, h.sequenceNumber, h.timestamp, this.codec.clockRate, now);
    if (!out) {
      this.counters.droppedBeforeStart++;
      return;
    }
    this.link.sendRtp(packet, payloadType, out.seq, out.ts, this.ssrc);
    this.counters.packets++;
    this.counters.bytes += packet.end - packet.payloadOffset;
  }

  /** @internal the subscriber lost these of our sequence numbers: resend them from the producer's history. */
  onNack(lost: readonly number[]): void {
    // The native core answered it already, from its own history, and counted it.
    if (this.native) return;
    this.counters.nacksReceived++;
    for (const seq of lost) {
      const sent = this.rewriter.lookup(seq);
      const original = sent ? sent.stream.buffer.get(sent.inSeq) : undefined;
      if (!sent || !original) {
        this.counters.retransmitMisses++;
        continue;
      }
      this.link.sendRtp(original, this.codec.payloadType, seq, (original.header.timestamp + sent.tsOffset) >>> 0, this.ssrc);
      this.counters.retransmitted++;
    }
  }

  /**
   * @internal a bandwidth probe (WebRtcTransport.probe): `count` padding-only packets of
   * `size` padding bytes (at most 255) in our stream, numbered after the newest packet
   * (the stream continues after them). TypeScript path; the core has its own.
   */
  sendPadding(count: number, size: number): void {
    if (this.closed || this.paused || this.native || this.kind !== 'video' || !this.link.canSend()) return;
    const reserved = this.rewriter.reserve(count);
    if (!reserved) return;
    const pad = Math.max(1, Math.min(255, size));
    const data = Buffer.alloc(12 + pad);
    data[data.length - 1] = pad;
    const packet: RtpView = {
      data,
      header: { sequenceNumber: 0, timestamp: reserved.ts, ssrc: this.ssrc, payloadType: this.codec.payloadType, marker: false },
      csrcCount: 0,
      payloadOffset: 12,
      end: data.length,
      padding: true,
    };
    for (let i = 0; i < count; i++) this.link.sendRtp(packet, this.codec.payloadType, (reserved.seq + i) & 0xffff, reserved.ts, this.ssrc);
  }

  /** @internal PLI (or FIR) from the subscriber. */
  onKeyframeRequest(fir: boolean): void {
    if (fir) this.counters.firsReceived++;
    else this.counters.plisReceived++;
    this.producer.requestKeyframe();
  }

  /** @internal a report block about our SSRC from the subscriber's RR or SR. */
  onReport(block: ReportBlock, now: number): void {
    this.counters.receiverReports++;
    this.counters.fractionLost = block.fractionLost / 256;
    this.counters.packetsLostReported = block.packetsLost;
    if (this.lastSr && block.lsr === this.lastSr.compact && block.lsr !== 0) {
      const rtt = (now - this.lastSr.at) / 1000 - block.dlsr / 65536;
      if (rtt >= 0) this.counters.roundTripTime = rtt;
    }
  }

  /** @internal our sender report, once anything was sent. */
  senderReport(now: number): Buffer | undefined {
    if (this.stats.packets === 0 || this.closed) return undefined;
    const ntp = ntpNow();
    this.lastSr = { compact: compactNtp(ntp.sec, ntp.frac), at: now };
    this.counters.senderReportsSent++;
    return writeSr(this.ssrc, ntp.sec, ntp.frac, this.timestampAt(now), this.counters.packets, this.counters.bytes);
  }

  /** The RTP timestamp of wall time `now` in our stream (for sender reports). */
  private timestampAt(now: number): number {
    const n = this.native?.counters();
    if (n?.lastTimestamp !== undefined) return tsAdd(n.lastTimestamp, Math.round((n.msSinceLast * this.codec.clockRate) / 1000));
    return this.rewriter.timestampAt(now, this.codec.clockRate);
  }

  /** Stops forwarding and leaves the producer; the transport frees the m-line. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.syncNative();
    this.producer.consumers.delete(this);
    this.producer.sinksChanged();
    if (this.producer.isClosed) this.emit('producerclose');
    this.link.consumerClosed(this);
    this.emit('close');
    this.removeAllListeners();
  }

  /** The native core's counts replace ours (forward() and onNack() do nothing there). */
  private syncNative(): void {
    const n = this.native?.counters();
    if (!n) return;
    const c = this.counters;
    c.packets = n.packets;
    c.bytes = n.bytes;
    c.droppedAwaitingKeyframe = n.droppedAwaitingKeyframe;
    c.droppedBeforeStart = n.droppedBeforeStart;
    c.nacksReceived = n.nacksReceived;
    c.retransmitted = n.retransmitted;
    c.retransmitMisses = n.retransmitMisses;
  }

  private assertOpen(): void {
    if (this.closed) throw new ClosedError(`consumer ${this.id}`);
  }
}
