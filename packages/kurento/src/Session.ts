import { randomUUID } from 'node:crypto';
import type { RemoteObject } from './RemoteObject.js';

export interface Subscription {
  id: string;
  object: RemoteObject;
  type: string;
  detach: () => void;
}

/** Where a session's notifications go while a client is attached. */
export type Deliver = (message: string) => void;

/**
 * A client session of the Kurento Protocol: the objects it created, its event
 * subscriptions, and the socket it is attached to. A detached session lives on for a
 * grace period, so that its client can come back with `connect`.
 */
export class Session {
  readonly id = randomUUID();
  readonly objects = new Set<RemoteObject>();
  readonly subscriptions = new Map<string, Subscription>();
  private deliver: Deliver | undefined;
  /** Events raised while no socket is attached, delivered when the client comes back. */
  private readonly backlog: string[] = [];
  private graceTimer: NodeJS.Timeout | undefined;

  get attached(): boolean {
    return this.deliver !== undefined;
  }

  attach(deliver: Deliver): void {
    this.deliver = deliver;
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.graceTimer = undefined;
    for (const message of this.backlog.splice(0)) deliver(message);
  }

  /** Detaches the client; `onExpire` runs if nobody reattaches within `graceMs`. */
  detach(deliver: Deliver, graceMs: number, onExpire: () => void): void {
    if (this.deliver !== deliver) return;
    this.deliver = undefined;
    this.graceTimer = setTimeout(onExpire, graceMs);
    this.graceTimer.unref();
  }

  send(message: string): void {
    if (this.deliver) {
      this.deliver(message);
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

  close(): void {
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.graceTimer = undefined;
    this.deliver = undefined;
    this.backlog.length = 0;
    this.unsubscribeAll();
  }
}
