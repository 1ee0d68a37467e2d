import { resolveMediaConfig, singleUdpPort, type MediaConfig } from '../config.js';
import { FaceOverlayFilter } from '../filters/FaceOverlayFilter.js';
import type { FilterOptions } from '../filters/Filter.js';
import { GStreamerFilter, parseGStreamerCommand, type GStreamerFilterOptions } from '../filters/GStreamerFilter.js';
import { ImageOverlayFilter } from '../filters/ImageOverlayFilter.js';
import type { FetchImageOptions } from '../filters/overlayImage.js';
import { ZBarFilter } from '../filters/ZBarFilter.js';
import { Composite, type CompositeOptions } from '../mcu/Composite.js';
import { HttpPostEndpoint, type HttpPostEndpointOptions } from '../recording/HttpPostEndpoint.js';
import { PlayerEndpoint, type PlayerEndpointOptions } from '../recording/PlayerEndpoint.js';
import { RecorderEndpoint, type RecorderEndpointOptions } from '../recording/RecorderEndpoint.js';
import { RtpEndpoint, type RtpEndpointOptions } from '../rtp/RtpEndpoint.js';
import { WebRtcEndpoint, type WebRtcEndpointOptions } from '../webrtc/WebRtcEndpoint.js';
import { Dispatcher } from './Dispatcher.js';
import { DispatcherOneToMany } from './DispatcherOneToMany.js';
import { MediaError } from './errors.js';
import type { Hub } from './Hub.js';
import { HubPort } from './HubPort.js';
import type { MediaElement } from './MediaElement.js';
import { MediaObject, type MediaObjectEvents } from './MediaObject.js';
import { PassThrough } from './PassThrough.js';
import type { Engine } from './Engine.js';
import type { PortAllocator } from './PortAllocator.js';

export interface MediaPipelineEvents extends MediaObjectEvents {
  elementCreated: [element: MediaElement];
  elementClosed: [element: MediaElement];
  hubCreated: [hub: Hub];
  hubClosed: [hub: Hub];
}

const CLOCK_MS = 500;

/**
 * Owns media elements and hubs. Closing the pipeline closes every element and hub it
 * holds, with their sockets and timers. One clock per pipeline drives media-flowing
 * state and RTCP.
 */
export class MediaPipeline extends MediaObject<MediaPipelineEvents> {
  readonly config: MediaConfig;
  readonly ports: PortAllocator;
  private readonly elements = new Map<string, MediaElement>();
  private readonly hubs = new Map<string, Hub>();
  private readonly clock: NodeJS.Timeout;

  /** Made by Engine.createPipeline() (or here, with its engine). */
  constructor(
    /** The engine whose sockets, ports and certificate the pipeline's elements use. */
    readonly engine: Engine,
    config: Partial<MediaConfig> = {},
  ) {
    super('MediaPipeline', undefined);
    this.config = resolveMediaConfig(config);
    this.ports = engine.ports(this.config.portRange[0], this.config.portRange[1]);
    // Single-port mode: the shared port is not for anything else (recorders, players, the MCU).
    const single = singleUdpPort(this.config);
    if (single !== undefined) this.ports.exclude(typeof single === 'number' ? single : single[0]);
    this.clock = setInterval(() => this.tick(), CLOCK_MS);
    this.clock.unref();
    engine.pipelineOpened(this);
  }

  createWebRtcEndpoint(options: WebRtcEndpointOptions = {}): WebRtcEndpoint {
    return this.adopt(new WebRtcEndpoint(this, options));
  }

  createPassThrough(): PassThrough {
    return this.adopt(new PassThrough(this));
  }

  createRtpEndpoint(options: RtpEndpointOptions = {}): RtpEndpoint {
    return this.adopt(new RtpEndpoint(this, options));
  }

  createDispatcher(): Dispatcher {
    return this.adoptHub(new Dispatcher(this));
  }

  createDispatcherOneToMany(): DispatcherOneToMany {
    return this.adoptHub(new DispatcherOneToMany(this));
  }

  /** A Composite (MCU): audio mixed per port (all but its own), video composed in a grid. */
  createComposite(options: CompositeOptions = {}): Composite {
    return this.adoptHub(new Composite(this, options));
  }

