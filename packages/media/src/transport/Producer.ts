import { randomUUID } from 'node:crypto';
import { ClosedError } from '../core/errors.js';
import { TypedEmitter } from '../core/TypedEmitter.js';
import type { MediaKind } from '../core/types.js';
import { KeyframeRequester } from '../rtp/KeyframeRequester.js';
import { seqDiff } from '../rtp/seq.js';
import { NativeProducer } from '../native/NativeTransport.js';
import type { NativePacketCore } from '../native/PacketCore.js';
import { AudioLevelMeter, readAudioLevel, type AudioLevelReading } from './audioLevel.js';
import type { Consumer } from './Consumer.js';
import { PacketHistory } from './PacketHistory.js';
import { compactNtp, type ReportBlock } from './rtcp.js';
import { readRtp, type RtpView } from './RtpView.js';
import type { NegotiatedCodec } from './transportSdp.js';

export interface ProducerStats {
  packets: number;
  bytes: number;
  /** Packets missing from the sequence now (late arrivals and retransmissions subtract again). */
  lost: number;
  /** Packets that arrived twice (a retransmission of one already held). */
  duplicates: number;
  /** RTX packets received and unwrapped. */
  retransmissionsReceived: number;
  nacksSent: number;
  nackedPackets: number;
  keyframeRequests: number;
  keyframeRequestsSent: number;
  senderReports: number;
  /** Interarrival jitter (RFC 3550 §6.4.1), in timestamp units. */
  jitter: number;
}

export interface ProducerEvents extends Record<string, unknown[]> {
  close: [];
}

/** What a producer asks of its transport. */
export interface ProducerLink {
  /** Sends a NACK for `lost` of `ssrc` to the sender. */
  sendNack(ssrc: number, lost: number[]): void;
  /** Asks the sender for a keyframe of `ssrc` (PLI, or FIR when only FIR was negotiated). */
  sendKeyframeRequest(ssrc: number): void;
  /** The producer closed: forget it. */
  producerClosed(producer: Producer): void;
}

export interface ProducerParameters {
  kind: MediaKind;
  mid: string;
  codec: NegotiatedCodec;
  ssrc: number | undefined;
  rtxSsrc: number | undefined;
  rtxPayloadType: number | undefined;
  cname: string | undefined;
  /** RED (RFC 2198) of the codec, when negotiated: packets of this payload type are RED. Default none. */
  redPayloadType?: number | undefined;
  /** The audio level extension's id (RFC 6464), when negotiated: the producer then keeps an AudioLevelMeter. Default none. */
  audioLevelExtensionId?: number | undefined;
}

const MAX_NACK_GAP = 100;
/**
 * A packet NACKed and not received is asked for again every NACK_RETRY_MS, NACK_TRIES
 * times in all: a lost NACK or a lost retransmission is recovered too (as the native
 * core does). At most MAX_NACK_GAP packets wait.
 */
const NACK_RETRY_MS = 250;
const NACK_TRIES = 4;

/**
 * One track a participant sends on a sending transport (one m-line): its SSRC (learned
 * from the SDP, or from the first packet carrying its mid), its codec, RTX if
 * negotiated. Keeps the retransmission history its consumers answer NACKs from,
 * coalesces their keyframe requests into PLIs, asks the sender for lost packets, and
 * gives each received packet to every consumer.
 *
 * Across the two packet paths (media.packetCore), consumers are of two sorts: those in
 * the native core (`consumer.native`: a receiving transport on the core) and JavaScript
 * sinks (a TransportBridge's consumer, a TypeScript transport's). A producer in the core
 * (`native`) is tapped while it has an active JavaScript sink: the core hands its packets
 * up, batched. A producer fed from JavaScript (a bridge's output) gets an entry of its
 * own in the core once a native transport consumes it, and hands each packet down once
 * for all its native consumers.
 */
