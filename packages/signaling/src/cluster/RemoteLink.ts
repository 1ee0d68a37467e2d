import type { DeviceId, ServerNotification, UserId } from '@roundtable/protocol';
import type { DeviceLink } from '../net/Router.js';

/** A device connected to another signaling node: what it is sent goes to that node, which writes it to the socket. */
export class RemoteLink implements DeviceLink {
  constructor(
    readonly userId: UserId,
    readonly deviceId: DeviceId,
    /** The node holding the socket. */
    readonly node: string,
    /** The socket's key in the cluster registry (unique over the cluster). */
    readonly key: string,
    private readonly deliver: (node: string, key: string, notification: ServerNotification) => void,
  ) {}

  send(notification: ServerNotification): void {
    this.deliver(this.node, this.key, notification);
  }
}
