import { randomBytes, randomUUID } from 'node:crypto';
import { ClosedError, MediaError } from '../core/errors.js';
import { TypedEmitter } from '../core/TypedEmitter.js';
import type { MediaKind } from '../core/types.js';
import type { NativeConsumer, NativeProducer } from '../native/NativeTransport.js';
import { isKeyframe } from '../rtp/keyframe.js';
import { tsAdd } from '../rtp/seq.js';
import { StreamRewriter } from '../rtp/StreamRewriter.js';
import type { Producer } from './Producer.js';
import { primaryOf, withBlockPayloadType } from './red.js';
import { compactNtp, ntpNow, writeSr, type ReportBlock } from './rtcp.js';
import { payloadOf, readRtp, type RtpView } from './RtpView.js';
import { Vp8PictureRewriter } from './simulcast/vp8Descriptor.js';
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
  /** Simulcast VP8 packets whose payload descriptor could not be read. */
  droppedMalformed: number;
  /** Simulcast: switches from one layer to another (the first layer counts). */
  layerSwitches: number;
  /** RED packets sent as RED (the subscriber accepted it). */
  redForwarded: number;
  /** RED packets of which only the primary block was sent (the subscriber did not accept RED). */
  redPrimaryOnly: number;
  nacksReceived: number;
  retransmitted: number;
  /** NACKed packets no longer (or never) in the producer's history. */
  retransmitMisses: number;
  /** NACKed packets not resent: resent less than a round trip ago, or sent before the last layer switch (see StreamRewriter.resendable). */
  retransmitsSkipped: number;
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
  /** A simulcast consumer started forwarding another layer (at its keyframe). */
  layerchange: [layer: number];
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
  /** A simulcast consumer's request changed: the transport's layer selection runs again. Default: nothing. */
  layersRequested?(consumer: Consumer): void;
}

/**
 * What a receiver asks of a simulcast consumer: at most this layer (0: the lowest), or at
 * most this size (the tile it shows: the smallest layer at least that big, as far as the
 * layers' sizes are known); `pinned`: served before the others when the downlink does not
 * carry everything (default false); 'off': no layer at all (nothing is forwarded).
 * Default: no limit (the highest layer the available bitrate allows).
 */
export type LayerRequest = { maxLayer?: number; maxWidth?: number; maxHeight?: number; pinned?: boolean } | 'off';

/** INVALID_ARGUMENT unless `request` is a LayerRequest. */
export function validateLayerRequest(request: unknown): asserts request is LayerRequest {
  if (request === 'off') return;
  if (typeof request !== 'object' || request === null) throw new MediaError('INVALID_ARGUMENT', "a layer request is {maxLayer?, maxWidth?, maxHeight?, pinned?} or 'off'");
  const r = request as Record<string, unknown>;
  if (r['pinned'] !== undefined && typeof r['pinned'] !== 'boolean') throw new MediaError('INVALID_ARGUMENT', 'pinned must be a boolean');
  for (const key of ['maxLayer', 'maxWidth', 'maxHeight']) {
    const v = r[key];
    if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < 0)) throw new MediaError('INVALID_ARGUMENT', `${key} must be a non-negative integer`);
  }
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

