import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import type { SharedRate } from '../net/SharedRate.js';

/**
 * Per-address message counts summed in Redis: each node adds what it let through to
 * `<p>rate:<address>:<window>` every `flushMs`, and reads back the sum over the nodes;
 * an address past `ratePerSecond × window + burst` in a window is blocked on this node
 * until the window ends. It lags by at most one flush (an address may send up to one
 * flush's worth more in all before every node refuses it), and costs one Redis round trip
 * per flush, not per message. While Redis does not answer, each node's own buckets limit.
 */
export class RedisSharedRate implements SharedRate {
  private readonly pending = new Map<string, number>();
  private readonly blockedUntil = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;
  private flushing = false;
  private closed = false;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly log: Logger,
    /** Window and flush period (ms). Default 1000. */
    private readonly windowMs = 1000,
    private readonly now: () => number = Date.now,
  ) {
    this.timer = setInterval(() => void this.flush(), Math.max(50, Math.floor(windowMs / 4)));
    this.timer.unref();
  }

  count(address: string): void {
    this.pending.set(address, (this.pending.get(address) ?? 0) + 1);
  }

  blocked(address: string): boolean {
    const until = this.blockedUntil.get(address);
    if (until === undefined) return false;
    if (until > this.now()) return true;
    this.blockedUntil.delete(address);
    return false;
  }

  /** Stops flushing. Idempotent. */
  close(): void {
    this.closed = true;
    clearInterval(this.timer);
  }

  /** Adds this node's counts to the window's sums and blocks the addresses over the rate. */
  async flush(): Promise<void> {
    if (this.flushing || this.closed || this.pending.size === 0) return;
    this.flushing = true;
    const window = Math.floor(this.now() / this.windowMs);
    const counts = [...this.pending];
    this.pending.clear();
    try {
      const multi = this.redis.multi();
      for (const [address, n] of counts) {
        const key = `${this.prefix}${address}:${window}`;
        multi.incrby(key, n).pexpire(key, this.windowMs * 3);
      }
      const replies = (await multi.exec()) ?? [];
      const allowed = (this.ratePerSecond * this.windowMs) / 1000 + this.burst;
      counts.forEach(([address], i) => {
        const total = Number(replies[i * 2]?.[1] ?? 0);
        if (total > allowed) this.blockedUntil.set(address, (window + 1) * this.windowMs);
      });
    } catch (error) {
      this.log.debug({ event: 'sharedRateUnflushed', err: error }, 'Redis did not take the message counts: each node limits on its own');
    } finally {
      this.flushing = false;
    }
  }
}
