/** Small statistics helpers: percentiles of a histogram, median and spread of runs. */
import { DELAY_BUCKET_US } from './ipc.js';

/** The `q`-quantile (0..1) of a histogram of DELAY_BUCKET_US buckets, in ms (bucket middle); NaN when empty. */
export function histogramQuantileMs(histogram: Map<number, number>, q: number): number {
  const total = [...histogram.values()].reduce((a, b) => a + b, 0);
  if (total === 0) return Number.NaN;
  const rank = Math.ceil(q * total);
  let seen = 0;
  for (const bucket of [...histogram.keys()].sort((a, b) => a - b)) {
    seen += histogram.get(bucket)!;
    if (seen >= rank) return ((bucket + 0.5) * DELAY_BUCKET_US) / 1000;
  }
  return Number.NaN;
}

export function mergeHistograms(parts: Array<Record<string, number>>): Map<number, number> {
  const out = new Map<number, number>();
  for (const part of parts) for (const [k, v] of Object.entries(part)) out.set(Number(k), (out.get(Number(k)) ?? 0) + v);
  return out;
}

export function quantile(values: number[], q: number): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export const median = (values: number[]): number => quantile(values, 0.5);

export interface Spread {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function spread(values: number[]): Spread {
  const finite = values.filter((v) => Number.isFinite(v));
  return { median: median(finite), min: finite.length ? Math.min(...finite) : Number.NaN, max: finite.length ? Math.max(...finite) : Number.NaN, n: finite.length };
}
