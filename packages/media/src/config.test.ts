import { describe, expect, it } from 'vitest';
import { resolveMediaConfig } from './config.js';

describe('resolveMediaConfig: bandwidthEstimation', () => {
  it('takes a start value and bounds in bits/s, and refuses what is not a whole number in range or a minimum above the maximum', () => {
    expect(resolveMediaConfig({ bandwidthEstimation: { startBitrate: 300_000, minBitrate: 50_000 } }).bandwidthEstimation).toEqual({ startBitrate: 300_000, minBitrate: 50_000 });
    expect(resolveMediaConfig({}).bandwidthEstimation).toBeUndefined();
    for (const bad of [{ startBitrate: 1.5 }, { minBitrate: 5 }, { maxBitrate: 2e9 }, { startBitrate: Number.NaN }, { minBitrate: 2_000_000, maxBitrate: 1_000_000 }]) {
      expect(() => resolveMediaConfig({ bandwidthEstimation: bad })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
  });
});
