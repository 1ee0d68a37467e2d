import { ClosedError } from '../core/errors.js';
import type { MediaElement } from '../core/MediaElement.js';
import type { MediaPipeline } from '../core/MediaPipeline.js';
import { PlayerEndpoint, type PlayerEndpointOptions } from './PlayerEndpoint.js';
import { RecorderEndpoint, type RecorderEndpointOptions } from './RecorderEndpoint.js';

/** Ties an element's life to its pipeline: closing the pipeline closes the element. */
function own<T extends MediaElement>(pipeline: MediaPipeline, element: T): T {
  if (pipeline.closed) {
    element.close();
    throw new ClosedError(`MediaPipeline ${pipeline.id}`);
  }
  const onPipelineClosed = (): void => element.close();
  pipeline.once('closed', onPipelineClosed);
  element.once('closed', () => pipeline.off('closed', onPipelineClosed));
  return element;
}

/** A RecorderEndpoint of `pipeline`, closed with it. */
export function createRecorderEndpoint(pipeline: MediaPipeline, options: RecorderEndpointOptions): RecorderEndpoint {
  return own(pipeline, new RecorderEndpoint(pipeline, options));
}

/** A PlayerEndpoint of `pipeline`, closed with it. */
export function createPlayerEndpoint(pipeline: MediaPipeline, options: PlayerEndpointOptions): PlayerEndpoint {
  return own(pipeline, new PlayerEndpoint(pipeline, options));
}
