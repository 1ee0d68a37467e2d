/** Event name -> payload type. */
export type EventMap = Record<string, unknown>;
export type Listener<T> = (payload: T) => void;

/** Where listener failures go. Default: console.error. */
export type ListenerErrorReporter = (event: string, error: unknown) => void;

const reportToConsole: ListenerErrorReporter = (event, error) => console.error(`roundtable: a '${event}' listener threw`, error);

/**
 * A small typed emitter for browsers and Node: a listener that throws is reported and
 * skipped, so one bad listener cannot break the emitter or the other listeners.
 */
export class TypedEmitter<Events extends EventMap> {
  private readonly listeners = new Map<keyof Events, Set<Listener<never>>>();

  constructor(private readonly reportError: ListenerErrorReporter = reportToConsole) {}

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as Listener<never>);
    return () => this.off(event, listener);
  }

  /** Adds a listener called at most once. */
  once<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    const off = this.on(event, (payload) => {
      off();
      listener(payload);
    });
    return off;
  }

  off<K extends keyof Events>(event: K, listener: Listener<Events[K]>): void {
    this.listeners.get(event)?.delete(listener as Listener<never>);
  }

  removeAllListeners(): void {
    this.listeners.clear();
  }

  listenerCount<K extends keyof Events>(event: K): number {
    return this.listeners.get(event)?.size ?? 0;
  }

  protected emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as Listener<Events[K]>)(payload);
      } catch (error) {
        try {
          this.reportError(String(event), error);
        } catch {
          // A failing reporter must not break the emitter either.
        }
      }
    }
  }
}
