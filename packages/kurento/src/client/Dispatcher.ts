import { Hub } from './Hub.js';
import type { HubPort } from './HubPort.js';

/** A hub that routes between its ports as told. */
export class Dispatcher extends Hub {
  /** Sends what `source` receives to `sink`; both must be ports of this hub. */
  async connect(source: HubPort, sink: HubPort): Promise<void> {
    await this.invoke('connect', { source: this.refOf(source), sink: this.refOf(sink) });
  }
}
