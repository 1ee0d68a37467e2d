import { Hub } from './Hub.js';
import type { HubPort } from './HubPort.js';
import type { MediaPipeline } from './MediaPipeline.js';

/**
 * Routes the input of one port to the output of another (Kurento's Dispatcher). A
 * port's output has at most one routed input: a later connect() replaces it, and the
 * sinks of that port see one continuous stream, as with MediaElement.connect().
 */
export class Dispatcher extends Hub {
  /** output port -> input port routed to it. */
  private readonly routes = new Map<HubPort, HubPort>();

  constructor(pipeline: MediaPipeline) {
    super('Dispatcher', pipeline);
  }

  /**
   * Sends what `source` receives out of `sink`. Both must be open ports of this
   * dispatcher (MediaError INVALID_ARGUMENT otherwise). `source` may equal `sink`.
   */
  connect(source: HubPort, sink: HubPort): void {
    this.assertOpen();
    this.assertOwnPort(source, 'source port');
    this.assertOwnPort(sink, 'sink port');
    if (this.routes.get(sink) === source) return;
    this.routes.set(sink, source);
    // The sinks of `sink` need a keyframe of the new input to show anything.
    source.requestInputKeyframe('video');
  }

  /** The port whose input is routed to `sink`'s output, if any. */
  getSource(sink: HubPort): HubPort | undefined {
    return this.routes.get(sink);
  }

  protected *outputsOf(input: HubPort): Iterable<HubPort> {
    for (const [output, routed] of this.routes) if (routed === input) yield output;
  }

  protected inputOf(output: HubPort): HubPort | undefined {
    return this.routes.get(output);
  }

  protected onPortRemoved(port: HubPort): void {
    this.routes.delete(port);
    for (const [output, input] of [...this.routes]) if (input === port) this.routes.delete(output);
  }

  protected override onClose(): void {
    this.routes.clear();
    super.onClose();
  }
}
