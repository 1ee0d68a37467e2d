import { Composite } from './Composite.js';
import { Dispatcher } from './Dispatcher.js';
import { DispatcherOneToMany } from './DispatcherOneToMany.js';
import { PassThrough } from './PassThrough.js';
import { RecorderEndpoint, type RecorderEndpointOptions } from './RecorderEndpoint.js';
import { RemoteMediaObject } from './RemoteMediaObject.js';
import { RtpEndpoint } from './RtpEndpoint.js';
import { WebRtcEndpoint } from './WebRtcEndpoint.js';

export interface WebRtcEndpointOptions {
  /** Only receive from the peer. Default false. */
  recvonly?: boolean;
  /** Only send to the peer. Default false. */
  sendonly?: boolean;
}

/** The container of elements; releasing it releases all of them. */
export class MediaPipeline extends RemoteMediaObject {
  async createWebRtcEndpoint(options: WebRtcEndpointOptions = {}): Promise<WebRtcEndpoint> {
    const params: Record<string, unknown> = { mediaPipeline: this.id };
    if (options.recvonly !== undefined) params.recvonly = options.recvonly;
    if (options.sendonly !== undefined) params.sendonly = options.sendonly;
    const id = await this.createChild('WebRtcEndpoint', params);
    return new WebRtcEndpoint(this.host, id, 'WebRtcEndpoint', this);
  }

  async createPassThrough(): Promise<PassThrough> {
    const id = await this.createChild('PassThrough', { mediaPipeline: this.id });
    return new PassThrough(this.host, id, 'PassThrough', this);
  }

  async createRtpEndpoint(): Promise<RtpEndpoint> {
    const id = await this.createChild('RtpEndpoint', { mediaPipeline: this.id });
    return new RtpEndpoint(this.host, id, 'RtpEndpoint', this);
  }

  async createDispatcher(): Promise<Dispatcher> {
    const id = await this.createChild('Dispatcher', { mediaPipeline: this.id });
    return new Dispatcher(this.host, id, 'Dispatcher', this);
  }

  async createComposite(): Promise<Composite> {
    const id = await this.createChild('Composite', { mediaPipeline: this.id });
    return new Composite(this.host, id, 'Composite', this);
  }

  async createRecorderEndpoint(options: RecorderEndpointOptions): Promise<RecorderEndpoint> {
    const params: Record<string, unknown> = { mediaPipeline: this.id, uri: options.uri };
    if (options.mediaProfile !== undefined) params.mediaProfile = options.mediaProfile;
    if (options.stopOnEndOfStream !== undefined) params.stopOnEndOfStream = options.stopOnEndOfStream;
    const id = await this.createChild('RecorderEndpoint', params);
    return new RecorderEndpoint(this.host, id, 'RecorderEndpoint', this);
  }

  async createDispatcherOneToMany(): Promise<DispatcherOneToMany> {
    const id = await this.createChild('DispatcherOneToMany', { mediaPipeline: this.id });
    return new DispatcherOneToMany(this.host, id, 'DispatcherOneToMany', this);
  }
}
