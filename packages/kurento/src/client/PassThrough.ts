import { MediaElement } from './MediaElement.js';

/** Forwards what it receives to its sinks. */
export class PassThrough extends MediaElement {}
