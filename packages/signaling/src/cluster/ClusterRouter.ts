import type { DeviceId, ServerNotification, UserId } from '@roundtable/protocol';
import { silentLogger, type Logger } from '../logger.js';
import type { LinkRegistry } from '../net/LinkRegistry.js';
import type { DeviceLink } from '../net/Router.js';
import { RemoteLink } from './RemoteLink.js';

/** A device as the cluster registry keeps it. */
export interface DeviceEntry {
  node: string;
  key: string;
  userId: UserId;
  deviceId: DeviceId;
}

/** What the router needs from the shared registry (RedisCluster). */
export interface RouterWire {
  /** A device of this node came online: write it to the registry, tell the other nodes. */
  registered(entry: DeviceEntry): void;
  /** A device of this node went. */
  unregistered(entry: DeviceEntry): void;
  /** Sends a notification to a device held by another node. */
  deliver(node: string, key: string, notification: ServerNotification): void;
}

/**
 * The router of a node in a cluster: this node's devices (their sockets) and a mirror of
 * every other node's devices (`RemoteLink`s), kept up to date by the registry's events
 * and by reconciling with the registry itself (every heartbeat). Presence, delivery and
 * the sockets-per-user quota thus see the whole cluster, synchronously, as the services
 * expect of a `Router`. One `RemoteLink` object per remote socket, so that services can
 * compare links by identity (`call.participants.get(user) === link`).
 */
export class ClusterRouter implements LinkRegistry {
  private readonly byUser = new Map<UserId, Set<DeviceLink>>();
  private readonly local = new Map<string, DeviceLink>();
  private readonly keys = new WeakMap<DeviceLink, string>();
  private readonly remote = new Map<string, { link: RemoteLink; addedAt: number }>();
  /** Keys removed by an event, with when: a reconcile begun before must not bring them back. */
  private readonly tombstones = new Map<string, number>();
  private readonly goneListeners = new Set<(link: DeviceLink) => void>();
  private readonly addedListeners = new Set<(link: DeviceLink) => void>();
  private readonly logger: Logger;
  private seq = 0;
  private counter = 0;

  constructor(
    private readonly nodeId: string,
    private readonly wire: RouterWire,
    options: { logger?: Logger } = {},
  ) {
    this.logger = options.logger ?? silentLogger;
  }

  // --- LinkRegistry: this node's sockets ---------------------------------------------

  addLink(link: DeviceLink): void {
    if (this.keys.has(link)) return;
    const key = `${this.nodeId}/${++this.counter}`;
    this.keys.set(link, key);
    this.local.set(key, link);
    this.insert(link);
    this.wire.registered({ node: this.nodeId, key, userId: link.userId, deviceId: link.deviceId });
  }

  removeLink(link: DeviceLink): boolean {
    const key = this.keys.get(link);
    if (key === undefined || this.local.get(key) !== link) return false;
    this.local.delete(key);
    this.wire.unregistered({ node: this.nodeId, key, userId: link.userId, deviceId: link.deviceId });
    this.drop(link);
    return true;
  }

  // --- Router -------------------------------------------------------------------------

  devicesOf(userId: UserId): DeviceLink[] {
    return [...(this.byUser.get(userId) ?? [])];
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
    return this.byUser.has(userId);
  }

  onDeviceGone(listener: (link: DeviceLink) => void): () => void {
    return subscribe(this.goneListeners, listener);
  }

  onDeviceAdded(listener: (link: DeviceLink) => void): () => void {
    return subscribe(this.addedListeners, listener);
  }

  // --- the cluster's side -------------------------------------------------------------

  /** This node's devices, to write to the registry again (after Redis came back). */
  localEntries(): DeviceEntry[] {
    return [...this.local].map(([key, link]) => ({ node: this.nodeId, key, userId: link.userId, deviceId: link.deviceId }));
  }

  /** The cluster key of a device of this node or of a mirrored one; undefined for an unknown link. */
  keyOf(link: DeviceLink): string | undefined {
    return this.keys.get(link);
  }

