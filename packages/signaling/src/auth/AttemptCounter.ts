import { AttemptLimiter, type AttemptLimits, type Refusal } from './AttemptLimiter.js';

/**
 * Failure counting with back-off (AttemptLimiter's rules) behind an async surface, so
 * that the counts can live in this process (`LocalAttemptCounter`) or in Redis, shared by
 * every signaling node (`RedisAttemptCounter`): a client spreading its attempts over the
 * nodes meets the same limit as on one.
 */
export interface AttemptCounter {
  /** Why `key` may not try now; otherwise the attempt begins (it counts until `end`). One step: concurrent attempts cannot all pass the check. */
  tryBegin(key: string): Promise<Refusal | undefined>;
  /** An attempt ended: see AttemptLimiter.end. */
  end(key: string, outcome: 'failure' | 'success' | 'none'): Promise<void>;
  /** Why `key` may not try now, or undefined. */
  refusal(key: string): Promise<Refusal | undefined>;
  /** A failure without a begin. */
  record(key: string): Promise<void>;
}

/** Makes the counter of one kind of attempt (`name`: 'account', 'address', 'registration'). */
export type AttemptCounterFactory = (name: string, limits: AttemptLimits, now: () => number) => AttemptCounter;

/** The counts in this process. */
export class LocalAttemptCounter implements AttemptCounter {
  readonly limiter: AttemptLimiter;

  constructor(limits: AttemptLimits, now: () => number) {
    this.limiter = new AttemptLimiter(limits, now);
  }

  async tryBegin(key: string): Promise<Refusal | undefined> {
    const refusal = this.limiter.refusal(key);
    if (!refusal) this.limiter.begin(key);
    return refusal;
  }

  async end(key: string, outcome: 'failure' | 'success' | 'none'): Promise<void> {
    this.limiter.end(key, outcome);
  }

  async refusal(key: string): Promise<Refusal | undefined> {
    return this.limiter.refusal(key);
  }

  async record(key: string): Promise<void> {
    this.limiter.record(key);
  }
}

export const localAttemptCounters: AttemptCounterFactory = (_name, limits, now) => new LocalAttemptCounter(limits, now);
