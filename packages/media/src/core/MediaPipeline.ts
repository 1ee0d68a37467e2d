import { resolveMediaConfig, type MediaConfig } from '../config.js';
import { WebRtcEndpoint, type WebRtcEndpointOptions } from '../webrtc/WebRtcEndpoint.js';
import type { MediaElement } from './MediaElement.js';
import { MediaObject, type MediaObjectEvents } from './MediaObject.js';
import { PassThrough } from './PassThrough.js';
import { PortAllocator } from './PortAllocator.js';

export interface MediaPipelineEvents extends MediaObjectEvents {
  elementCreated: [element: MediaElement];
  elementClosed: [element: MediaElement];
}

const CLOCK_MS = 500;

/**
 * Owns media elements. Closing the pipeline closes every element it holds, with their
 * sockets and timers. One clock per pipeline drives media-flowing state and RTCP.
 */
export class MediaPipeline extends MediaObject<MediaPipelineEvents> {
  readonly config: MediaConfig;
  readonly ports: PortAllocator;
  private readonly elements = new Map<string, MediaElement>();
  private readonly clock: NodeJS.Timeout;

  constructor(config: Partial<MediaConfig> = {}) {
    super('MediaPipeline', undefined);
    this.config = resolveMediaConfig(config);
    this.ports = PortAllocator.shared(this.config.portRange[0], this.config.portRange[1]);
    this.clock = setInterval(() => this.tick(), CLOCK_MS);
    this.clock.unref();
  }

  createWebRtcEndpoint(options: WebRtcEndpointOptions = {}): WebRtcEndpoint {
    return this.adopt(new WebRtcEndpoint(this, options));
  }

  createPassThrough(): PassThrough {
    return this.adopt(new PassThrough(this));
  }

  getElements(): MediaElement[] {
    return [...this.elements.values()];
  }

  getElement(id: string): MediaElement | undefined {
    return this.elements.get(id);
  }

  protected onClose(): void {
    clearInterval(this.clock);
    for (const element of [...this.elements.values()]) element.close();
    this.elements.clear();
  }

  private adopt<T extends MediaElement>(element: T): T {
    this.assertOpen();
    this.elements.set(element.id, element);
    element.once('closed', () => {
      this.elements.delete(element.id);
      this.emit('elementClosed', element);
    });
    this.emit('elementCreated', element);
    return element;
  }

  private tick(): void {
    const now = performance.now();
    for (const element of this.elements.values()) element.updateFlowing(now);
  }
}
