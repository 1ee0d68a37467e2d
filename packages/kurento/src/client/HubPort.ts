import { MediaElement } from './MediaElement.js';

/** A port of a hub: connect an element to it to feed the hub, connect it to an element to receive. */
export class HubPort extends MediaElement {}
