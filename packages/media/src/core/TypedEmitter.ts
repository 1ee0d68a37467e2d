/**
 * A small typed event emitter, the one of the engine and of the Kurento Protocol layer
 * (server and client; the client imports it as `@roundtable/media/events`, a file that
 * loads nothing of the engine). Listener errors are caught and reported to the
 * emitter's own reporter, or else to the `onListenerError` hook (console by default),
 * so that one bad listener cannot break the object that emits.
 */
export type EventMap = Record<string, unknown[]>;
type Listener<A extends unknown[]> = (...args: A) => void;

export class TypedEmitter<E extends EventMap> {
  private readonly listeners = new Map<keyof E, Set<Listener<never[]>>>();

  /** @param reportListenerError where this emitter's listener errors go (default: the static `onListenerError`) */
  constructor(private readonly reportListenerError?: (error: unknown, event: string) => void) {}

  on<K extends keyof E>(event: K, listener: Listener<E[K]>): this {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener as unknown as Listener<never[]>);
    return this;
  }

  once<K extends keyof E>(event: K, listener: Listener<E[K]>): this {
    const wrapper = (...args: E[K]): void => {
      this.off(event, wrapper);
      listener(...args);
    };
    return this.on(event, wrapper);
  }

  off<K extends keyof E>(event: K, listener: Listener<E[K]>): this {
    this.listeners.get(event)?.delete(listener as unknown as Listener<never[]>);
    return this;
  }

  /** Like on(), returning the function that removes the listener again. */
  subscribe<K extends keyof E>(event: K, listener: Listener<E[K]>): () => void {
    this.on(event, listener);
    return () => {
      this.off(event, listener);
    };
  }

  /** Resolves with the arguments of the next `event`, or rejects after `timeoutMs`. */
  waitFor<K extends keyof E>(event: K, timeoutMs = 30_000, predicate?: (...args: E[K]) => boolean): Promise<E[K]> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off(event, handler);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for '${String(event)}'`));
      }, timeoutMs);
      const handler = (...args: E[K]): void => {
        if (predicate && !predicate(...args)) return;
        clearTimeout(timer);
        this.off(event, handler);
        resolve(args);
      };
      this.on(event, handler);
    });
  }

  listenerCount<K extends keyof E>(event: K): number {
    return this.listeners.get(event)?.size ?? 0;
  }

  removeAllListeners(): void {
    this.listeners.clear();
  }

  emit<K extends keyof E>(event: K, ...args: E[K]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as unknown as Listener<E[K]>)(...args);
      } catch (error) {
        (this.reportListenerError ?? TypedEmitter.onListenerError)(error, String(event));
      }
    }
  }

  static onListenerError: (error: unknown, event: string) => void = (error, event) => {
    console.error(`listener for '${event}' threw`, error);
  };
}
