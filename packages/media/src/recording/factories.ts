import type { MediaPipeline } from '../core/MediaPipeline.js';
import type { PlayerEndpoint, PlayerEndpointOptions } from './PlayerEndpoint.js';
import type { RecorderEndpoint, RecorderEndpointOptions } from './RecorderEndpoint.js';

/** A RecorderEndpoint of `pipeline` (same as pipeline.createRecorderEndpoint()). */
export function createRecorderEndpoint(pipeline: MediaPipeline, options: RecorderEndpointOptions): RecorderEndpoint {
  return pipeline.createRecorderEndpoint(options);
}

/** A PlayerEndpoint of `pipeline` (same as pipeline.createPlayerEndpoint()). */
export function createPlayerEndpoint(pipeline: MediaPipeline, options: PlayerEndpointOptions): PlayerEndpoint {
  return pipeline.createPlayerEndpoint(options);
}
