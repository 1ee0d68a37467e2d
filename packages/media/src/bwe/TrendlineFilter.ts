/**
 * The trend of the one-way delay (GCC's trendline estimator, as libwebrtc's goog_cc
 * does it): the accumulated delay variation is smoothed, and the slope of a linear
 * fit over the last `windowSize` points (delay against arrival time) says whether
 * the queue grows (positive), holds or drains. The slope is scaled by the number of
 * samples seen (up to 60) and a gain, so that it can be compared with the overuse
 * detector's threshold in ms.
 */
export class TrendlineFilter {
  private accumulated = 0;
  private smoothed = 0;
  private firstArrival: number | undefined;
  private readonly points: Array<{ x: number; y: number }> = [];
  private deltas = 0;
  private trend = 0;

  constructor(
    private readonly windowSize = 20,
    private readonly smoothing = 0.9,
    private readonly gain = 4,
  ) {}

  /** The newest modified trend (ms). */
  get value(): number {
    return this.trend;
  }

  /** How many deltas it has seen (capped at 1000). */
  get samples(): number {
    return this.deltas;
  }

  /** One group delta: delay variation (ms) of the group that arrived at `arrival` (ms). Returns the modified trend. */
  update(delayVariation: number, arrival: number): number {
    this.deltas = Math.min(this.deltas + 1, 1000);
    this.firstArrival ??= arrival;
    this.accumulated += delayVariation;
    this.smoothed = this.smoothing * this.smoothed + (1 - this.smoothing) * this.accumulated;
    this.points.push({ x: arrival - this.firstArrival, y: this.smoothed });
    if (this.points.length > this.windowSize) this.points.shift();
    if (this.points.length === this.windowSize) {
      const slope = linearSlope(this.points);
      if (slope !== undefined) this.trend = Math.min(this.deltas, 60) * slope * this.gain;
    }
    return this.trend;
  }
}

function linearSlope(points: ReadonlyArray<{ x: number; y: number }>): number | undefined {
  let sx = 0;
  let sy = 0;
  for (const p of points) {
    sx += p.x;
    sy += p.y;
  }
  const mx = sx / points.length;
  const my = sy / points.length;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) * (p.x - mx);
  }
  return den === 0 ? undefined : num / den;
}
