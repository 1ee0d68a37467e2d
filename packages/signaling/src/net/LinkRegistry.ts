import type { DeviceLink, Router } from './Router.js';

/** The side of a `Router` the WebSocket server uses: devices come online and go. */
export interface LinkRegistry extends Router {
  /** A device came online. */
  addLink(link: DeviceLink): void;
  /** A device went offline; fires `onDeviceGone` if the link was registered. Returns whether it was. */
  removeLink(link: DeviceLink): boolean;
}