export class Producer extends TypedEmitter<ProducerEvents> {
  readonly id = randomUUID();
  readonly kind: MediaKind;
  readonly mid: string;
  readonly codec: NegotiatedCodec;
  readonly rtxPayloadType: number | undefined;
  /** RED's payload type, when the sender may send RED (RFC 2198). */
  readonly redPayloadType: number | undefined;
  readonly cname: string | undefined;
  readonly consumers = new Set<Consumer>();
  /** Recent packets (copies), for NACK answers: 256 of video (~2 s at 1 Mb/s, ~1 s at 2.5), 128 of audio (2.5 s); 370 kB per participant. */
  readonly buffer: PacketHistory;
  /**
   * The levels its packets carry on the TypeScript path, when the audio level extension
   * was negotiated (audio only; undefined otherwise). Read them with readAudioLevel(),
   * which also covers the native path (the core reads them there).
   */
  private readonly audioLevel: AudioLevelMeter | undefined;
  /** The id of the audio level extension (RFC 6464) its packets carry (audio only), if negotiated. */
  readonly audioLevelExtensionId: number | undefined;
  private readonly counters: ProducerStats = {
    packets: 0,
    bytes: 0,
    lost: 0,
    duplicates: 0,
    retransmissionsReceived: 0,
    nacksSent: 0,
    nackedPackets: 0,
    keyframeRequests: 0,
    keyframeRequestsSent: 0,
    senderReports: 0,
    jitter: 0,
  };
  /** @internal the producer's entry in the native packet core (its transport is on the core): packets reach JavaScript only while it is tapped (sinksChanged). */
  native: NativeProducer | undefined;
  /** The entry in the core that JavaScript feeds, once a transport on the core consumes this producer (not one of the core's). */
  private fed: NativeProducer | undefined;
  private tapped = false;
  private ssrcValue: number | undefined;
  private rtxSsrcValue: number | undefined;
  private readonly keyframes: KeyframeRequester;
  private closed = false;
  private paused = false;
  private highestSeq: number | undefined;
  private cycles = 0;
  private baseSeq = 0;
  private lastReport = { expected: 0, received: 0 };
  private lastSr: { compact: number; at: number } | undefined;
  private transit: number | undefined;
  /** Packets NACKed and not received yet, oldest first: sequence number, NACKs sent, when the last went. */
  private missing: Array<{ seq: number; tries: number; at: number }> = [];
  private retryCheckedAt = 0;

  constructor(
    parameters: ProducerParameters,
    private readonly link: ProducerLink,
  ) {
    super();
    this.kind = parameters.kind;
    this.mid = parameters.mid;
    this.codec = parameters.codec;
    this.ssrcValue = parameters.ssrc;
    this.rtxSsrcValue = parameters.rtxSsrc;
    this.rtxPayloadType = parameters.rtxPayloadType;
    this.redPayloadType = parameters.redPayloadType;
    this.cname = parameters.cname;
    this.audioLevelExtensionId = parameters.kind === 'audio' ? parameters.audioLevelExtensionId : undefined;
    this.audioLevel = this.audioLevelExtensionId !== undefined ? new AudioLevelMeter() : undefined;
    this.buffer = parameters.kind === 'video' ? new PacketHistory({ slots: 256, slotBytes: 1280 }) : new PacketHistory({ slots: 128, slotBytes: 320 });
    this.keyframes = new KeyframeRequester(() => {
      if (this.ssrcValue === undefined) return;
      this.counters.keyframeRequestsSent++;
      this.link.sendKeyframeRequest(this.ssrcValue);
    }, 500);
  }

  /** Receive statistics (on the native path, as the packet core counts them). */
  get stats(): ProducerStats {
    this.syncNative();
    return this.counters;
  }

  get ssrc(): number | undefined {
    return this.ssrcValue;
  }

