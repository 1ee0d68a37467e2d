import { HubPort } from './HubPort.js';
import { RemoteMediaObject } from './RemoteMediaObject.js';

/** Base of the hubs (Composite, Dispatcher, DispatcherOneToMany): media goes in and out through ports. */
export class Hub extends RemoteMediaObject {
  async createHubPort(): Promise<HubPort> {
    const id = await this.createChild('HubPort', { hub: this.id });
    return new HubPort(this.host, id, 'HubPort', this);
  }
}
