export interface LossBasedOptions {
  minBitrate: number;
  maxBitrate: number;
  /** Below this fraction lost the loss side does not limit. Default 0.02. */
  lowLoss?: number;
  /** At or above this fraction lost the estimate goes down (by half the fraction). Default 0.1. */
  highLoss?: number;
}

/**
 * The loss side of the estimate (GCC §6, libwebrtc's first loss-based controller): the
 * fraction of packets the feedback reports lost over a period of a second (or 200
 * packets, and at least 20): shorter periods make random loss look clean now and then. At or above `highLoss` the rate goes down to (1 - loss/2) of the
 * estimate in use, at most once per 300 ms plus a round trip; below `lowLoss` it stops
 * limiting (it climbs 8 % a second, and at least to 1.5 times what the receiver
 * acknowledged, so the delay side leads); in between it holds.
 */
export class LossBasedEstimator {
  private estimate: number;
  private expected = 0;
  private lost = 0;
  private periodStart: number | undefined;
  private lastUpdate: number | undefined;
  private lastDecrease: number | undefined;
  private lastFraction = 0;
  private readonly lowLoss: number;
  private readonly highLoss: number;

  constructor(
    private readonly options: LossBasedOptions,
    start: number,
  ) {
    this.estimate = start;
    this.lowLoss = options.lowLoss ?? 0.02;
    this.highLoss = options.highLoss ?? 0.1;
  }

  get bitrate(): number {
    return this.estimate;
  }

  /** A probe showed the link carries `bitrate`: the loss side does not hold the estimate under it. */
  raiseTo(bitrate: number): void {
    this.estimate = Math.min(this.options.maxBitrate, Math.max(this.estimate, bitrate));
  }

  /** The fraction lost of the last complete period. */
  get fractionLost(): number {
    return this.lastFraction;
  }

  /**
   * Packets of one feedback (`received` of `expected`) at `now` (ms); `inUse` is the
   * estimate in use now, `acked` what the receiver acknowledged.
   */
  update(expected: number, received: number, inUse: number, acked: number | undefined, rtt: number, now: number): number {
    this.periodStart ??= now;
    this.lastUpdate ??= now;
    this.expected += expected;
    this.lost += Math.max(0, expected - received);
    if (this.expected < 20 || (now - this.periodStart < 1000 && this.expected < 200)) return this.estimate;
    const fraction = this.lost / this.expected;
    this.lastFraction = fraction;
    this.expected = 0;
    this.lost = 0;
    this.periodStart = now;
    const dt = Math.min(now - this.lastUpdate, 1000);
    this.lastUpdate = now;
    if (fraction >= this.highLoss) {
      if (this.lastDecrease === undefined || now - this.lastDecrease >= 300 + rtt) {
        this.estimate = Math.min(this.estimate, inUse) * (1 - fraction / 2);
        this.lastDecrease = now;
      }
    } else if (fraction < this.lowLoss) {
      this.estimate = Math.max(this.estimate * Math.pow(1.08, dt / 1000) + 1000, acked !== undefined ? 1.5 * acked : 0);
    }
    this.estimate = Math.max(this.options.minBitrate, Math.min(this.options.maxBitrate, this.estimate));
    return this.estimate;
  }
}
