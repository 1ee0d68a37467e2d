import type { RtpPacket } from 'werift';
import type { InboundStream } from '../rtp/InboundStream.js';
import { MediaElement } from './MediaElement.js';
import type { MediaObject } from './MediaObject.js';

/** Forwards whatever its source sends to all its sinks, untouched. */
export class PassThrough extends MediaElement {
  protected readonly forwardsInput = true;

  constructor(parent: MediaObject) {
    super('PassThrough', parent);
  }

  acceptRtp(stream: InboundStream, packet: RtpPacket, now: number): void {
    if (this.closed) return;
    this.lastIn[stream.kind] = now;
    this.emitRtp(stream, packet, now);
  }

  protected onClose(): void {
    this.disconnectAll();
  }
}
