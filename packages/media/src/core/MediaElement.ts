import type { RtpPacket } from 'werift';
import type { InboundStream } from '../rtp/InboundStream.js';
import { MediaError } from './errors.js';
import { MediaObject, type MediaObjectEvents } from './MediaObject.js';
import { MEDIA_KINDS, type MediaKind } from './types.js';

export interface MediaElementEvents extends MediaObjectEvents {
  elementConnected: [sink: MediaElement, kind: MediaKind];
  elementDisconnected: [sink: MediaElement, kind: MediaKind];
  mediaFlowingIn: [kind: MediaKind, flowing: boolean];
  mediaFlowingOut: [kind: MediaKind, flowing: boolean];
}

export interface ElementConnection {
  source: MediaElement;
  sink: MediaElement;
  kind: MediaKind;
}

/** The pipeline (top of the parent chain) an object belongs to. */
function rootOf(object: MediaObject): MediaObject {
  let current = object;
  while (current.parent) current = current.parent;
  return current;
}

/** Media is "flowing" while a packet was seen within this window. */
export const FLOWING_TIMEOUT_MS = 2000;

/**
 * A node of the media graph. An element feeds any number of sinks per media kind and
 * takes at most one source per kind: connecting a new source to a sink replaces the
 * old one, and the sink's outgoing stream continues seamlessly.
 */
export abstract class MediaElement<E extends MediaElementEvents = MediaElementEvents> extends MediaObject<E> {
  private readonly sources = new Map<MediaKind, MediaElement>();
  private readonly sinks = new Map<MediaKind, Set<MediaElement>>([
    ['audio', new Set()],
    ['video', new Set()],
  ]);
  /** performance.now() of the last packet in / out, per kind. */
  protected readonly lastIn = { audio: 0, video: 0 };
  protected readonly lastOut = { audio: 0, video: 0 };
  private readonly flowingIn = { audio: false, video: false };
  private readonly flowingOut = { audio: false, video: false };

  private get self(): MediaElement {
    return this as unknown as MediaElement;
  }

  /** Elements that re-emit what they receive (PassThrough) must not form cycles. */
  protected abstract readonly forwardsInput: boolean;

  connect(sink: MediaElement, kind?: MediaKind): void {
    this.assertOpen();
    if (sink.closed) throw new MediaError('OBJECT_CLOSED', `sink ${sink.id} is closed`);
    if (rootOf(sink) !== rootOf(this.self)) {
      throw new MediaError('INVALID_ARGUMENT', `cannot connect ${this.id} to ${sink.id}: they belong to another pipeline each`);
    }
    const kinds = kind ? [kind] : MEDIA_KINDS;
    for (const k of kinds) {
      if (sink.forwardsInput && this.reachableUpstream(sink, k)) {
        throw new MediaError('INVALID_ARGUMENT', `connecting ${this.id} to ${sink.id} would create a ${k} loop`);
      }
    }
    for (const k of kinds) {
      const previous = sink.sources.get(k);
      if (previous === this.self) continue;
      if (previous) previous.detachSink(sink, k);
      sink.sources.set(k, this.self);
      this.sinks.get(k)!.add(sink);
      this.emit('elementConnected', sink, k);
      sink.onSourceConnected(k);
    }
  }

  disconnect(sink: MediaElement, kind?: MediaKind): void {
    for (const k of kind ? [kind] : MEDIA_KINDS) {
      if (sink.sources.get(k) === this.self) this.detachSink(sink, k);
    }
  }

  getSourceConnections(kind?: MediaKind): ElementConnection[] {
    const out: ElementConnection[] = [];
    for (const k of kind ? [kind] : MEDIA_KINDS) {
      const source = this.sources.get(k);
      if (source) out.push({ source, sink: this.self, kind: k });
    }
    return out;
  }

  getSinkConnections(kind?: MediaKind): ElementConnection[] {
    const out: ElementConnection[] = [];
    for (const k of kind ? [kind] : MEDIA_KINDS) {
      for (const sink of this.sinks.get(k)!) out.push({ source: this.self, sink, kind: k });
    }
    return out;
  }

  isMediaFlowingIn(kind: MediaKind): boolean {
    return this.flowingIn[kind];
  }

  isMediaFlowingOut(kind: MediaKind): boolean {
    return this.flowingOut[kind];
  }

  /**
   * Takes one packet from this element's source. PassThrough-like elements re-emit
   * it; endpoints send it to their peer.
   */
  abstract acceptRtp(stream: InboundStream, packet: RtpPacket, now: number): void;

  /** Asks whoever originates this element's `kind` media for a keyframe. */
  requestKeyframe(kind: MediaKind): void {
    this.sources.get(kind)?.requestKeyframe(kind);
  }

  /** Called by the pipeline's clock: updates and announces media-flowing state. */
  updateFlowing(now: number): void {
    for (const k of MEDIA_KINDS) {
      const inNow = now - this.lastIn[k] < FLOWING_TIMEOUT_MS && this.lastIn[k] > 0;
      if (inNow !== this.flowingIn[k]) {
        this.flowingIn[k] = inNow;
        this.emit('mediaFlowingIn', k, inNow);
      }
      const outNow = now - this.lastOut[k] < FLOWING_TIMEOUT_MS && this.lastOut[k] > 0;
      if (outNow !== this.flowingOut[k]) {
        this.flowingOut[k] = outNow;
        this.emit('mediaFlowingOut', k, outNow);
      }
    }
  }

  /** Sends a packet to every sink of its kind. */
  protected emitRtp(stream: InboundStream, packet: RtpPacket, now: number): void {
    const sinks = this.sinks.get(stream.kind)!;
    if (sinks.size === 0) return;
    this.lastOut[stream.kind] = now;
    for (const sink of sinks) {
      try {
        sink.acceptRtp(stream, packet, now);
      } catch (error) {
        // One broken sink must not stop the others.
        console.error(`sink ${sink.id} failed on a ${stream.kind} packet`, error);
      }
    }
  }

  /** A new source was connected for `kind`: ask it (not our own peer) for a keyframe right away. */
  protected onSourceConnected(kind: MediaKind): void {
    if (kind === 'video') this.sources.get(kind)?.requestKeyframe(kind);
  }

  /** The source for `kind` went away. */
  protected onSourceDisconnected(_kind: MediaKind): void {}

  /** Detaches every connection, both ways; for subclasses' onClose(). */
  protected disconnectAll(): void {
    for (const k of MEDIA_KINDS) {
      this.sources.get(k)?.detachSink(this.self, k);
      for (const sink of [...this.sinks.get(k)!]) this.detachSink(sink, k);
    }
  }

  private detachSink(sink: MediaElement, kind: MediaKind): void {
    if (!this.sinks.get(kind)!.delete(sink)) return;
    if (sink.sources.get(kind) === this.self) sink.sources.delete(kind);
    sink.onSourceDisconnected(kind);
    this.emit('elementDisconnected', sink, kind);
  }

  /** True when `target` is this element or feeds it, following forwarding elements. */
  private reachableUpstream(target: MediaElement, kind: MediaKind): boolean {
    const seen = new Set<MediaElement>();
    let current: MediaElement | undefined = this.self;
    while (current && !seen.has(current)) {
      if (current === target) return true;
      seen.add(current);
      current = current.forwardsInput ? current.sources.get(kind) : undefined;
    }
    return false;
  }
}
