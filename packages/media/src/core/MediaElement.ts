import type { RtpPacket } from 'werift';
import type { InboundStream } from '../rtp/InboundStream.js';
import { FilterChild } from '../filters/FilterChild.js';
import { childCodecOf, type ChildCodec } from '../filters/filterPipeline.js';
import { MediaError } from './errors.js';
import { MediaObject, type MediaObjectEvents } from './MediaObject.js';
import { PortAllocator } from './PortAllocator.js';
import { MEDIA_KINDS, type MediaKind } from './types.js';

export interface MediaElementEvents extends MediaObjectEvents {
  elementConnected: [sink: MediaElement, kind: MediaKind];
  elementDisconnected: [sink: MediaElement, kind: MediaKind];
  mediaFlowingIn: [kind: MediaKind, flowing: boolean];
  mediaFlowingOut: [kind: MediaKind, flowing: boolean];
  /** The element's output of `kind` started (true) or stopped (false) being transcoded (setVideoFormat / setAudioFormat). */
  mediaTranscoding: [kind: MediaKind, transcoding: boolean];
}

/** Kurento's VideoCaps: the codec (and frame rate) an element's video leaves in. RAW: as it comes. */
export interface VideoFormat {
  codec: 'VP8' | 'H264' | 'RAW';
  frameRate?: { numerator: number; denominator: number };
}

/** Kurento's AudioCaps: the codec (and bitrate, bits/s) an element's audio leaves in. RAW: as it comes. */
export interface AudioFormat {
  codec: 'OPUS' | 'PCMU' | 'RAW';
  bitrate?: number;
}

interface Transcoder {
  target: ChildCodec;
  child: FilterChild;
  transcoding: boolean;
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
  private readonly transcoders = new Map<MediaKind, Transcoder>();

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

  /**
   * Asks whoever originates this element's `kind` media for a keyframe: the encoder of
   * its output when setVideoFormat makes it transcode, its source otherwise.
   */
  requestKeyframe(kind: MediaKind): void {
    const transcoder = this.transcoders.get(kind);
    if (transcoder?.transcoding) transcoder.child.requestKeyframe();
    else this.requestInputKeyframe(kind);
  }

  /** Asks this element's source of `kind` for a keyframe. */
  protected requestInputKeyframe(kind: MediaKind): void {
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

  /**
   * Makes this element's video leave in `format` (Kurento's setVideoFormat): media of
   * another codec is transcoded in a supervised gst-launch-1.0 child (frame rate forced
   * when given); media already in that codec goes out as it is. RAW removes the format.
   */
  setVideoFormat(format: VideoFormat): void {
    this.assertOpen();
    const { frameRate } = format;
    if (frameRate && (!(frameRate.numerator > 0) || !(frameRate.denominator > 0) || !Number.isInteger(frameRate.numerator) || !Number.isInteger(frameRate.denominator))) {
      throw new MediaError('INVALID_ARGUMENT', `invalid frame rate ${frameRate.numerator}/${frameRate.denominator}`);
    }
    if (format.codec !== 'VP8' && format.codec !== 'H264' && format.codec !== 'RAW') throw new MediaError('INVALID_ARGUMENT', `unknown video codec '${String(format.codec)}'`);
    this.setTranscoder('video', format.codec === 'RAW' ? undefined : format.codec, { frameRate });
  }

  /** Makes this element's audio leave in `format` (Kurento's setAudioFormat); see setVideoFormat. */
  setAudioFormat(format: AudioFormat): void {
    this.assertOpen();
    if (format.bitrate !== undefined && !(format.bitrate >= 6000 && format.bitrate <= 510_000)) {
      throw new MediaError('INVALID_ARGUMENT', `audio bitrate ${format.bitrate} is outside 6000-510000 bits/s`);
    }
    if (format.codec !== 'OPUS' && format.codec !== 'PCMU' && format.codec !== 'RAW') throw new MediaError('INVALID_ARGUMENT', `unknown audio codec '${String(format.codec)}'`);
    this.setTranscoder('audio', format.codec === 'RAW' ? undefined : format.codec, { bitrate: format.bitrate });
  }

  /** True while this element's output of `kind` is being transcoded. */
  isMediaTranscoding(kind: MediaKind): boolean {
    return this.transcoders.get(kind)?.transcoding ?? false;
  }

  /** Ends the transcoder of `kind`, if any (its output stops being transcoded). */
  private dropTranscoder(kind: MediaKind): void {
    const transcoder = this.transcoders.get(kind);
    if (!transcoder) return;
    this.transcoders.delete(kind);
    transcoder.child.close();
    if (transcoder.transcoding) this.emit('mediaTranscoding', kind, false);
  }

  private setTranscoder(kind: MediaKind, target: ChildCodec | undefined, settings: { frameRate?: VideoFormat['frameRate']; bitrate?: number }): void {
    this.dropTranscoder(kind);
    if (!target) return;
    const root = rootOf(this.self) as MediaObject & { ports?: unknown };
    if (!(root.ports instanceof PortAllocator)) throw new MediaError('INVALID_STATE', `${this.id} is not in a pipeline`);
    const child = new FilterChild(root.ports, {
      name: `${this.typeName} ${this.id} ${kind} transcoder`,
      kind,
      stage: () => [],
      outputCodec: () => target,
      frameRate: settings.frameRate,
      bitrate: settings.bitrate,
      keyframeDistance: 30,
    });
    const transcoder: Transcoder = { target, child, transcoding: false };
    child.on('output', (stream, packet, now) => this.distribute(stream, packet, now));
    // The transcoder's decoder needs a keyframe: elements that originate media (endpoints,
    // filters) answer requestKeyframe themselves; the others ask their source.
    child.on('keyframeNeeded', () => {
      if (this.requestKeyframe === MediaElement.prototype.requestKeyframe) this.requestInputKeyframe(kind);
      else this.requestKeyframe(kind);
    });
    child.on('running', (running) => {
      if (transcoder.transcoding === running || this.transcoders.get(kind) !== transcoder) return;
      transcoder.transcoding = running;
      this.emit('mediaTranscoding', kind, running);
    });
    child.on('failed', (error) => console.error(`${this.typeName} ${this.id}: ${kind} transcoding stopped: ${error.message}`));
    this.transcoders.set(kind, transcoder);
  }

  /** Sends a packet to every sink of its kind (through the transcoder when a format is set). */
  protected emitRtp(stream: InboundStream, packet: RtpPacket, now: number): void {
    const transcoder = this.transcoders.get(stream.kind);
    if (transcoder && childCodecOf(stream.codec) !== transcoder.target) {
      if (this.sinks.get(stream.kind)!.size > 0) transcoder.child.push(stream, packet, now);
      return;
    }
    this.distribute(stream, packet, now);
  }

  private distribute(stream: InboundStream, packet: RtpPacket, now: number): void {
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
    for (const kind of [...this.transcoders.keys()]) this.dropTranscoder(kind);
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
