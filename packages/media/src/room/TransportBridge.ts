import { RtpHeader, RtpPacket } from 'werift';
import { MediaElement, type MediaElementEvents } from '../core/MediaElement.js';
import type { MediaObject } from '../core/MediaObject.js';
import type { MediaKind } from '../core/types.js';
import { InboundStream } from '../rtp/InboundStream.js';
import { Consumer, type ConsumerLink } from '../transport/Consumer.js';
import { Producer, type ProducerLink } from '../transport/Producer.js';
import { payloadOf, readRtp, type RtpView } from '../transport/RtpView.js';
import type { NegotiatedCodec } from '../transport/transportSdp.js';

export interface TransportBridgeEvents extends MediaElementEvents {
  /** What the bridge's source sends became a producer (one per kind, at its first packet). */
  producer: [producer: Producer];
}

interface Attached {
  consumer: Consumer;
  stream: InboundStream;
}

/**
 * Where transports meet the element graph of a pipeline (the Composite, a recorder, an
 * endpoint). Both ways:
 * - attach(producer): the bridge emits that producer's packets to its sinks (one
 *   producer per kind; a newer one replaces the older), through a consumer of its own,
 *   so its sinks see one continuous stream per kind that starts on a keyframe;
 * - what its source sends (the mix of a Composite's port, an endpoint's media) becomes
 *   a producer per kind (`producer` event at the first packet of a kind), which
 *   receiving transports consume like any participant's.
 * It does not re-emit its input, so a port's output may feed it while it feeds the port.
 */
export class TransportBridge extends MediaElement<TransportBridgeEvents> {
  protected readonly forwardsInput = false;
  private readonly attached = new Map<MediaKind, Attached>();
  private readonly outputs = new Map<MediaKind, Producer>();
  /** performance.now() of the last packet of an attached producer, per kind. */
  private readonly producerPacketAt = { audio: 0, video: 0 };
  /** Sinks per kind: with none, the attached consumer of that kind is paused (nothing is copied). */
  private readonly sinkCount = { audio: 0, video: 0 };

  constructor(parent: MediaObject) {
    super('TransportBridge', parent);
    this.on('elementConnected', (_sink, kind) => {
      if (this.sinkCount[kind]++ === 0) this.setPaused(kind, false);
    });
    this.on('elementDisconnected', (_sink, kind) => {
      if (--this.sinkCount[kind] === 0) this.setPaused(kind, true);
    });
  }

  /** The producer made of the source's `kind` media, once its first packet came. */
  output(kind: MediaKind): Producer | undefined {
    return this.outputs.get(kind);
  }

  /** Whether the attached producer of `kind` sent a packet to the bridge's sinks within `withinMs` (false while nothing is connected). */
  isReceiving(kind: MediaKind, withinMs = 2000): boolean {
    const at = this.producerPacketAt[kind];
    return at > 0 && performance.now() - at < withinMs;
  }

  /** Emits `producer`'s packets to the bridge's sinks of its kind (until it or the bridge closes). */
  attach(producer: Producer): void {
    this.assertOpen();
    this.detach(producer.kind);
    const kind = producer.kind;
    const link: ConsumerLink = {
      canSend: () => true,
      sendRtp: (packet, payloadType, seq, timestamp, ssrc) => this.emitFromProducer(kind, packet, payloadType, seq, timestamp, ssrc),
      consumerClosed: () => {
        if (this.attached.get(kind)?.consumer === consumer) this.detach(kind);
      },
    };
    // Paused while nothing is connected; resuming asks for a keyframe, so a sink starts on one.
    const consumer = new Consumer(producer, `bridge-${kind}`, link, { paused: this.sinkCount[kind] === 0 });
    const stream = new InboundStream(kind, consumer.ssrc, consumer.codec, () => consumer.requestKeyframe());
    this.attached.set(kind, { consumer, stream });
  }

  acceptRtp(stream: InboundStream, packet: RtpPacket, now: number): void {
    if (this.closed) return;
    this.lastIn[stream.kind] = now;
    let producer = this.outputs.get(stream.kind);
    if (!producer) {
      producer = this.makeOutput(stream);
      this.outputs.set(stream.kind, producer);
      this.emit('producer', producer);
    }
    if (producer.isClosed) return;
    const view = readRtp(packet.serialize());
    if (view) producer.receive(view, now, false);
  }

  /** A sink wants a keyframe of what the bridge emits: the attached producer's sender is asked. */
  override requestKeyframe(kind: MediaKind): void {
    this.attached.get(kind)?.consumer.requestKeyframe();
  }

  protected onClose(): void {
    for (const kind of [...this.attached.keys()]) this.detach(kind);
    for (const producer of this.outputs.values()) producer.close();
    this.outputs.clear();
    this.disconnectAll();
  }

  private setPaused(kind: MediaKind, paused: boolean): void {
    const consumer = this.attached.get(kind)?.consumer;
    if (!consumer || consumer.isClosed) return;
    if (paused) consumer.pause();
    else {
      // Of a simulcast producer, what is connected (a recording, the mix) gets the best layer that arrives.
      if (consumer.simulcast) {
        const best = consumer.producer.layerStates().reduce((top, l, i) => (l.arriving ? i : top), -1);
        consumer.setTargetLayer(best >= 0 ? best : consumer.producer.layers.length - 1);
      }
      consumer.resume();
    }
  }

  private detach(kind: MediaKind): void {
    const attached = this.attached.get(kind);
    if (!attached) return;
    this.attached.delete(kind);
    attached.consumer.close();
    attached.stream.close();
  }

  private emitFromProducer(kind: MediaKind, packet: RtpView, payloadType: number, seq: number, timestamp: number, ssrc: number): void {
    const attached = this.attached.get(kind);
    if (!attached || this.closed) return;
    const now = performance.now();
    this.producerPacketAt[kind] = now;
    const header = new RtpHeader({ payloadType, sequenceNumber: seq, timestamp, ssrc, marker: packet.header.marker });
    const rtp = new RtpPacket(header, Buffer.from(payloadOf(packet)));
    attached.stream.receive(rtp, now);
    this.emitRtp(attached.stream, rtp, now);
  }

  private makeOutput(stream: InboundStream): Producer {
    const kind = stream.kind;
    const codec: NegotiatedCodec = { ...stream.codec, rtcpFeedback: kind === 'video' ? ['nack', 'nack pli'] : [] };
    const link: ProducerLink = {
      // Packets lost between the source and the bridge are not asked for again: they are in this process.
      sendNack: () => undefined,
      sendKeyframeRequest: () => this.requestInputKeyframe(kind),
      producerClosed: () => undefined,
    };
    return new Producer({ kind, mid: `bridge-${kind}`, codec, ssrc: stream.ssrc, rtxSsrc: undefined, rtxPayloadType: undefined, cname: undefined }, link);
  }
}
