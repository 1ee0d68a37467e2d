import { SignalingError } from '../net/Handlers.js';

export interface HashQueueLimits {
  /** Hashes running at once. libuv's pool has 4 threads shared with file and DNS work. Default 2. */
  concurrency?: number;
  /** Hashes waiting for a turn; one more is refused with OVERLOADED. Default 64. */
  maxQueued?: number;
  /** Hashes running or waiting for one source (an address); one more is refused with TOO_MANY_ATTEMPTS. Default 16. */
  perSource?: number;
}

export const DEFAULT_HASH_QUEUE = { concurrency: 2, maxQueued: 64, perSource: 16 } as const;

/** What a refused hash tells the client to wait: about one hash's time. */
const RETRY_AFTER_MS = 1000;

/**
 * The password-hashing queue: scrypt costs 32 MiB and a pool thread for tens of ms,
 * so hashes run a few at a time, a bounded number wait, and one source (an address)
 * may hold only so many places. Waiting hashes take turns by source (round robin), so
 * a flood from one address delays another address's login by about one hash, not by
 * the flood's length; what does not fit is refused at once with an error.
 */
export class HashQueue {
  private readonly concurrency: number;
  private readonly maxQueued: number;
  private readonly perSource: number;
  private running = 0;
  private waitingCount = 0;
  /** Waiting hashes by source; the Map's order is the order of turns. */
  private readonly waiting = new Map<string, Array<() => void>>();
  private readonly bySource = new Map<string, number>();

  constructor(limits: HashQueueLimits = {}) {
    this.concurrency = limits.concurrency ?? DEFAULT_HASH_QUEUE.concurrency;
    this.maxQueued = limits.maxQueued ?? DEFAULT_HASH_QUEUE.maxQueued;
    this.perSource = limits.perSource ?? DEFAULT_HASH_QUEUE.perSource;
    if (!(this.concurrency >= 1) || !(this.maxQueued >= 0) || !(this.perSource >= 1)) throw new RangeError('concurrency and perSource must be at least 1, maxQueued at least 0');
  }

  /** Hashes running now. */
  get active(): number {
    return this.running;
  }

  /** Hashes waiting for a turn. */
  get queued(): number {
    return this.waitingCount;
  }

  /**
   * Runs `task` when a place is free. Refuses at once (nothing runs) with TOO_MANY_ATTEMPTS
   * when `source` already holds `perSource` places, or OVERLOADED when the queue is full.
   */
  async run<T>(source: string, task: () => Promise<T>): Promise<T> {
    const held = this.bySource.get(source) ?? 0;
    if (held >= this.perSource) {
      throw new SignalingError('TOO_MANY_ATTEMPTS', 'too many logins in progress from this address; wait for them to finish', RETRY_AFTER_MS);
    }
    if (this.running >= this.concurrency && this.waitingCount >= this.maxQueued) {
      throw new SignalingError('OVERLOADED', 'the server is busy checking passwords; try again in a moment', RETRY_AFTER_MS);
    }
    this.bySource.set(source, held + 1);
    try {
      if (this.running >= this.concurrency) await new Promise<void>((start) => this.enqueue(source, start));
      else this.running++;
      try {
        return await task();
      } finally {
        const next = this.dequeue();
        // The place passes to the next in turn; `running` stays the same.
        if (next) next();
        else this.running--;
      }
    } finally {
      const left = (this.bySource.get(source) ?? 1) - 1;
      if (left > 0) this.bySource.set(source, left);
      else this.bySource.delete(source);
    }
  }

  private enqueue(source: string, start: () => void): void {
    const queue = this.waiting.get(source);
    if (queue) queue.push(start);
    else this.waiting.set(source, [start]);
    this.waitingCount++;
  }

  /** The next waiting hash: the first source's oldest; that source then goes to the back. */
  private dequeue(): (() => void) | undefined {
    const first = this.waiting.entries().next();
    if (first.done) return undefined;
    const [source, queue] = first.value;
    const start = queue.shift()!;
    this.waiting.delete(source);
    if (queue.length > 0) this.waiting.set(source, queue);
    this.waitingCount--;
    return start;
  }
}
