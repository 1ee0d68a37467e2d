import type { RtpPacket } from 'werift';
import { MediaError } from '../core/errors.js';
import { MediaElement, type MediaElementEvents } from '../core/MediaElement.js';
import type { MediaPipeline } from '../core/MediaPipeline.js';
import type { MediaKind } from '../core/types.js';
import type { InboundStream } from '../rtp/InboundStream.js';
import { parseBusMessage, type BusMessage } from './busMessage.js';
import { FilterChild, type FilterChildStats } from './FilterChild.js';

export interface FilterOptions {
  /** The gst-launch-1.0 executable. Default 'gst-launch-1.0' (Debian's gstreamer1.0-tools). */
  gstLaunch?: string;
  /** The gst-inspect-1.0 executable, asked once per element whether it exists. Default 'gst-inspect-1.0'. */
  gstInspect?: string;
  /** Restarts of a crashing child before the filter gives up and raises 'error'. Default 5. */
  maxRestarts?: number;
}

export interface FilterEvents extends MediaElementEvents {
  /** The filter's child failed for good (crashed too often, or cannot run). */
  error: [error: MediaError];
}

/**
 * Base of Kurento's filters: a media element whose `filtered` kinds go through a
 * supervised gst-launch-1.0 child (FilterChild: decode, the filter's stage, encode)
 * while the other kinds pass through untouched. Sinks' keyframe requests for a
 * filtered kind reach the child's encoder; the child's own need for a keyframe goes
 * upstream to the source.
 */
export abstract class Filter<E extends FilterEvents = FilterEvents> extends MediaElement<E> {
  // Media goes back out: a loop through filters would feed itself.
  protected readonly forwardsInput = true;
  private readonly children = new Map<MediaKind, FilterChild>();

  protected constructor(
    typeName: string,
    protected readonly pipeline: MediaPipeline,
    filtered: MediaKind[],
    protected readonly filterOptions: FilterOptions = {},
  ) {
    super(typeName, pipeline);
    for (const kind of filtered) {
      const child = new FilterChild(pipeline.ports, {
        name: `${typeName} ${this.id} ${kind}`,
        kind,
        stage: () => this.stage(kind),
        gstLaunch: filterOptions.gstLaunch,
        maxRestarts: filterOptions.maxRestarts,
      });
      child.on('output', (stream, packet, now) => this.emitRtp(stream, packet, now));
      child.on('keyframeNeeded', () => this.requestInputKeyframe(kind));
      child.on('message', (line) => {
        const message = parseBusMessage(line);
        if (message) this.onBusMessage(message);
      });
      child.on('restarting', (reason) => console.error(`${typeName} ${this.id}: ${kind} child crashed, restarting: ${reason}`));
      child.on('failed', (error) => this.emitError(new MediaError('INVALID_STATE', `${typeName} ${kind} processing stopped: ${error.message}`)));
      this.children.set(kind, child);
    }
  }

  /** Counters of each filtered kind's child. */
  getFilterStats(): Partial<Record<MediaKind, FilterChildStats>> {
    const out: Partial<Record<MediaKind, FilterChildStats>> = {};
    for (const [kind, child] of this.children) out[kind] = { ...child.stats };
    return out;
  }

  /** Pid of the child of `kind`, while one runs. */
  childPid(kind: MediaKind): number | undefined {
    return this.children.get(kind)?.pid;
  }

  /** True while the child of `kind` runs and takes media. */
  isFiltering(kind: MediaKind): boolean {
    return this.children.get(kind)?.running ?? false;
  }

  acceptRtp(stream: InboundStream, packet: RtpPacket, now: number): void {
    if (this.closed) return;
    this.lastIn[stream.kind] = now;
    const child = this.children.get(stream.kind);
    if (child) {
      this.beforeFilter(stream, packet);
      child.push(stream, packet, now);
    } else {
      this.emitRtp(stream, packet, now);
    }
  }

  override requestKeyframe(kind: MediaKind): void {
    const child = this.children.get(kind);
    if (child) child.requestKeyframe();
    else super.requestKeyframe(kind);
  }

  /** gst-launch tokens of the raw-media stage of `kind` (asked at each child start). */
  protected abstract stage(kind: MediaKind): string[];

  /** A bus message of the child (gst-launch -m). */
  protected onBusMessage(_message: BusMessage): void {}

  /** Sees each input packet of a filtered kind before the child does. */
  protected beforeFilter(_stream: InboundStream, _packet: RtpPacket): void {}

  /** Starts the child of `kind` again so a changed stage applies. */
  protected restartChild(kind: MediaKind): void {
    this.children.get(kind)?.restart();
  }

  protected emitError(error: MediaError): void {
    (this as unknown as Filter).emit('error', error);
  }

  protected onClose(): void {
    this.disconnectAll();
    for (const child of this.children.values()) child.close();
    this.children.clear();
  }
}
