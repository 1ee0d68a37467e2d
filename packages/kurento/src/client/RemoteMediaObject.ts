import { z } from 'zod';
import { eventSchemaOf } from './events.js';
import { KurentoErrorCode } from '../errors.js';
import { isKurentoClientError, KurentoClientError } from './KurentoClientError.js';
import { tagSchema, type Tag } from './types.js';

/** What a remote object needs from its client: the session's requests, and bookkeeping. */
export interface ObjectHost {
  /** Sends a request in the client's session; resolves with the result's `value`. */
  request(method: 'create' | 'invoke' | 'subscribe' | 'unsubscribe' | 'release', params: Record<string, unknown>): Promise<unknown>;
  register(obj: RemoteMediaObject): void;
  unregister(obj: RemoteMediaObject): void;
  /** An event payload failed its schema, or similar trouble nobody awaits. */
  reportError(error: KurentoClientError): void;
  onListenerError(error: unknown, event: string): void;
}

/** Event maps of remote classes: event name to payload. */
export type RemoteEventMap = object;

type Listener<T> = (event: T) => void;

interface EventSubscription {
  readonly listeners: Set<Listener<never>>;
  /** The server's id for the subscription, once it answered. */
  subscriptionId?: string;
  pending?: Promise<void>;
}

/**
 * A proxy of one object on the media server. It keeps no state of the server's beyond
 * its id: every read goes to the server. Once released (by `release()`, by its parent's
 * release, or by the loss of the session) every operation rejects with OBJECT_RELEASED.
 */
export abstract class RemoteMediaObject<E extends RemoteEventMap = RemoteEventMap> {
  private isReleased = false;
  private readonly children = new Set<RemoteMediaObject>();
  private readonly subscriptions = new Map<string, EventSubscription>();

  /** Made by the client or by the parent object; not meant to be constructed by applications. */
  constructor(
    protected readonly host: ObjectHost,
    /** The id the server gave the object. */
    readonly id: string,
    /** Kurento class name (`WebRtcEndpoint`, ...). */
    readonly type: string,
    /** The object this one lives in: the pipeline of an element, the hub of a port. */
    readonly parent: RemoteMediaObject | undefined,
  ) {
    host.register(this);
    if (parent?.released) this.markReleased();
    else parent?.children.add(this);
  }

  get released(): boolean {
    return this.isReleased;
  }

  /** Runs a remote operation; resolves with what it returns (undefined for none). */
  async invoke(operation: string, params: Record<string, unknown> = {}): Promise<unknown> {
    this.assertLive(operation);
    return this.host.request('invoke', { object: this.id, operation, operationParams: params });
  }

  /** Reads a property with `get<Prop>`. */
  getProperty(name: string): Promise<unknown> {
    return this.invoke(`get${capitalize(name)}`);
  }

  /** Writes a property with `set<Prop>`, whose parameter is named after the property. */
  async setProperty(name: string, value: unknown): Promise<void> {
    await this.invoke(`set${capitalize(name)}`, { [name]: value });
  }

  getName(): Promise<string> {
    return this.invokeAs(z.string(), 'getName');
  }

  setName(name: string): Promise<void> {
    return this.setProperty('name', name);
  }

  async addTag(key: string, value: string): Promise<void> {
    await this.invoke('addTag', { key, value });
  }

  async removeTag(key: string): Promise<void> {
    await this.invoke('removeTag', { key });
  }

  /** Rejects with MEDIA_OBJECT_TAG_KEY_NOT_FOUND (40110) when there is no such tag. */
  getTag(key: string): Promise<string> {
    return this.invokeAs(z.string(), 'getTag', { key });
  }

  getTags(): Promise<Tag[]> {
    return this.invokeAs(z.array(tagSchema), 'getTags');
  }

  /**
   * Releases the object on the server, and with it its children (a pipeline's elements,
   * a hub's ports). Idempotent; an object the server no longer knows counts as released.
   */
  async release(): Promise<void> {
    if (this.isReleased) return;
    try {
      await this.host.request('release', { object: this.id });
    } catch (error) {
      if (!isKurentoClientError(error, KurentoErrorCode.MEDIA_OBJECT_NOT_FOUND)) throw error;
    }
    this.markReleased();
  }

  /**
   * Adds a listener. The first listener of an event subscribes on the server; the
   * promise settles once the server answered, so await it before causing the event.
   * If the server refuses, the listener is dropped and the promise rejects.
   */
  async on<K extends keyof E & string>(event: K, listener: Listener<E[K]>): Promise<void> {
    this.assertLive(`subscribe to ${event}`);
    let sub = this.subscriptions.get(event);
    if (!sub) {
      sub = { listeners: new Set() };
      this.subscriptions.set(event, sub);
    }
    sub.listeners.add(listener as Listener<never>);
    if (sub.subscriptionId === undefined && sub.pending === undefined) sub.pending = this.subscribe(event, sub);
    try {
      await sub.pending;
    } catch (error) {
      sub.listeners.delete(listener as Listener<never>);
      throw error;
    }
  }

