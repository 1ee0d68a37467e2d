/** How a session brings back a media link that lost its path. Every field has a default. */
export interface RecoveryOptions {
  /** How long one attempt may take to bring the link back to 'connected' before the next. Default 10000 ms. */
  attemptTimeoutMs?: number;
  /** The wait before the second attempt, doubled before each next one. Default 1000 ms. */
  backoffMs?: number;
  /** The longest wait between two attempts. Default 16000 ms. */
  maxBackoffMs?: number;
  /** Attempts before giving up (the `recovery` event says 'failed'; `retryMedia()` starts again). Default 5. */
  maxAttempts?: number;
}

/** Which of a session's links, for the `recovery` event: the sending or the receiving connection. */
export type RecoveringLink = 'sending' | 'receiving';

/** A step of a link's recovery (the session's `recovery` event). */
export interface RecoveryChange {
  link: RecoveringLink;
  /**
   * 'retrying': attempt `attempt` of `maxAttempts` starts (after `delayMs`); 'recovered':
   * the link is connected again; 'failed': every attempt failed, nothing more is tried
   * until `retryMedia()`.
   */
  state: 'retrying' | 'recovered' | 'failed';
  attempt: number;
  maxAttempts: number;
  /** The wait before this attempt (0 for the first). */
  delayMs: number;
}

export interface LinkRecoveryHooks {
  /** Makes attempt `n` (1-based): it may reject (the attempt failed at once). */
  attempt(n: number): Promise<void>;
  report(change: RecoveryChange): void;
}

const DEFAULTS: Required<RecoveryOptions> = { attemptTimeoutMs: 10_000, backoffMs: 1000, maxBackoffMs: 16_000, maxAttempts: 5 };

/**
 * The retries of one link: an attempt at once when the link is lost, then, as long as it
 * does not connect within attemptTimeoutMs, attempts after waits that double (backoffMs,
 * 2x, 4x... up to maxBackoffMs), and after maxAttempts a 'failed' state that stays until
 * retry(). Attempts run on timers of their own, never in the session's signal queue.
 */
export class LinkRecovery {
  private readonly options: Required<RecoveryOptions>;
  private attemptNo = 0;
  private running = false;
  private gaveUp = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;

  constructor(
    readonly link: RecoveringLink,
    private readonly hooks: LinkRecoveryHooks,
    options: RecoveryOptions = {},
  ) {
    this.options = { ...DEFAULTS, ...options };
  }

  /** Attempts are being made. */
  get active(): boolean {
    return this.running;
  }

  /** Every attempt failed; nothing more is tried until retry(). */
  get failed(): boolean {
    return this.gaveUp;
  }

  /** The link lost its path: starts the attempts (nothing while they run or after giving up). */
  lost(): void {
    if (this.closed || this.running || this.gaveUp) return;
    this.running = true;
    this.attemptNo = 0;
    this.run(0);
  }

  /** The link is connected: the attempts end. */
  connected(): void {
    this.clearTimer();
    if (!this.running || this.closed) return;
    this.running = false;
    this.hooks.report({ link: this.link, state: 'recovered', attempt: this.attemptNo, maxAttempts: this.options.maxAttempts, delayMs: 0 });
  }

  /** After giving up: starts the attempts again. */
  retry(): void {
    if (!this.gaveUp) return;
    this.gaveUp = false;
    this.lost();
  }

  close(): void {
    this.closed = true;
    this.running = false;
    this.clearTimer();
  }

  private run(delayMs: number): void {
    if (this.closed || !this.running) return;
    const n = ++this.attemptNo;
    this.hooks.report({ link: this.link, state: 'retrying', attempt: n, maxAttempts: this.options.maxAttempts, delayMs });
    // The attempt's time starts now; an attempt that fails at once goes to the next wait.
    this.timer = setTimeout(() => this.next(n), this.options.attemptTimeoutMs);
    this.hooks.attempt(n).catch(() => {
      if (this.attemptNo === n && this.running) {
        this.clearTimer();
        this.next(n);
      }
    });
  }

  private next(n: number): void {
    this.timer = undefined;
    if (this.closed || !this.running || this.attemptNo !== n) return;
    if (n >= this.options.maxAttempts) {
      this.running = false;
      this.gaveUp = true;
      this.hooks.report({ link: this.link, state: 'failed', attempt: n, maxAttempts: this.options.maxAttempts, delayMs: 0 });
      return;
    }
    const delayMs = Math.min(this.options.backoffMs * 2 ** (n - 1), this.options.maxBackoffMs);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.run(delayMs);
    }, delayMs);
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
