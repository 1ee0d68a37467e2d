import type { DeviceId, ServerNotification, UserId } from '@roundtable/protocol';
import type { DeviceLink } from './Router.js';

/** A device as the router sees it: one authenticated socket. Sending on a closed socket does nothing. */
export class SocketLink implements DeviceLink {
  constructor(
    readonly userId: UserId,
    readonly deviceId: DeviceId,
    private readonly sendFrame: (frame: object) => void,
  ) {}

  send(notification: ServerNotification): void {
    this.sendFrame(notification);
  }
}