  /** Removes a listener; the last one of an event unsubscribes on the server. */
  async off<K extends keyof E & string>(event: K, listener: Listener<E[K]>): Promise<void> {
    const sub = this.subscriptions.get(event);
    if (!sub || !sub.listeners.delete(listener as Listener<never>)) return;
    // A subscription still being made is undone by subscribe() when it completes.
    if (sub.listeners.size > 0 || sub.pending !== undefined) return;
    this.subscriptions.delete(event);
    if (this.isReleased || sub.subscriptionId === undefined) return;
    await this.host.request('unsubscribe', { object: this.id, subscription: sub.subscriptionId });
  }

  /** Number of listeners of an event. */
  listenerCount(event: keyof E & string): number {
    return this.subscriptions.get(event)?.listeners.size ?? 0;
  }

  /**
   * Delivers one event from the server to the listeners. Called by the client.
   * @internal
   */
  dispatchEvent(type: string, data: unknown): void {
    const sub = this.subscriptions.get(type);
    if (!sub || sub.listeners.size === 0) return;
    const schema = eventSchemaOf(type);
    const checked = schema?.safeParse(data);
    if (!checked?.success) {
      this.host.reportError(new KurentoClientError('INVALID_MESSAGE', `event ${type} of ${this.id} does not have the expected shape`));
      return;
    }
    for (const listener of [...sub.listeners]) {
      try {
        (listener as Listener<unknown>)(checked.data);
      } catch (error) {
        this.host.onListenerError(error, type);
      }
    }
  }

  /**
   * Marks the object (and its children) released without asking the server: the server
   * released it already, or the session holding it is lost. Called by the client.
   * @internal
   */
  markReleased(): void {
    if (this.isReleased) return;
    this.isReleased = true;
    for (const child of [...this.children]) child.markReleased();
    this.children.clear();
    this.subscriptions.clear();
    this.parent?.children.delete(this);
    this.host.unregister(this);
  }

  /**
   * Forgets the event subscriptions, which the server dropped with a lost session.
   * @internal
   */
  dropSubscriptions(): void {
    this.subscriptions.clear();
  }

  /** Invokes an operation and checks what it returns. */
  protected async invokeAs<T>(schema: z.ZodType<T>, operation: string, params: Record<string, unknown> = {}): Promise<T> {
    const value = await this.invoke(operation, params);
    const checked = schema.safeParse(value);
    if (!checked.success) {
      throw new KurentoClientError('INVALID_MESSAGE', `${this.type}.${operation} returned an unexpected value: ${JSON.stringify(value)?.slice(0, 80)}`);
    }
    return checked.data;
  }

  /** Creates an object that lives in this one (an element of a pipeline, a port of a hub); resolves with its id. */
  protected async createChild(type: string, constructorParams: Record<string, unknown>): Promise<string> {
    this.assertLive(`create a ${type}`);
    const id = await this.host.request('create', { type, constructorParams, properties: {} });
    if (typeof id !== 'string') throw new KurentoClientError('INVALID_MESSAGE', `create ${type} returned no object id`);
    return id;
  }

  /** The id of another object to pass as a parameter; it must still be live. */
  protected refOf(other: RemoteMediaObject): string {
    other.assertLive(`pass it to ${this.type}`);
    return other.id;
  }

  private assertLive(what: string): void {
    if (this.isReleased) {
      throw new KurentoClientError('OBJECT_RELEASED', `cannot ${what}: ${this.type} ${this.id} is released`);
    }
  }

  private async subscribe(event: string, sub: EventSubscription): Promise<void> {
    try {
      const id = await this.host.request('subscribe', { object: this.id, type: event });
      if (typeof id !== 'string') throw new KurentoClientError('INVALID_MESSAGE', `subscribe to ${event} returned no subscription id`);
      sub.pending = undefined;
      if (this.subscriptions.get(event) !== sub || sub.listeners.size === 0) {
        // Everyone left (or the object was released) while the server was answering.
        if (this.subscriptions.get(event) === sub) this.subscriptions.delete(event);
        if (!this.isReleased) await this.host.request('unsubscribe', { object: this.id, subscription: id }).catch(() => undefined);
        return;
      }
      sub.subscriptionId = id;
    } catch (error) {
      sub.pending = undefined;
      if (this.subscriptions.get(event) === sub) this.subscriptions.delete(event);
      throw error;
    }
  }
}

function capitalize(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}
