export interface AttemptLimits {
  /** Failures (counting those still being checked) after which the key is locked. */
  maxFailures: number;
  /** The failure count drops by one per this much quiet time (ms): the limit decays. */
  decayMs: number;
  /** First lock-out (ms); each further lock-out before the count has decayed doubles it. */
  lockMs: number;
  /** Longest lock-out (ms). */
  maxLockMs: number;
}

interface Entry {
  /** Failures, decaying. */
  failures: number;
  /** Attempts begun and not yet ended (they count as failures until they end). */
  pending: number;
  /** Lock-outs in a row: the exponent of the back-off. */
  level: number;
  lockedUntil: number;
  /** When `failures` was last brought up to date. */
  updatedAt: number;
}

/** Why an attempt may not begin, and for how long. */
export interface Refusal {
  retryAfterMs: number;
}

/** At most this many keys are remembered; beyond it the oldest are forgotten first. */
const MAX_KEYS = 100_000;

/**
 * Failure counting with back-off, per key (an account, an address): after `maxFailures`
 * failures the key is locked for `lockMs`, then each failure while the count is still
 * high locks it for twice as long (up to `maxLockMs`). The count decays by one per
 * `decayMs` of quiet (not while locked), and a key back at zero is forgotten. Attempts
 * still in progress count as failures, so a burst of concurrent attempts cannot get
 * past the limit before the first of them has failed.
 */
export class AttemptLimiter {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly limits: AttemptLimits,
    private readonly now: () => number,
  ) {
    if (!(limits.maxFailures >= 1)) throw new RangeError('maxFailures must be at least 1');
    if (!(limits.decayMs > 0) || !(limits.lockMs > 0) || !(limits.maxLockMs >= limits.lockMs)) throw new RangeError('decayMs, lockMs must be positive and maxLockMs >= lockMs');
  }

  /** Keys remembered (for tests and metrics). */
  get size(): number {
    return this.entries.size;
  }

  /** Why `key` may not try now, or undefined when it may. */
  refusal(key: string): Refusal | undefined {
    const entry = this.current(key);
    if (!entry) return undefined;
    const now = this.now();
    if (entry.lockedUntil > now) return { retryAfterMs: entry.lockedUntil - now };
    if (entry.failures + entry.pending >= this.limits.maxFailures) {
      // Over the count only through attempts in progress: they end within a hash's time.
      return { retryAfterMs: entry.pending > 0 ? 1000 : this.limits.decayMs };
    }
    return undefined;
  }

  /** An attempt begins: it counts until `end` is called. */
  begin(key: string): void {
    this.entry(key).pending++;
  }

  /**
   * An attempt ended: a 'failure' adds to the count (and may lock the key), a 'success'
   * forgets the key, 'none' (e.g. refused before it was checked) only ends it.
   */
  end(key: string, outcome: 'failure' | 'success' | 'none'): void {
    const entry = this.current(key);
    if (!entry) return;
    entry.pending = Math.max(0, entry.pending - 1);
    if (outcome === 'success') this.entries.delete(key);
    else if (outcome === 'failure') this.fail(key, entry);
    else this.current(key);
  }

  /** A failure without a `begin` (e.g. a registration counted against its address). */
  record(key: string): void {
    this.fail(key, this.entry(key));
  }

  /** Forgets a key. */
  clear(key: string): void {
    this.entries.delete(key);
  }

  private fail(key: string, entry: Entry): void {
    const now = this.now();
    entry.failures++;
    entry.updatedAt = Math.max(entry.updatedAt, now);
    if (entry.failures >= this.limits.maxFailures) {
      const lock = Math.min(this.limits.maxLockMs, this.limits.lockMs * 2 ** entry.level);
      entry.level++;
      entry.lockedUntil = now + lock;
      // The decay starts when the lock ends; one more failure after it locks again, for longer.
      entry.updatedAt = entry.lockedUntil;
      entry.failures = this.limits.maxFailures - 1;
    }
    // Most recently used last: the oldest key is the first to go when the map is full.
    this.entries.delete(key);
    this.entries.set(key, entry);
    if (this.entries.size > MAX_KEYS) this.entries.delete(this.entries.keys().next().value!);
  }

  private entry(key: string): Entry {
    let entry = this.current(key);
    if (!entry) {
      entry = { failures: 0, pending: 0, level: 0, lockedUntil: 0, updatedAt: this.now() };
      this.entries.set(key, entry);
      if (this.entries.size > MAX_KEYS) this.entries.delete(this.entries.keys().next().value!);
    }
    return entry;
  }

  /** The entry of `key` with its decay applied; a key decayed to nothing is forgotten. */
  private current(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    const now = this.now();
    if (now > entry.updatedAt) {
      const steps = Math.floor((now - entry.updatedAt) / this.limits.decayMs);
      if (steps > 0) {
        entry.failures = Math.max(0, entry.failures - steps);
        entry.updatedAt += steps * this.limits.decayMs;
        if (entry.failures === 0) entry.level = 0;
      }
    }
    if (entry.failures === 0 && entry.pending === 0 && entry.lockedUntil <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }
}
