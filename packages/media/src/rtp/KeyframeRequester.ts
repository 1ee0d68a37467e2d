/**
 * Coalesces keyframe requests for one source: at most one request goes upstream per
 * `intervalMs`. A request that arrives inside the interval is not dropped: one request
 * is scheduled for the end of the interval, so a new sink waits at most `intervalMs`.
 */
export class KeyframeRequester {
  private lastSentAt = -Infinity;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Requests received, and requests actually sent upstream. */
  requested = 0;
  sent = 0;

  constructor(
    private readonly send: () => void,
    readonly intervalMs = 1000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  request(): void {
    if (this.closed) return;
    this.requested++;
    if (this.timer) return;
    const wait = this.lastSentAt + this.intervalMs - this.now();
    if (wait <= 0) {
      this.fire();
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.fire();
    }, wait);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private fire(): void {
    if (this.closed) return;
    this.lastSentAt = this.now();
    this.sent++;
    this.send();
  }
}