  /** Writes a notification to a socket of this node (sent here by another node). False when the socket is gone. */
  deliverLocal(key: string, notification: ServerNotification): boolean {
    const link = this.local.get(key);
    if (!link) return false;
    try {
      link.send(notification);
    } catch (error) {
      this.logger.warn({ event: 'sendFailed', err: error, userId: link.userId, deviceId: link.deviceId, type: notification.type }, 'could not send to a device');
    }
    return true;
  }

  /** Another node's device came online (an event, or a request forwarded from it). Returns its link. */
  remoteAdded(entry: DeviceEntry): DeviceLink {
    if (entry.node === this.nodeId) return this.local.get(entry.key) ?? this.placeholder(entry);
    const known = this.remote.get(entry.key);
    if (known) return known.link;
    if (this.tombstones.has(entry.key)) return this.placeholder(entry);
    const link = new RemoteLink(entry.userId, entry.deviceId, entry.node, entry.key, this.wire.deliver);
    this.keys.set(link, entry.key);
    this.remote.set(entry.key, { link, addedAt: ++this.seq });
    this.insert(link);
    return link;
  }

  /**
   * The link of a device saved with a call or room: this node's socket or a mirrored one
   * while it is connected; otherwise a link that reaches nobody, not counted as online.
   */
  linkOf(entry: DeviceEntry): { link: DeviceLink; online: boolean } {
    const link = entry.node === this.nodeId ? this.local.get(entry.key) : this.remote.get(entry.key)?.link;
    return link ? { link, online: true } : { link: this.placeholder(entry), online: false };
  }

  /** Another node's device went. */
  remoteRemoved(key: string): void {
    this.tombstones.set(key, ++this.seq);
    const known = this.remote.get(key);
    if (!known) return;
    this.remote.delete(key);
    this.drop(known.link);
  }

  /** The sequence number a reconcile takes before reading the registry. */
  mark(): number {
    return ++this.seq;
  }

  /**
   * Makes the mirror match a snapshot of the registry read after `mark`: devices of the
   * snapshot come online, mirrored devices of nodes not in `keepNodes` that are not in the
   * snapshot go. Changes the events made after `mark` are not undone.
   */
  reconcile(snapshot: readonly DeviceEntry[], mark: number, keepNodes: ReadonlySet<string>): void {
    const seen = new Set<string>();
    for (const entry of snapshot) {
      if (entry.node === this.nodeId) continue;
      seen.add(entry.key);
      const removed = this.tombstones.get(entry.key);
      if (removed !== undefined) continue;
      this.remoteAdded(entry);
    }
    for (const [key, { link, addedAt }] of [...this.remote]) {
      if (seen.has(key) || keepNodes.has(link.node) || addedAt > mark) continue;
      this.remote.delete(key);
      this.drop(link);
    }
    // Keys never come back (each socket has its own), so old tombstones can go.
    for (const [key, at] of this.tombstones) if (at < mark - 10_000) this.tombstones.delete(key);
  }

  /** Nodes that hold mirrored devices now. */
  remoteNodes(): Set<string> {
    return new Set([...this.remote.values()].map((r) => r.link.node));
  }

  /** How many users have at least one device online, over the cluster. */
  get onlineUserCount(): number {
    return this.byUser.size;
  }

  private placeholder(entry: DeviceEntry): DeviceLink {
    // A device that is gone already: what it is sent is dropped by its node.
    return new RemoteLink(entry.userId, entry.deviceId, entry.node, entry.key, this.wire.deliver);
  }

  private insert(link: DeviceLink): void {
    let set = this.byUser.get(link.userId);
    if (!set) this.byUser.set(link.userId, (set = new Set()));
    set.add(link);
    this.tell(this.addedListeners, link, 'deviceAddedListenerFailed');
  }

  private drop(link: DeviceLink): void {
    const set = this.byUser.get(link.userId);
    if (!set?.delete(link)) return;
    if (set.size === 0) this.byUser.delete(link.userId);
    this.tell(this.goneListeners, link, 'deviceGoneListenerFailed');
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
}

function subscribe(listeners: Set<(link: DeviceLink) => void>, listener: (link: DeviceLink) => void): () => void {
  const subscription = (link: DeviceLink): void => listener(link);
  listeners.add(subscription);
  return () => {
    listeners.delete(subscription);
  };
}
