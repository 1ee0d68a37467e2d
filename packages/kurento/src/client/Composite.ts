import { Hub } from './Hub.js';

/**
 * The MCU hub: each port sends out the mix of every other port's audio and one grid of
 * every port's video.
 */
export class Composite extends Hub {}
