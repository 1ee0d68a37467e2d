import { randomUUID } from 'node:crypto';
import type { RemoteObject } from './RemoteObject.js';

export interface Subscription {
  id: string;
  object: RemoteObject;
  type: string;
  detach: () => void;
}

/** The connection a session is attached to: where its notifications go. */
export interface SessionOwner {
  deliver(message: string): void;
  /** False once its socket is closing or closed. */
  readonly open: boolean;
}

/**
 * A client session of the Kurento Protocol: the objects it created, its event
 * subscriptions, and the one connection it is attached to (its owner). A detached
 * session lives on for a grace period, so that its client can come back with `connect`;
 * only detaching starts that period and only attaching stops it.
 */
export class Session {
  readonly id = randomUUID();
  readonly objects = new Set<RemoteObject>();
  readonly subscriptions = new Map<string, Subscription>();
  /** Objects being created for this session (counted against its limit meanwhile). */
  reserved = 0;
  private owner: SessionOwner | undefined;
  /** Events raised while no socket is attached, delivered when the client comes back. */
  private readonly backlog: string[] = [];
  private graceTimer: NodeJS.Timeout | undefined;
  private readonly closeListeners: Array<() => void> = [];

  /** Attached to a connection whose socket is still open. */
  get attached(): boolean {
    return this.owner !== undefined && this.owner.open;
  }

  isOwnedBy(owner: SessionOwner): boolean {
    return this.owner === owner;
  }

  attach(owner: SessionOwner): void {
    this.owner = owner;
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.graceTimer = undefined;
    for (const message of this.backlog.splice(0)) owner.deliver(message);
  }

  /** Detaches its owner; `onExpire` runs if nobody reattaches within `graceMs`. Others change nothing. */
  detach(owner: SessionOwner, graceMs: number, onExpire: () => void): void {
    if (this.owner !== owner) return;
    this.owner = undefined;
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.graceTimer = setTimeout(onExpire, graceMs);
    this.graceTimer.unref();
  }

  send(message: string): void {
    // A socket that is closing (or was cut) gets nothing more: its events wait for the resume.
    if (this.owner?.open) {
      this.owner.deliver(message);
      return;
    }
    this.backlog.push(message);
    if (this.backlog.length > Session.MAX_BACKLOG) this.backlog.shift();
  }

  /** At most this many events are kept for a detached session (the oldest go first). */
  static readonly MAX_BACKLOG = 1000;

  unsubscribeAll(object?: RemoteObject): void {
    for (const [id, sub] of this.subscriptions) {
      if (object && sub.object !== object) continue;
      sub.detach();
      this.subscriptions.delete(id);
    }
  }

  /** Runs `listener` once when the session ends (expired, or the server closed). It must not throw (KurentoServer's extensions wrap theirs). */
  onClose(listener: () => void): void {
    this.closeListeners.push(listener);
  }

  close(): void {
    for (const listener of this.closeListeners.splice(0)) listener();
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.graceTimer = undefined;
    this.owner = undefined;
    this.backlog.length = 0;
    this.unsubscribeAll();
  }
}
