import type { RtpPacket } from 'werift';
import type { InboundStream } from '../rtp/InboundStream.js';
import type { Hub } from './Hub.js';
import { MediaElement } from './MediaElement.js';
import type { MediaKind } from './types.js';

/**
 * A hub's connection point to the media graph (Kurento's HubPort). What a source
 * element sends into the port goes to the hub; what the hub routes to the port leaves
 * it towards the port's sinks. Create one with `hub.createHubPort()`.
 */
export class HubPort extends MediaElement {
  // The port does not re-emit its own input (the hub decides), and loops through a hub
  // are cut by the hub itself, so the graph may connect a port's output to its input.
  protected readonly forwardsInput = false;

  constructor(readonly hub: Hub) {
    super('HubPort', hub);
  }

  acceptRtp(stream: InboundStream, packet: RtpPacket, now: number): void {
    if (this.closed) return;
    this.lastIn[stream.kind] = now;
    this.hub.route(this, stream, packet, now);
  }

  /** Keyframes for this port's output come from the port whose input the hub routes here. */
  override requestKeyframe(kind: MediaKind): void {
    if (this.closed) return;
    this.hub.requestKeyframeFor(this, kind);
  }

  /** @internal Called by the hub: sends media routed to this port to its sinks. */
  emitOutput(stream: InboundStream, packet: RtpPacket, now: number): void {
    if (this.closed) return;
    this.emitRtp(stream, packet, now);
  }

  /** @internal Called by the hub: asks the element feeding this port's input for a keyframe. */
  override requestInputKeyframe(kind: MediaKind): void {
    if (this.closed) return;
    super.requestInputKeyframe(kind);
  }

  /** A new source feeds this port's input: it is the one to ask for a keyframe. */
  protected override onSourceConnected(kind: MediaKind): void {
    if (kind === 'video') this.requestInputKeyframe('video');
  }

  protected onClose(): void {
    this.disconnectAll();
    this.hub.detachPort(this);
  }
}
