import type { ServerNotification, UserId } from '@roundtable/protocol';
import { silentLogger, type Logger } from '../logger.js';
import type { LinkRegistry } from './LinkRegistry.js';
import type { DeviceLink } from './Router.js';

export interface InMemoryRouterOptions {
  /** Default: silent. */
  logger?: Logger;
}

/** Presence and delivery inside one process: user id -> the links of their online devices. */
export class InMemoryRouter implements LinkRegistry {
  private readonly links = new Map<UserId, Set<DeviceLink>>();
  private readonly goneListeners = new Set<(link: DeviceLink) => void>();
  private readonly addedListeners = new Set<(link: DeviceLink) => void>();
  private readonly logger: Logger;

  constructor(options: InMemoryRouterOptions = {}) {
    this.logger = options.logger ?? silentLogger;
  }

  addLink(link: DeviceLink): void {
    let set = this.links.get(link.userId);
    if (!set) this.links.set(link.userId, (set = new Set()));
    if (set.has(link)) return;
    set.add(link);
    this.tell(this.addedListeners, link, 'deviceAddedListenerFailed');
  }

  removeLink(link: DeviceLink): boolean {
    const set = this.links.get(link.userId);
    if (!set?.delete(link)) return false;
    if (set.size === 0) this.links.delete(link.userId);
    this.tell(this.goneListeners, link, 'deviceGoneListenerFailed');
    return true;
  }

  devicesOf(userId: UserId): DeviceLink[] {
    return [...(this.links.get(userId) ?? [])];
  }

  sendToUser(userId: UserId, notification: ServerNotification, except?: DeviceLink): number {
    let sent = 0;
    for (const link of this.devicesOf(userId)) {
      if (link === except) continue;
      try {
        link.send(notification);
        sent++;
      } catch (error) {
        this.logger.warn({ event: 'sendFailed', err: error, userId, deviceId: link.deviceId, type: notification.type }, 'could not send to a device');
      }
    }
    return sent;
  }

  isOnline(userId: UserId): boolean {
    return this.links.has(userId);
  }

  onDeviceGone(listener: (link: DeviceLink) => void): () => void {
    return this.subscribe(this.goneListeners, listener);
  }

  onDeviceAdded(listener: (link: DeviceLink) => void): () => void {
    return this.subscribe(this.addedListeners, listener);
  }

  private subscribe(listeners: Set<(link: DeviceLink) => void>, listener: (link: DeviceLink) => void): () => void {
    // A wrapper per subscription, so subscribing the same function twice needs two unsubscribes.
    const subscription = (link: DeviceLink): void => listener(link);
    listeners.add(subscription);
    return () => {
      listeners.delete(subscription);
    };
  }

  private tell(listeners: Set<(link: DeviceLink) => void>, link: DeviceLink, event: string): void {
    for (const listener of [...listeners]) {
      try {
        listener(link);
      } catch (error) {
        this.logger.error({ event, err: error, userId: link.userId, deviceId: link.deviceId }, 'a device listener threw');
      }
    }
  }

  /** How many users have at least one device online. */
  get onlineUserCount(): number {
    return this.links.size;
  }
}
