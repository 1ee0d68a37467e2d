import { z } from 'zod';
import { MediaElement } from './MediaElement.js';

export type UriEndpointState = 'STOP' | 'START' | 'PAUSE';

export interface RecorderEndpointOptions {
  /** file:// URI on the media server's disk. */
  uri: string;
  /** Kurento MediaProfileSpecType. Default 'WEBM'. */
  mediaProfile?: string;
  /** Stop when the source reaches its end. Default false. */
  stopOnEndOfStream?: boolean;
}

/** Records what it is connected from into a file on the media server. */
export class RecorderEndpoint extends MediaElement {
  async record(): Promise<void> {
    await this.invoke('record');
  }

  async pause(): Promise<void> {
    await this.invoke('pause');
  }

  async stop(): Promise<void> {
    await this.invoke('stop');
  }

  /** Stops and resolves once the file is complete. */
  async stopAndWait(): Promise<void> {
    await this.invoke('stopAndWait');
  }

  getState(): Promise<UriEndpointState> {
    return this.invokeAs(z.enum(['STOP', 'START', 'PAUSE']), 'getState');
  }

  getUri(): Promise<string> {
    return this.invokeAs(z.string(), 'getUri');
  }
}
