import type { DeviceId, ServerNotification, UserId } from '@roundtable/protocol';

/** One authenticated device connection, as the call and IM logic see it. */
export interface DeviceLink {
  readonly userId: UserId;
  readonly deviceId: DeviceId;
  send(notification: ServerNotification): void;
}

/**
 * Delivers notifications to the online devices of users. In-memory presence in the
 * embedded mode; a Redis-backed implementation can replace it for several nodes.
 */
export interface Router {
  /** Every online device of `userId` (empty when offline). */
  devicesOf(userId: UserId): DeviceLink[];
  /** Sends to every online device of the user, except `except` if given. Returns how many got it. */
  sendToUser(userId: UserId, notification: ServerNotification, except?: DeviceLink): number;
  isOnline(userId: UserId): boolean;
  /** Called when a device goes offline (socket closed). Returns an unsubscribe function. */
  onDeviceGone(listener: (link: DeviceLink) => void): () => void;
  /** Called when a device comes online (bound by hello, login or register). Returns an unsubscribe function. */
  onDeviceAdded(listener: (link: DeviceLink) => void): () => void;
}
