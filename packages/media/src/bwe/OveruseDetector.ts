export type BandwidthUsage = 'normal' | 'overusing' | 'underusing';

/**
 * GCC's overuse detector with an adaptive threshold (draft-ietf-rmcat-gcc-02 §5.4,
 * 5.5): the trend above the threshold for more than 10 ms (and two samples), and not
 * falling, is overuse; below minus the threshold, underuse. The threshold follows the
 * trend's magnitude (up slowly, down faster), so that a path whose delay wobbles does
 * not look congested, and a competing TCP flow does not starve us.
 */
export class OveruseDetector {
  private threshold = 12.5;
  private lastUpdate: number | undefined;
  private timeOverusing = -1;
  private overuseCount = 0;
  private previousTrend = 0;
  private state: BandwidthUsage = 'normal';

  get usage(): BandwidthUsage {
    return this.state;
  }

  get currentThreshold(): number {
    return this.threshold;
  }

  /** One modified trend (ms) from the trendline filter; `sendDelta` of its group (ms), `now` in ms. */
  detect(trend: number, sendDelta: number, samples: number, now: number): BandwidthUsage {
    if (samples < 2) return this.state;
    if (trend > this.threshold) {
      if (this.timeOverusing === -1) this.timeOverusing = sendDelta / 2;
      else this.timeOverusing += sendDelta;
      this.overuseCount++;
      if (this.timeOverusing > 10 && this.overuseCount > 1 && trend >= this.previousTrend) {
        this.timeOverusing = 0;
        this.overuseCount = 0;
        this.state = 'overusing';
      }
    } else if (trend < -this.threshold) {
      this.timeOverusing = -1;
      this.overuseCount = 0;
      this.state = 'underusing';
    } else {
      this.timeOverusing = -1;
      this.overuseCount = 0;
      this.state = 'normal';
    }
    this.previousTrend = trend;
    this.adapt(trend, now);
    return this.state;
  }

  private adapt(trend: number, now: number): void {
    this.lastUpdate ??= now;
    const magnitude = Math.abs(trend);
    // A spike far above the threshold (a route change, a stall) is not learned from.
    if (magnitude > this.threshold + 15) {
      this.lastUpdate = now;
      return;
    }
    const k = magnitude < this.threshold ? 0.039 : 0.0087;
    const dt = Math.min(now - this.lastUpdate, 100);
    this.threshold += k * (magnitude - this.threshold) * dt;
    this.threshold = Math.max(6, Math.min(600, this.threshold));
    this.lastUpdate = now;
  }
}
