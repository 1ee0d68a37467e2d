/**
 * A bounded first-in, first-out queue of a connection's messages with one worker loop
 * that handles them one at a time, in arrival order. Its state is the array of waiting
 * items, never more than `capacity`: a flood is refused at the door (`push` returns
 * false) instead of becoming a promise chain that grows with the backlog. The worker
 * gives the event loop a turn every `yieldEvery` items so one busy connection cannot
 * hold it.
 */
export interface MessageQueueOptions<T> {
  /** Items that may wait (the one being handled not counted). */
  capacity: number;
  /** Handles one item. A rejection is passed to `onError`; the loop goes on. */
  handle: (item: T) => Promise<void>;
  /** Told about a handler that threw or rejected. Default: ignored (handlers should not throw). */
  onError?: (error: unknown, item: T) => void;
  /** Items handled between two turns given to the event loop. Default 16. */
  yieldEvery?: number;
}

export class MessageQueue<T> {
  private readonly items: T[] = [];
  private running = false;
  private closed = false;

  constructor(private readonly options: MessageQueueOptions<T>) {
    if (!(options.capacity >= 1)) throw new RangeError('a message queue needs a capacity of at least 1');
  }

  /** Items waiting (the one being handled not counted). */
  get length(): number {
    return this.items.length;
  }

  /** True while an item is being handled. */
  get busy(): boolean {
    return this.running;
  }

  /** Queues an item; false (and nothing queued) when the queue is full or closed. */
  push(item: T): boolean {
    if (this.closed || this.items.length >= this.options.capacity) return false;
    this.items.push(item);
    if (!this.running) void this.run();
    return true;
  }

  /** Drops what waits; the item being handled finishes. Idempotent. */
  close(): void {
    this.closed = true;
    this.items.length = 0;
  }

  private async run(): Promise<void> {
    this.running = true;
    const yieldEvery = this.options.yieldEvery ?? 16;
    let handled = 0;
    try {
      while (!this.closed && this.items.length > 0) {
        const item = this.items.shift() as T;
        try {
          await this.options.handle(item);
        } catch (error) {
          this.options.onError?.(error, item);
        }
        if (++handled % yieldEvery === 0) await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } finally {
      this.running = false;
    }
  }
}
