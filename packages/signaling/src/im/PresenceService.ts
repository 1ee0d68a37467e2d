import type { ServerNotification, UserId } from '@roundtable/protocol';
import { SignalingError, type HandlerTable } from '../net/Handlers.js';
import type { DeviceLink, Router } from '../net/Router.js';

declare module '../results.js' {
  interface ResultMap {
    /** The watched users online now (the others are offline). */
    'presence.watch': { online: UserId[] };
  }
}

/** Who may be watched: the user's contacts. */
export interface ContactDirectory {
  contacts(userId: UserId): Promise<Array<{ id: UserId }>>;
}

/**
 * Online / offline status of contacts. A socket says whose status it follows
 * (`presence.watch`, its contacts only); it is then told `presence {userId, online}`
 * when such a user's first device comes online or their last one goes. A user is online
 * while any of their devices is bound (the router's view).
 */
export class PresenceService {
  /** Watched user -> the sockets watching them. */
  private readonly watchers = new Map<UserId, Set<DeviceLink>>();
  /** Socket -> whom it watches (to replace or drop its list). */
  private readonly watching = new Map<DeviceLink, Set<UserId>>();
  private readonly unsubscribe: Array<() => void>;

  constructor(
    private readonly router: Router,
    private readonly directory: ContactDirectory,
  ) {
    this.unsubscribe = [router.onDeviceAdded((link) => this.onAdded(link)), router.onDeviceGone((link) => this.onGone(link))];
  }

  handlers(): HandlerTable {
    return {
      'presence.watch': async (request, { link }) => {
        const contacts = new Set((await this.directory.contacts(link.userId)).map((c) => c.id));
        const stranger = request.userIds.find((id) => !contacts.has(id));
        if (stranger) throw new SignalingError('FORBIDDEN', `${stranger} is not one of your contacts`);
        this.watch(link, new Set(request.userIds));
        return { online: request.userIds.filter((id) => this.router.isOnline(id)) };
      },
    };
  }

  /** Stops listening to the router. */
  close(): void {
    for (const off of this.unsubscribe.splice(0)) off();
    this.watchers.clear();
    this.watching.clear();
  }

  private watch(link: DeviceLink, userIds: Set<UserId>): void {
    this.forget(link);
    if (userIds.size === 0) return;
    this.watching.set(link, userIds);
    for (const id of userIds) {
      let set = this.watchers.get(id);
      if (!set) this.watchers.set(id, (set = new Set()));
      set.add(link);
    }
  }

  private forget(link: DeviceLink): void {
    for (const id of this.watching.get(link) ?? []) {
      const set = this.watchers.get(id);
      set?.delete(link);
      if (set?.size === 0) this.watchers.delete(id);
    }
    this.watching.delete(link);
  }

  private onAdded(link: DeviceLink): void {
    // Only the first device makes a change others can see.
    if (this.router.devicesOf(link.userId).length === 1) this.tell(link.userId, true);
  }

  private onGone(link: DeviceLink): void {
    this.forget(link);
    if (!this.router.isOnline(link.userId)) this.tell(link.userId, false);
  }

  private tell(userId: UserId, online: boolean): void {
    const notification: ServerNotification = { type: 'presence', userId, online };
    for (const watcher of this.watchers.get(userId) ?? []) watcher.send(notification);
  }
}