  get rtxSsrc(): number | undefined {
    return this.rtxSsrcValue;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** @internal the transport learned the SSRC from a packet carrying this producer's mid. */
  bindSsrc(ssrc: number): void {
    this.ssrcValue = ssrc;
  }

  /** Stops forwarding to consumers (packets are still received and held). */
  pause(): void {
    this.assertOpen();
    this.paused = true;
    this.native?.setPaused(true);
  }

  resume(): void {
    this.assertOpen();
    if (!this.paused) return;
    this.paused = false;
    this.native?.setPaused(false);
    this.requestKeyframe();
  }

  /** A consumer (or the owner) wants a keyframe: one PLI per 500 ms at most goes to the sender. */
  requestKeyframe(): void {
    if (this.closed || this.kind !== 'video') return;
    this.counters.keyframeRequests++;
    this.keyframes.request();
  }

  /** @internal one packet from the sender, unprotected (and unwrapped if it came as RTX). */
  receive(packet: RtpView, now: number, retransmission: boolean): void {
    const seq = packet.header.sequenceNumber;
    if (this.buffer.has(seq)) {
      this.counters.duplicates++;
      return;
    }
    if (retransmission) this.counters.retransmissionsReceived++;
    this.counters.packets++;
    this.counters.bytes += packet.end - packet.payloadOffset;
    this.track(seq, packet.header.timestamp, now);
    this.buffer.push(packet);
    if (this.audioLevel) {
      const level = readAudioLevel(packet, this.audioLevelExtensionId!);
      if (level) this.audioLevel.push(level);
    }
    if (this.paused) return;
    let native = false;
    for (const consumer of this.consumers) {
      if (consumer.native) native = true;
      else consumer.forward(packet, now);
    }
    // Once for every consumer in the core, which rewrites, protects and sends for each.
    if (native) this.fed?.feed(packet.data.subarray(0, packet.end));
  }

  /**
   * @internal the producer's entry in `core` that consumers there forward from: its own
   * when it is in the core, else one that this producer feeds with what it receives.
   */
  nativeSource(core: NativePacketCore): NativeProducer {
    this.assertOpen();
    if (this.native) return this.native;
    if (this.fed?.core !== core || !this.fed.usable) {
      this.fed = NativeProducer.fed(core, { payloadType: this.codec.payloadType, clockRate: this.codec.clockRate, mimeType: this.codec.mimeType, video: this.kind === 'video' });
    }
    return this.fed;
  }

  /**
   * @internal a consumer came, went, paused or resumed: a producer in the core is tapped
   * while a JavaScript sink of it forwards.
   */
  sinksChanged(): void {
    if (!this.native || this.closed) return;
    let sinks = false;
    for (const consumer of this.consumers) if (!consumer.native && !consumer.isPaused) sinks = true;
    if (sinks === this.tapped) return;
    this.tapped = sinks;
    this.native.setTap(sinks ? (data, retransmission) => this.onTapped(data, retransmission) : undefined);
  }

  /** A packet the core handed up for the JavaScript sinks (it counted, deduplicated and forwarded it natively). */
  private onTapped(data: Buffer, retransmission: boolean): void {
    const packet = readRtp(data);
    if (!packet || this.closed) return;
    const now = performance.now();
    // For a TypeScript transport's consumer, whose subscriber NACKs here.
    if (!retransmission || !this.buffer.has(packet.header.sequenceNumber)) this.buffer.push(packet);
    if (this.paused) return;
    for (const consumer of this.consumers) if (!consumer.native) consumer.forward(packet, now);
  }

  /** Whether its packets carry audio levels (RFC 6464 negotiated on an audio track). */
  get carriesAudioLevels(): boolean {
    return this.audioLevel !== undefined;
  }

  /** The audio levels of its packets since the previous read (a new period starts), from the core on the native path; undefined when it carries none. */
  readAudioLevel(): AudioLevelReading | undefined {
    if (!this.audioLevel) return undefined;
    return this.native ? this.native.readAudioLevel() : this.audioLevel.read();
  }

  /** @internal a sender report from the sender: remembered for our receiver report's LSR/DLSR. */
  onSenderReport(ntpSec: number, ntpFrac: number, now: number): void {
    this.counters.senderReports++;
    this.lastSr = { compact: compactNtp(ntpSec, ntpFrac), at: now };
  }

  /** @internal the report block of our receiver report (RFC 3550 §6.4.1); undefined before any packet. */
  reportBlock(now: number): ReportBlock | undefined {
    this.syncNative();
    if (this.highestSeq === undefined || this.ssrcValue === undefined) return undefined;
    const extended = this.cycles * 0x10000 + this.highestSeq;
    const expected = extended - this.baseSeq + 1;
    const received = this.counters.packets;
    const expectedInterval = expected - this.lastReport.expected;
    const receivedInterval = received - this.lastReport.received;
    const lostInterval = expectedInterval - receivedInterval;
    this.lastReport = { expected, received };
    return {
      ssrc: this.ssrcValue,
      fractionLost: expectedInterval <= 0 || lostInterval <= 0 ? 0 : Math.min(255, Math.floor((lostInterval * 256) / expectedInterval)),
      packetsLost: Math.max(0, expected - received),
      highestSeq: extended >>> 0,
      jitter: Math.floor(this.counters.jitter),
      lsr: this.lastSr?.compact ?? 0,
      dlsr: this.lastSr ? Math.floor(((now - this.lastSr.at) / 1000) * 65536) : 0,
    };
  }

  /** Lowest bitrate any consumer's receiver reported (REMB), if any did. */
  minConsumerBitrate(): number | undefined {
    let min: number | undefined;
    for (const c of this.consumers) {
      const e = c.estimatedBitrate;
      if (e !== undefined && (min === undefined || e < min)) min = e;
    }
    return min;
  }

  /** Closes the producer and every consumer of it. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.syncNative();
    this.keyframes.close();
    for (const consumer of [...this.consumers]) consumer.close();
    this.consumers.clear();
    this.buffer.clear();
    this.fed?.remove();
    this.fed = undefined;
    this.link.producerClosed(this);
    this.emit('close');
    this.removeAllListeners();
  }

  /** The native core's counts and sequence state replace ours (nothing reaches receive() there). */
  private syncNative(): void {
    if (!this.native) return;
    const n = this.native.counters();
    if (!n) return;
    const c = this.counters;
    c.packets = n.packets;
    c.bytes = n.bytes;
    c.lost = n.lost;
    c.duplicates = n.duplicates;
    c.retransmissionsReceived = n.retransmissionsReceived;
    c.nacksSent = n.nacksSent;
    c.nackedPackets = n.nackedPackets;
    c.jitter = n.jitter;
    if (n.highestSeq !== undefined) {
      this.highestSeq = n.highestSeq;
      this.cycles = n.cycles;
      this.baseSeq = n.baseSeq;
    }
  }

  private track(seq: number, timestamp: number, now: number): void {
    // Interarrival jitter in timestamp units.
    const arrival = (now * this.codec.clockRate) / 1000;
    const transit = arrival - timestamp;
    if (this.transit !== undefined) {
      const d = Math.abs(transit - this.transit);
      if (d < this.codec.clockRate * 10) this.counters.jitter += (d - this.counters.jitter) / 16;
    }
    this.transit = transit;
    if (this.missing.length > 0) {
      const i = this.missing.findIndex((m) => m.seq === seq);
      if (i >= 0) this.missing.splice(i, 1);
    }
    if (this.highestSeq === undefined) {
      this.highestSeq = seq;
      this.baseSeq = seq;
      return;
    }
    const d = seqDiff(seq, this.highestSeq);
    if (d > 0) {
      if (seq < this.highestSeq) this.cycles++;
      if (d > 1) {
        this.counters.lost += d - 1;
        if (d - 1 <= MAX_NACK_GAP && this.ssrcValue !== undefined && this.codec.rtcpFeedback.includes('nack')) {
          const lost: number[] = [];
          for (let i = 1; i < d; i++) lost.push((this.highestSeq + i) & 0xffff);
          this.counters.nacksSent++;
          this.counters.nackedPackets += lost.length;
          for (const s of lost) this.missing.push({ seq: s, tries: 1, at: now });
          if (this.missing.length > MAX_NACK_GAP) this.missing.splice(0, this.missing.length - MAX_NACK_GAP);
          this.link.sendNack(this.ssrcValue, lost);
        }
      }
      this.highestSeq = seq;
    } else if (this.counters.lost > 0) {
      this.counters.lost--;
    }
    this.retryNacks(now);
  }

  /** Asks again for the packets NACKed NACK_RETRY_MS ago and still missing; forgets those asked NACK_TRIES times. */
  private retryNacks(now: number): void {
    if (this.missing.length === 0 || now - this.retryCheckedAt < 20 || this.ssrcValue === undefined) return;
    this.retryCheckedAt = now;
    const again: number[] = [];
    this.missing = this.missing.filter((m) => {
      if (now - m.at < NACK_RETRY_MS) return true;
      if (m.tries >= NACK_TRIES) return false;
      m.tries++;
      m.at = now;
      again.push(m.seq);
      return true;
    });
    if (again.length === 0) return;
    this.counters.nacksSent++;
    this.counters.nackedPackets += again.length;
    this.link.sendNack(this.ssrcValue, again);
  }

  private assertOpen(): void {
    if (this.closed) throw new ClosedError(`producer ${this.id}`);
  }
}