/** The least time between two resends of one packet before a receiver report gave the round trip (mediasoup's and libwebrtc's default RTT). */
export const RESEND_DEFAULT_RTT_MS = 100;

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
    droppedMalformed: 0,
    layerSwitches: 0,
    redForwarded: 0,
    redPrimaryOnly: 0,
    nacksReceived: 0,
    retransmitted: 0,
    retransmitMisses: 0,
    retransmitsSkipped: 0,
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
  /** Simulcast: the layer forwarded now (-1: none yet, or waiting for a keyframe after a gap). */
  private current = -1;
  /** Simulcast: the layer to forward, from its next keyframe on (-1: none). */
  private target = -1;
  private request: LayerRequest = {};
  /** It carries the room's active speaker (setSpeaker). */
  private speaker = false;
  /** Simulcast VP8: picture ids and TL0PICIDX continuous across layers. */
  private readonly pictures = new Vp8PictureRewriter<Producer>();
  /**
   * @internal a simulcast consumer on a receiving transport on the native core: it selects
   * and rewrites here, and hands its packets to this entry, which its NativeConsumer
   * forwards (protects, sends, answers NACKs from).
   */
  feed: NativeProducer | undefined;

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
    if (this.simulcast) {
      // Until the transport's layer selection says otherwise: the lowest layer that arrives, or the lowest.
      const states = producer.layerStates();
      const arriving = states.findIndex((l) => l.arriving);
      this.setTargetLayer(arriving >= 0 ? arriving : 0);
    } else if (!this.paused) producer.requestKeyframe();
  }

  /** Whether its producer is simulcast (it forwards one layer of it). */
  get simulcast(): boolean {
    return this.source.layers.length > 0;
  }

  /** Simulcast: the layer it forwards now (-1: none). */
  get currentLayer(): number {
    return this.current;
  }

  /** Simulcast: the layer it switches to at that layer's next keyframe (-1: none). */
  get targetLayer(): number {
    return this.target;
  }

  /** What the receiver asked for (setRequest). */
  get layerRequest(): LayerRequest {
    return this.request;
  }

  /**
   * The receiver's wish for a simulcast consumer (the tile size it shows, say): the
   * transport's layer selection takes it with the available bitrate and the layers that
   * arrive. INVALID_ARGUMENT for a request that is not one (nothing changes).
   */
  setRequest(request: LayerRequest): void {
    this.assertOpen();
    validateLayerRequest(request);
    this.request = request === 'off' ? 'off' : { ...request };
    if (request === 'off') this.setTargetLayer(-1);
    this.link.layersRequested?.(this);
  }

  /** Whether it carries the room's active speaker (its video is served first when the downlink is short). */
  get isSpeaker(): boolean {
    return this.speaker;
  }

  /** The room's active speaker is (or is no longer) whom it carries: the layer selection runs again. */
  setSpeaker(speaking: boolean): void {
    if (this.closed || this.speaker === speaking) return;
    this.speaker = speaking;
    if (this.simulcast) this.link.layersRequested?.(this);
  }

  /**
   * Simulcast: forward layer `layer` (-1: none) from its next keyframe, asked for now; the
   * current layer goes on until then. The transport's layer selection calls this; tests
   * and owners without one may too. INVALID_ARGUMENT for a layer the producer does not have.
   */
  setTargetLayer(layer: number): void {
    this.assertOpen();
    if (!Number.isInteger(layer) || layer < -1 || layer >= this.source.layers.length) throw new MediaError('INVALID_ARGUMENT', `no layer ${layer} (the producer has ${this.source.layers.length})`);
    if (layer === this.target) return;
    this.target = layer;
    if (layer === -1) this.current = -1;
    else if (layer !== this.current && !this.paused) this.source.layers[layer]!.requestKeyframe();
    this.source.layersChanged();
  }

  /** @internal the layers it takes: the current and the target one (the producer pauses the others). */
  takenLayers(): number[] {
    if (this.closed || this.paused) return [];
    return this.current === this.target ? [this.current] : [this.current, this.target];
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
    if (this.simulcast || producer.layers.length > 0) throw new MediaError('INVALID_STATE', 'a simulcast consumer cannot change producer');
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
    if (this.simulcast) {
      this.current = -1;
      this.producer.layersChanged();
    }
  }

  /** Forwards again, from the producer's next keyframe (asked for now). */
  resume(): void {
    this.assertOpen();
    if (!this.paused) return;
    this.paused = false;
    // The core waits for a keyframe itself on resume.
    this.native?.setPaused(false);
    this.producer.sinksChanged();
    if (this.simulcast) {
      this.producer.layersChanged();
      this.requestKeyframe();
    } else if (this.kind === 'video') {
      this.awaitingKeyframe = true;
      this.producer.requestKeyframe();
    }
  }

  /** A keyframe of what it forwards (simulcast: of its target layer) is asked of the sender. */
  requestKeyframe(): void {
    if (this.closed) return;
    if (this.simulcast) {
      if (this.target >= 0) this.source.layers[this.target]!.requestKeyframe();
      return;
    }
    this.producer.requestKeyframe();
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

  /**
   * @internal a packet of layer `index` (`layer`) of a simulcast producer: forwarded when
   * it is of the current layer; the target layer's keyframe switches to it. Sequence
   * numbers and timestamps continue across layers (StreamRewriter), so do VP8's picture
   * ids (Vp8PictureRewriter).
   */
  forwardLayer(index: number, layer: Producer, packet: RtpView, now: number): void {
    if (this.closed || this.paused || this.target < 0) return;
    if (!this.link.canSend()) {
      // Whatever reaches the subscriber first after the gap must be a keyframe.
      this.current = -1;
      return;
    }
    if (index !== this.current) {
      if (index !== this.target) return;
      const payload = payloadOf(packet);
      if (payload.length === 0) return;
      if (!isKeyframe(this.codec.mimeType, payload)) {
        if (this.current < 0) this.counters.droppedAwaitingKeyframe++;
        return;
      }
      this.current = index;
      this.counters.layerSwitches++;
      this.sendLayerPacket(layer, packet, now, true);
      this.source.layersChanged();
      this.emit('layerchange', index);
      return;
    }
    this.sendLayerPacket(layer, packet, now, false);
  }

  /** Rewrites and sends one packet of a layer; false when it could not be sent. */
  private sendLayerPacket(layer: Producer, packet: RtpView, now: number, restart: boolean): boolean {
    // Padding-only packets (the sender probing) carry nothing to forward.
    if (packet.end - packet.payloadOffset === 0 || payloadOf(packet).length === 0) return false;
    const rewritten = this.rewritePayload(layer, packet, restart);
    if (!rewritten) {
      this.counters.droppedMalformed++;
      return false;
    }
    const h = packet.header;
    const out = this.rewriter.rewrite(layer, h.sequenceNumber, h.timestamp, this.codec.clockRate, now);
    if (!out) {
      this.counters.droppedBeforeStart++;
      return false;
    }
    // Native path: the core answers the NACKs, from what was fed; nothing from before the switch (StreamRewriter.resendable).
    if (out.switched) this.native?.setResendFloor(out.seq);
    this.link.sendRtp(rewritten, this.codec.payloadType, out.seq, out.ts, this.ssrc);
    this.counters.packets++;
    this.counters.bytes += rewritten.end - rewritten.payloadOffset;
    return true;
  }

  /** VP8: the packet with its picture id and TL0PICIDX continued for this consumer (a copy when they change). */
  private rewritePayload(layer: Producer, packet: RtpView, restart: boolean): RtpView | undefined {
    if (this.codec.mimeType.toLowerCase() !== 'video/vp8') return packet;
    const payload = payloadOf(packet);
    const out = this.pictures.rewrite(layer, payload, restart);
    if (!out) return undefined;
    if (out === payload) return packet;
    const data = Buffer.from(packet.data.subarray(0, packet.end));
    out.copy(data, packet.payloadOffset);
    return readRtp(data);
  }

  /** @internal the subscriber lost these of our sequence numbers: resend them from the producer's history. */
  onNack(lost: readonly number[]): void {
    // The native core answered it already, from its own history, and counted it.
    if (this.native) return;
    this.counters.nacksReceived++;
    const now = performance.now();
    const interval = this.resendIntervalMs();
    for (const seq of lost) {
      const sent = this.rewriter.lookup(seq);
      const held = sent ? sent.stream.buffer.get(sent.inSeq) : undefined;
      if (!sent || !held) {
        this.counters.retransmitMisses++;
        continue;
      }
      if (!this.rewriter.resendable(seq, now, interval)) {
        this.counters.retransmitsSkipped++;
        continue;
      }
      // A simulcast layer's packet gets the picture ids it was sent with.
      const original = sent.stream.parent ? this.rewritePayload(sent.stream, held, false) : held;
      if (!original) {
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

  /** The least time between two resends of one packet: the round trip to the subscriber (RESEND_DEFAULT_RTT_MS until a report gave it). */
  private resendIntervalMs(): number {
    const rtt = this.counters.roundTripTime;
    return rtt === undefined ? RESEND_DEFAULT_RTT_MS : rtt * 1000;
  }

  /** @internal PLI (or FIR) from the subscriber. */
  onKeyframeRequest(fir: boolean): void {
    if (fir) this.counters.firsReceived++;
    else this.counters.plisReceived++;
    this.requestKeyframe();
  }

  /** @internal a report block about our SSRC from the subscriber's RR or SR. */
  onReport(block: ReportBlock, now: number): void {
    this.counters.receiverReports++;
    this.counters.fractionLost = block.fractionLost / 256;
    this.counters.packetsLostReported = block.packetsLost;
    if (this.lastSr && block.lsr === this.lastSr.compact && block.lsr !== 0) {
      const rtt = (now - this.lastSr.at) / 1000 - block.dlsr / 65536;
      if (rtt >= 0) {
        this.counters.roundTripTime = rtt;
        this.native?.setResendInterval(this.resendIntervalMs());
      }
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
    this.producer.layersChanged();
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
    c.retransmitsSkipped = n.retransmitsSkipped;
  }

  private assertOpen(): void {
    if (this.closed) throw new ClosedError(`consumer ${this.id}`);
  }
}
