import { Hub } from './Hub.js';
import type { HubPort } from './HubPort.js';
import type { MediaPipeline } from './MediaPipeline.js';

/**
 * Sends the input of one source port to the output of every other port, including
 * ports created later (Kurento's DispatcherOneToMany).
 */
export class DispatcherOneToMany extends Hub {
  private source: HubPort | undefined;

  constructor(pipeline: MediaPipeline) {
    super('DispatcherOneToMany', pipeline);
  }

  /** Makes `port` the source (replacing any previous one). MediaError INVALID_ARGUMENT for a foreign or closed port. */
  setSource(port: HubPort): void {
    this.assertOpen();
    this.assertOwnPort(port, 'source port');
    if (this.source === port) return;
    this.source = port;
    port.requestInputKeyframe('video');
  }

  /** Stops sending; the ports' outputs go quiet until the next setSource(). */
  removeSource(): void {
    this.assertOpen();
    this.source = undefined;
  }

  getSource(): HubPort | undefined {
    return this.source;
  }

  protected outputsOf(input: HubPort): Iterable<HubPort> {
    if (input !== this.source) return [];
    return this.getPorts().filter((p) => p !== input);
  }

  protected inputOf(output: HubPort): HubPort | undefined {
    return this.source !== output ? this.source : undefined;
  }

  protected onPortRemoved(port: HubPort): void {
    if (this.source === port) this.source = undefined;
  }
}
