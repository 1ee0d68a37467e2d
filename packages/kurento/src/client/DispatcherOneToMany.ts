import { Hub } from './Hub.js';
import type { HubPort } from './HubPort.js';

/** A hub that sends one port's media (the source) to every other port. */
export class DispatcherOneToMany extends Hub {
  async setSource(source: HubPort): Promise<void> {
    await this.invoke('setSource', { source: this.refOf(source) });
  }

  async removeSource(): Promise<void> {
    await this.invoke('removeSource');
  }
}
