import type { RtpPacket } from 'werift';
import type { InboundStream } from '../rtp/InboundStream.js';
import { MediaError } from './errors.js';
import type { HubPort } from './HubPort.js';
import type { MediaPipeline } from './MediaPipeline.js';
import { MediaObject, type MediaObjectEvents } from './MediaObject.js';
import type { MediaKind } from './types.js';

export type HubEvents = MediaObjectEvents;

/**
 * Base of the elements that mix or route media between their HubPorts (Kurento's Hub).
 * A hub is not a MediaElement: media enters it through the input of its ports and
 * leaves through their outputs, and the subclass decides which input feeds which
 * outputs. Closing a hub closes its ports.
 */
export abstract class Hub extends MediaObject<HubEvents> {
  readonly pipeline: MediaPipeline;
  private readonly ports = new Map<string, HubPort>();
  /** Packets being dispatched right now: one coming back through a loop is dropped. */
  private readonly inFlight = new Set<RtpPacket>();
  /** Set while a keyframe request travels upstream through this hub, for the same reason. */
  private requestingKeyframe = false;

  protected constructor(typeName: string, pipeline: MediaPipeline) {
    super(typeName, pipeline);
    this.pipeline = pipeline;
  }

  /** Creates a port on this hub (same as `pipeline.createHubPort(hub)`). */
  createHubPort(): HubPort {
    return this.pipeline.createHubPort(this);
  }

  getPorts(): HubPort[] {
    return [...this.ports.values()];
  }

  hasPort(port: HubPort): boolean {
    return this.ports.get(port.id) === port;
  }

  /** @internal Called by the pipeline when it creates a port of this hub. */
  attachPort(port: HubPort): void {
    this.assertOpen();
    this.ports.set(port.id, port);
  }

  /** @internal Called by a port when it closes. */
  detachPort(port: HubPort): void {
    if (!this.ports.delete(port.id)) return;
    this.onPortRemoved(port);
  }

  /** @internal A port received `packet` on its input: re-emit it on the outputs it feeds. */
  route(input: HubPort, stream: InboundStream, packet: RtpPacket, now: number): void {
    if (this.closed || this.inFlight.has(packet)) return;
    this.inFlight.add(packet);
    try {
      for (const output of this.outputsOf(input)) output.emitOutput(stream, packet, now);
    } finally {
      this.inFlight.delete(packet);
    }
  }

  /** @internal A sink of `output` wants a keyframe: ask the port whose input feeds it. */
  requestKeyframeFor(output: HubPort, kind: MediaKind): void {
    if (this.closed || this.requestingKeyframe) return;
    this.requestingKeyframe = true;
    try {
      this.inputOf(output)?.requestInputKeyframe(kind);
    } finally {
      this.requestingKeyframe = false;
    }
  }

  /** Throws INVALID_ARGUMENT unless `port` is an open port of this hub. */
  protected assertOwnPort(port: HubPort, role: string): void {
    if (port.closed) throw new MediaError('INVALID_ARGUMENT', `${role} ${port.id} is closed`);
    if (!this.hasPort(port)) {
      throw new MediaError('INVALID_ARGUMENT', `${role} ${port.id} is not a port of ${this.typeName} ${this.id}`);
    }
  }

  /** The ports whose output carries what `input` receives. */
  protected abstract outputsOf(input: HubPort): Iterable<HubPort>;

  /** The port whose input feeds `output`, if any. */
  protected abstract inputOf(output: HubPort): HubPort | undefined;

  /** Forget every route that involves `port`. */
  protected abstract onPortRemoved(port: HubPort): void;

  protected onClose(): void {
    for (const port of [...this.ports.values()]) port.close();
    this.ports.clear();
  }
}
