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
import { payloadOf, readRtp, type RtpView } from './RtpView.js';
import { isVp8KeyframeStart, readVp8Descriptor } from './simulcast/vp8Descriptor.js';
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
  /**
   * A simulcast producer's layers that some consumer takes changed: `active[i]` says
   * whether layer i (in `layers` order) is wanted. The owner asks the sender to pause the
   * others (and to resume them when they are wanted again).
   */
  layers: [active: boolean[]];
}

/** A simulcast layer as the layer selection sees it (Producer.layerStates). */
export interface LayerState {
  rid: string;
  /** Bits/s over the last second or so; the last known rate while it does not arrive, else undefined. */
  bitrate: number | undefined;
  /** Frame height from its last keyframe (VP8), when known. */
  height: number | undefined;
  width: number | undefined;
  /** Packets arrived within LAYER_QUIET_MS. */
  arriving: boolean;
  /** Arriving, or just asked for (new, resumed), or paused by us after it came: a consumer may target it. */
  available: boolean;
  /** Whether the sender was last asked to send it (see the 'layers' event). */
  wanted: boolean;
}

/** A layer whose packets stopped for this long is not offered to consumers (the sender dropped it). */
export const LAYER_QUIET_MS = 2000;
/** A paused layer that did not come back when asked is not asked again for this long. */
export const LAYER_RETRY_MS = 10_000;

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
  /**
   * Simulcast (video): the layers the sender offered, lowest resolution first, and the RID
   * extensions that name them in packets. The producer then keeps one stream per layer
   * (`layers`), whose SSRCs are learned from the RID extension. Default none: one stream.
   */
  simulcast?: { rids: string[]; ridExtensionId: number; repairedRidExtensionId: number | undefined } | undefined;
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
  /**
   * Simulcast: one stream per layer, lowest first, each a Producer of its own (its SSRC,
   * RTX, history, loss, NACKs, report block, keyframe requests) whose packets come to
   * this one (fromLayer) for the consumers. Empty for a single stream.
   */
  readonly layers: Producer[] = [];
  /** The simulcast layer's RTP stream id (a layer of `parent`); undefined otherwise. */
  readonly rid: string | undefined;
  /** The simulcast producer this one is a layer of. */
  readonly parent: Producer | undefined;
  /** The RID extensions of a simulcast producer's packets. */
  readonly ridExtensionId: number | undefined;
  readonly repairedRidExtensionId: number | undefined;
  /** Layers wanted by some consumer, as last said in a 'layers' event (all, before any). */
  private wantedLayers: boolean[] = [];
  /** A layer's rate sampling and picture size (layers only). */
  private sample = { bytes: 0, at: -Infinity, bitrate: undefined as number | undefined, lastGrowthAt: -Infinity, resumedAt: -Infinity, refusedAt: -Infinity, changedAt: -Infinity };
  private size: { width: number; height: number } | undefined;
  /** Packets NACKed and not received yet, oldest first: sequence number, NACKs sent, when the last went. */
  private missing: Array<{ seq: number; tries: number; at: number }> = [];
  private retryCheckedAt = 0;

  constructor(
    parameters: ProducerParameters,
    private readonly link: ProducerLink,
    /** @internal set when the producer is a simulcast layer of `parent`. */
    layer?: { rid: string; parent: Producer },
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
    this.rid = layer?.rid;
    this.parent = layer?.parent;
    const simulcast = parameters.kind === 'video' && !layer ? parameters.simulcast : undefined;
    this.ridExtensionId = simulcast?.ridExtensionId;
    this.repairedRidExtensionId = simulcast?.repairedRidExtensionId;
    if (simulcast) {
      // Their SSRCs come from the RID extension of their first packets, never from the SDP.
      this.ssrcValue = undefined;
      this.rtxSsrcValue = undefined;
      for (const rid of simulcast.rids) this.layers.push(new Producer({ ...parameters, ssrc: undefined, rtxSsrc: undefined, simulcast: undefined }, link, { rid, parent: this }));
      this.wantedLayers = this.layers.map(() => true);
      const now = performance.now();
      for (const l of this.layers) l.sample.resumedAt = now;
    }
    this.buffer = parameters.kind === 'video' ? new PacketHistory({ slots: 256, slotBytes: 1280 }) : new PacketHistory({ slots: 128, slotBytes: 320 });
    this.keyframes = new KeyframeRequester(() => {
      if (this.ssrcValue === undefined) return;
      this.counters.keyframeRequestsSent++;
      this.link.sendKeyframeRequest(this.ssrcValue);
    }, 500);
  }

  /** Receive statistics (on the native path, as the packet core counts them). */
  get stats(): ProducerStats {
    if (this.layers.length > 0) return this.layerSum();
    this.syncNative();
    return this.counters;
  }

  /** A simulcast producer's counts: its layers' added up (jitter: the highest). */
  private layerSum(): ProducerStats {
    const sum = { ...this.counters, packets: 0, bytes: 0, lost: 0, duplicates: 0, retransmissionsReceived: 0, nacksSent: 0, nackedPackets: 0, keyframeRequestsSent: 0, senderReports: 0, jitter: 0 };
    for (const layer of this.layers) {
      const l = layer.stats;
      sum.packets += l.packets;
      sum.bytes += l.bytes;
      sum.lost += l.lost;
      sum.duplicates += l.duplicates;
      sum.retransmissionsReceived += l.retransmissionsReceived;
      sum.nacksSent += l.nacksSent;
      sum.nackedPackets += l.nackedPackets;
      sum.keyframeRequestsSent += l.keyframeRequestsSent;
      sum.senderReports += l.senderReports;
      sum.jitter = Math.max(sum.jitter, l.jitter);
    }
    return sum;
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

  /** @internal the transport learned the SSRC from a packet carrying this producer's mid (or a layer's from its RID). */
  bindSsrc(ssrc: number): void {
    this.ssrcValue = ssrc;
  }

  /** @internal a simulcast layer's RTX SSRC, learned from the repaired RID extension. */
  bindRtxSsrc(ssrc: number): void {
    this.rtxSsrcValue = ssrc;
  }

  /** The simulcast layer of RTP stream id `rid`. */
  layerByRid(rid: string): Producer | undefined {
    return this.layers.find((l) => l.rid === rid);
  }

  /**
   * The layers as the layer selection sees them now (simulcast producers; empty
   * otherwise): their rates (sampled here, about once a second), sizes, whether they
   * arrive, whether the sender was asked for them.
   */
  layerStates(now = performance.now()): LayerState[] {
    return this.layers.map((layer, i) => {
      const s = layer.sample;
      layer.sampleBitrate(now);
      const wanted = this.wantedLayers[i] ?? true;
      const arriving = now - s.lastGrowthAt < LAYER_QUIET_MS;
      // Asked for lately (a new producer, a resumed layer): its first packets may be on their way. One
      // we paused may be asked back: the lowest at any time (a browser drops the highest layers when its
      // picture or its bitrate is small, never the lowest: a receiver whose downlink falls must have
      // somewhere to go), another once LAYER_RETRY_MS passed since it was asked in vain, or since it was
      // paused before it ever came (its sender's setParameters may not have taken the resume).
      const available = arriving || now - s.resumedAt < LAYER_QUIET_MS * 2 || (!wanted && (i === 0 || now - s.refusedAt > LAYER_RETRY_MS));
      return { rid: layer.rid!, bitrate: s.bitrate, width: layer.size?.width, height: layer.size?.height, arriving, available, wanted };
    });
  }

  /**
   * @internal the rate of its payload bytes, sampled about once a second by whoever asks
   * (the layer selection); the last known rate while nothing arrives, undefined before.
   */
  sampleBitrate(now = performance.now()): number | undefined {
    const s = this.sample;
    const bytes = this.stats.bytes;
    if (bytes > s.bytes) s.lastGrowthAt = now;
    if (now - s.at >= 900 || bytes < s.bytes) {
      // A simulcast layer's rate is kept from the last whole window it was wanted in: one cut by
      // a pause or a resume reads low, and would make it look cheaper than it is.
      const whole = !this.parent || (this.parent.isLayerWanted(this.parent.layers.indexOf(this)) && s.at >= s.changedAt);
      if (s.at > -Infinity && bytes > s.bytes && whole) s.bitrate = ((bytes - s.bytes) * 8000) / (now - s.at);
      s.bytes = bytes;
      s.at = now;
    }
    return s.bitrate;
  }

  /**
   * @internal the consumers' layers changed: the layers nobody takes (as current or
   * target layer) are no longer wanted, and a 'layers' event asks the owner to tell the
   * sender. While the producer is paused, nothing is wanted.
   */
  layersChanged(): void {
    if (this.layers.length === 0 || this.closed) return;
    const wanted = this.layers.map(() => false);
    if (!this.paused) {
      for (const consumer of this.consumers) for (const i of consumer.takenLayers()) if (i >= 0 && i < wanted.length) wanted[i] = true;
    }
    if (wanted.every((w, i) => w === this.wantedLayers[i])) return;
    const now = performance.now();
    wanted.forEach((w, i) => {
      const s = this.layers[i]!.sample;
      if (w && !this.wantedLayers[i]) s.resumedAt = now;
      if (w !== this.wantedLayers[i]) s.changedAt = now;
      // Asked back and never came (the sender's own bandwidth estimate keeps it off): not asked again for a while.
      if (!w && this.wantedLayers[i] && s.lastGrowthAt < s.resumedAt) s.refusedAt = now;
    });
    this.wantedLayers = wanted;
    this.emit('layers', [...wanted]);
  }

  /** Whether the sender was last asked to send layer `index` (true before any 'layers' event). */
  isLayerWanted(index: number): boolean {
    return this.wantedLayers[index] ?? false;
  }

  /** A layer's picture size from its last VP8 keyframe (undefined before one, and for H.264). */
  get frameSize(): { width: number; height: number } | undefined {
    return this.size;
  }

  /** Stops forwarding to consumers (packets are still received and held). */
  pause(): void {
    this.assertOpen();
    this.paused = true;
    this.native?.setPaused(true);
    this.layersChanged();
  }

  resume(): void {
    this.assertOpen();
    if (!this.paused) return;
    this.paused = false;
    this.native?.setPaused(false);
    this.layersChanged();
    this.requestKeyframe();
  }

  /**
   * A consumer (or the owner) wants a keyframe: one PLI per 500 ms at most goes to the
   * sender. A simulcast producer asks each layer that is wanted.
   */
  requestKeyframe(): void {
    if (this.closed || this.kind !== 'video') return;
    this.counters.keyframeRequests++;
    if (this.layers.length > 0) {
      this.layers.forEach((layer, i) => {
        if (this.wantedLayers[i]) layer.requestKeyframe();
      });
      return;
    }
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
    if (this.parent) {
      this.parent.fromLayer(this, packet, now);
      return;
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
    for (const layer of this.layers) layer.sinksChanged();
    if (!this.native || this.closed) return;
    let sinks = false;
    // A layer's packets go up for its simulcast producer's consumers, which all select in JavaScript.
    if (this.parent) {
      for (const consumer of this.parent.consumers) if (!consumer.isPaused) sinks = true;
    }
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
    if (this.parent) {
      this.parent.fromLayer(this, packet, now);
      return;
    }
    if (this.paused) return;
    for (const consumer of this.consumers) if (!consumer.native) consumer.forward(packet, now);
  }

  /** A packet of layer `layer` (one of ours): to every consumer, which keeps the layers it takes. */
  private fromLayer(layer: Producer, packet: RtpView, now: number): void {
    layer.readFrameSize(packet);
    if (this.paused || this.closed) return;
    const index = this.layers.indexOf(layer);
    for (const consumer of this.consumers) consumer.forwardLayer(index, layer, packet, now);
  }

  /** A VP8 keyframe's size (RFC 6386 §9.1: 14 bits each after the start code), for the layer selection. */
  private readFrameSize(packet: RtpView): void {
    if (this.codec.mimeType.toLowerCase() !== 'video/vp8') return;
    const payload = payloadOf(packet);
    const d = readVp8Descriptor(payload);
    if (!d || !isVp8KeyframeStart(payload, d)) return;
    const at = d.length;
    if (payload.length < at + 10 || payload[at + 3] !== 0x9d || payload[at + 4] !== 0x01 || payload[at + 5] !== 0x2a) return;
    this.size = { width: payload.readUInt16LE(at + 6) & 0x3fff, height: payload.readUInt16LE(at + 8) & 0x3fff };
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
    if (this.layers.length > 0) return undefined;
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
    for (const layer of this.layers) layer.close();
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
