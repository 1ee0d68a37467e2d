import type { BandwidthUsage } from './OveruseDetector.js';

export interface AimdOptions {
  startBitrate: number;
  minBitrate: number;
  maxBitrate: number;
  /** Multiplicative decrease on overuse, of the acknowledged bitrate. Default 0.85. */
  beta?: number;
}

/**
 * GCC's rate controller (draft-ietf-rmcat-gcc-02 §5.5, with libwebrtc's refinements):
 * increase while the detector says normal, hold on underuse (the queue drains), and on
 * overuse decrease to beta times what the receiver acknowledged. Increase is
 * multiplicative (8 % a second) while the rate is far from the link's known capacity
 * and additive (about a packet per response time) near it; it never goes beyond 1.5
 * times the acknowledged bitrate (plus 10 kbit/s): a rate the link never carried is not
 * claimed. Media delivered at a higher rate than the estimate without the delay growing
 * proves the link carries it: the estimate takes that rate at once.
 */
export class AimdRateControl {
  private current: number;
  private state: 'hold' | 'increase' | 'decrease' = 'increase';
  private lastChange: number | undefined;
  private lastDecrease: number | undefined;
  /** The link's capacity as seen at decreases: exponential average and normalised variance. */
  private capacity: number | undefined;
  private capacityVariance = 0.4;
  private readonly beta: number;

  constructor(private readonly options: AimdOptions) {
    this.current = clamp(options.startBitrate, options.minBitrate, options.maxBitrate);
    this.beta = options.beta ?? 0.85;
  }

  get bitrate(): number {
    return this.current;
  }

  /** Sets the estimate (a probe's result, or the loss side's reset); the capacity learned so far stays. */
  setEstimate(bitrate: number, now: number): void {
    this.current = clamp(bitrate, this.options.minBitrate, this.options.maxBitrate);
    this.lastChange = now;
  }

  /**
   * One detector decision at `now` (ms), with the bitrate the receiver acknowledged
   * recently (undefined before there is one) and the round-trip time (ms).
   */
  update(usage: BandwidthUsage, acked: number | undefined, rtt: number, now: number): number {
    this.lastChange ??= now;
    if (usage === 'overusing') {
      // Once per round trip: the effect of a decrease shows only after one.
      if (this.lastDecrease === undefined || now - this.lastDecrease >= Math.min(Math.max(rtt, 10), 200)) this.state = 'decrease';
      else this.state = 'hold';
    } else if (usage === 'underusing') {
      this.state = 'hold';
    } else if (this.state === 'hold' || this.state === 'decrease') {
      this.state = 'increase';
    }
    const dt = Math.max(0, Math.min(now - this.lastChange, 1000));
    switch (this.state) {
      case 'increase': {
        if (acked !== undefined && this.capacity !== undefined && acked > this.capacity + 3 * this.capacityStd()) this.capacity = undefined;
        let next: number;
        if (this.capacity !== undefined) {
          const responseTime = rtt + 100;
          const packetBits = 1200 * 8;
          const perSecond = Math.max(4000, (packetBits * 1000) / responseTime);
          next = this.current + (perSecond * dt) / 1000;
        } else {
          next = this.current + Math.max(1000, this.current * (Math.pow(1.08, dt / 1000) - 1));
        }
        if (acked !== undefined) {
          // Delivered without the delay growing: the link carries at least that.
          if (usage === 'normal' && acked > next) next = acked;
          const limit = 1.5 * acked + 10_000;
          if (next > limit) next = Math.max(this.current, limit);
        }
        this.current = next;
        break;
      }
      case 'decrease': {
        const base = acked ?? this.current;
        let next = this.beta * base;
        if (next > this.current && this.capacity !== undefined) next = this.beta * this.capacity;
        next = Math.min(next, this.current);
        if (acked !== undefined) this.learnCapacity(acked);
        this.current = next;
        this.lastDecrease = now;
        this.state = 'hold';
        break;
      }
      case 'hold':
        break;
    }
    this.current = clamp(this.current, this.options.minBitrate, this.options.maxBitrate);
    this.lastChange = now;
    return this.current;
  }

  private capacityStd(): number {
    // The variance is normalised in kbit/s (libwebrtc's convention).
    const kbps = (this.capacity ?? 0) / 1000;
    return Math.sqrt(this.capacityVariance * kbps) * 1000;
  }

  private learnCapacity(acked: number): void {
    const kbps = acked / 1000;
    if (this.capacity === undefined) {
      this.capacity = acked;
      return;
    }
    const capKbps = this.capacity / 1000;
    const alpha = 0.05;
    const next = (1 - alpha) * capKbps + alpha * kbps;
    const norm = Math.max(next, 1);
    this.capacityVariance = Math.max(0.4, Math.min(2.5, (1 - alpha) * this.capacityVariance + (alpha * (next - kbps) * (next - kbps)) / norm));
    this.capacity = next * 1000;
  }
}

export function clamp(value: number, min: number, max: number): number {
  return Math.max(min, Math.min(max, value));
}