  /** Records what it is connected from into a file (remuxed, not re-encoded). */
  createRecorderEndpoint(options: RecorderEndpointOptions): RecorderEndpoint {
    return this.adopt(new RecorderEndpoint(this, options));
  }

  /** Plays a file or URL into the pipeline (a source element). */
  createPlayerEndpoint(options: PlayerEndpointOptions): PlayerEndpoint {
    return this.adopt(new PlayerEndpoint(this, options));
  }

  /** Plays media files POSTed to it into the pipeline (a source element; the HTTP side is the caller's). */
  createHttpPostEndpoint(options: HttpPostEndpointOptions = {}): HttpPostEndpoint {
    return this.adopt(new HttpPostEndpoint(this, options));
  }

  /**
   * Kurento's GStreamerFilter. The command is checked first (one element whose pads
   * take raw media of the filter's type, run once on test media): rejects with
   * INVALID_FILTER_COMMAND, and nothing is created.
   */
  async createGStreamerFilter(options: GStreamerFilterOptions): Promise<GStreamerFilter> {
    this.assertOpen();
    const parsed = await parseGStreamerCommand(options.command, options.filterType ?? 'AUTODETECT', options);
    return this.adopt(new GStreamerFilter(this, { ...parsed, command: options.command }, options));
  }

  /** Kurento's ZBarFilter; rejects with FILTER_UNAVAILABLE when GStreamer's zbar is missing. */
  async createZBarFilter(options: FilterOptions = {}): Promise<ZBarFilter> {
    this.assertOpen();
    await ZBarFilter.check(options);
    return this.adopt(new ZBarFilter(this, options));
  }

  /** Kurento's FaceOverlayFilter; rejects with FILTER_UNAVAILABLE when facedetect/faceoverlay or OpenCV's cascade is missing. */
  async createFaceOverlayFilter(options: FilterOptions & { fetch?: FetchImageOptions } = {}): Promise<FaceOverlayFilter> {
    this.assertOpen();
    await FaceOverlayFilter.check(options);
    return this.adopt(new FaceOverlayFilter(this, options));
  }

  /** Kurento's ImageOverlayFilter; rejects with FILTER_UNAVAILABLE when rsvgoverlay is missing. */
  async createImageOverlayFilter(options: FilterOptions & { fetch?: FetchImageOptions } = {}): Promise<ImageOverlayFilter> {
    this.assertOpen();
    await ImageOverlayFilter.check(options);
    return this.adopt(new ImageOverlayFilter(this, options));
  }

  /** A new port of `hub` (a hub of this pipeline). The port is an element of the pipeline. */
  createHubPort(hub: Hub): HubPort {
    this.assertOpen();
    if (hub.pipeline !== this) throw new MediaError('INVALID_ARGUMENT', `hub ${hub.id} belongs to another pipeline`);
    const port = new HubPort(hub);
    hub.attachPort(port);
    return this.adopt(port);
  }

  /** Media elements only (hub ports included); hubs are listed by getHubs(). */
  getElements(): MediaElement[] {
    return [...this.elements.values()];
  }

  getElement(id: string): MediaElement | undefined {
    return this.elements.get(id);
  }

  getHubs(): Hub[] {
    return [...this.hubs.values()];
  }

  getHub(id: string): Hub | undefined {
    return this.hubs.get(id);
  }

  protected onClose(): void {
    this.engine.pipelineClosed(this);
    clearInterval(this.clock);
    for (const element of [...this.elements.values()]) element.close();
    this.elements.clear();
    for (const hub of [...this.hubs.values()]) hub.close();
    this.hubs.clear();
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

  private adoptHub<T extends Hub>(hub: T): T {
    this.assertOpen();
    this.hubs.set(hub.id, hub);
    hub.once('closed', () => {
      this.hubs.delete(hub.id);
      this.emit('hubClosed', hub);
    });
    this.emit('hubCreated', hub);
    return hub;
  }

  private tick(): void {
    const now = performance.now();
    for (const element of this.elements.values()) element.updateFlowing(now);
  }
}
