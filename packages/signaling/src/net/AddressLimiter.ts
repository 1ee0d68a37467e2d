import type { SharedRate } from './SharedRate.js';
import { TokenBucket } from './TokenBucket.js';

export interface AddressLimiterOptions {
  /** Sustained messages per second per remote address, over all its sockets. */
  ratePerSecond: number;
  /** Messages an address may send at once above the rate. */
  burst: number;
  /** Buckets kept at most; beyond it, full (idle) buckets are dropped first. Default 10000. */
  maxAddresses?: number;
  now?: () => number;
  /** The same rate counted over every signaling node too (Redis). Default: this node only. */
  shared?: SharedRate;
}

/**
 * Token buckets by remote address, shared by every socket of an endpoint, so that
 * opening more sockets does not multiply what one address may send. A bucket that has
 * refilled is as good as a new one, so idle addresses are forgotten and the map stays
 * small.
 */
export class AddressLimiter {
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly maxAddresses: number;

  constructor(private readonly options: AddressLimiterOptions) {
    this.maxAddresses = options.maxAddresses ?? 10_000;
    // Checks the numbers now rather than at the first message.
    new TokenBucket(options.ratePerSecond, options.burst);
  }

  /** Addresses with a bucket (for tests and metrics). */
  get size(): number {
    return this.buckets.size;
  }

  /** Takes a token for `address`; false when the address is over its rate. */
  take(address: string): boolean {
    let bucket = this.buckets.get(address);
    if (!bucket) {
      if (this.buckets.size >= this.maxAddresses) this.prune();
      bucket = new TokenBucket(this.options.ratePerSecond, this.options.burst, this.options.now);
      this.buckets.set(address, bucket);
    }
    if (this.options.shared?.blocked(address)) return false;
    const taken = bucket.take();
    if (taken) this.options.shared?.count(address);
    return taken;
  }

  /** Forgets the buckets that are full again; if none is, the oldest. */
  prune(): void {
    for (const [address, bucket] of this.buckets) if (bucket.isFull()) this.buckets.delete(address);
    if (this.buckets.size >= this.maxAddresses) {
      const oldest = this.buckets.keys().next();
      if (!oldest.done) this.buckets.delete(oldest.value);
    }
  }
}
